//! Triton's serialisation of BYTES tensor elements in `raw_*_contents`: a little-endian u32 length, then the bytes.
//! Shared by the server and the traffic generator.

/// One element, serialised.
pub fn encode_bytes(text: &str) -> Vec<u8> {
    let mut out = (text.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// The first element of a serialised tensor, or `None` when the contents are too short for their length.
pub fn decode_first_bytes(raw: &[u8]) -> Option<Vec<u8>> {
    let len = u32::from_le_bytes(raw.get(..4)?.try_into().ok()?) as usize;
    raw.get(4..4 + len).map(<[u8]>::to_vec)
}
