//! Response ids that carry their own attribution: the model and variant that answered, the request's span, and
//! when, signed with a key the replicas share. Feedback that reaches another replica, minutes later, is still
//! attributed, and a client cannot forge an id to rate a model it was not served by.
//!
//! An id is `resp-` followed by the unpadded URL-safe base64 of `payload ‖ tag`, where `tag` is the first 16
//! bytes of HMAC-SHA256(key, payload) and `payload` is: version `1` (one byte); issue time in seconds since the
//! Unix epoch (8 bytes, big-endian); trace id (16 bytes) and span id (8 bytes), or without a span 16 bytes unique
//! to the answer and a zero span id (answers of the same model in the same second must not share an id); then the
//! model, the experiment and the variant, each as a length byte and UTF-8 (length 0: none). The id is signed, not
//! encrypted: its holder can read which model and variant answered.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use opentelemetry::trace::{SpanId, TraceId};

use super::quality::Unattributed;

const PREFIX: &str = "resp-";
const VERSION: u8 = 1;
const TAG_BYTES: usize = 16;
/// Version, time, trace id, span id.
const FIXED_BYTES: usize = 1 + 8 + 16 + 8;
/// How far in the future an id's issue time may be: replicas' clocks differ a little. Beyond that the id is
/// refused, since it would otherwise never expire.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// The fixed part, three names of at most 255 bytes with their lengths, the tag: nothing longer is an id.
const MAX_ID_CHARS: usize = PREFIX.len() + (FIXED_BYTES + 3 * 256 + TAG_BYTES).div_ceil(3) * 4;

/// The secret that signs response ids; every replica that may receive feedback needs the same one.
#[derive(Clone)]
pub struct FeedbackKey {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for FeedbackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FeedbackKey(..)")
    }
}

/// A key shorter than 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyTooShort(pub usize);

impl fmt::Display for KeyTooShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a feedback key needs at least 16 bytes (32 random ones recommended), got {}",
            self.0
        )
    }
}

debug_is_display!(KeyTooShort);

impl std::error::Error for KeyTooShort {}

/// What a verified response id says about the answer it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attribution {
    pub(crate) issued: SystemTime,
    /// The first bytes of the id's signature: tells ids apart (a client cannot make two ids share it).
    pub(crate) fingerprint: u64,
    pub(crate) trace: Option<(TraceId, SpanId)>,
    pub(crate) model: String,
    pub(crate) experiment: Option<(String, String)>,
}

impl FeedbackKey {
    /// A key from secret bytes (at least 16; 32 random bytes recommended).
    pub fn new(secret: &[u8]) -> Result<Self, KeyTooShort> {
        if secret.len() < 16 {
            return Err(KeyTooShort(secret.len()));
        }
        // HMAC takes keys of any length.
        let mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| KeyTooShort(secret.len()))?;
        Ok(Self { mac })
    }

    /// Signs an id for an answer issued at `issued`.
    pub(crate) fn mint(
        &self,
        issued: SystemTime,
        trace: Option<(TraceId, SpanId)>,
        model: &str,
        experiment: Option<(&str, &str)>,
    ) -> String {
        let mut payload = Vec::with_capacity(FIXED_BYTES + 64);
        payload.push(VERSION);
        let seconds = issued.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        payload.extend_from_slice(&seconds.to_be_bytes());
        let (trace_id, span_id) = trace.unwrap_or_else(unique);
        payload.extend_from_slice(&trace_id.to_bytes());
        payload.extend_from_slice(&span_id.to_bytes());
        let (e, v) = experiment.unwrap_or(("", ""));
        for name in [model, e, v] {
            // Label values are at most 128 bytes; a longer one is cut at a character boundary.
            let name = cut(name, 255);
            payload.push(name.len() as u8);
            payload.extend_from_slice(name.as_bytes());
        }
        let tag = self.tag(&payload);
        payload.extend_from_slice(&tag);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&payload))
    }

    /// Checks an id's signature and age.
    pub(crate) fn verify(&self, id: &str, now: SystemTime, max_age: Duration) -> Result<Attribution, Unattributed> {
        let encoded = id.strip_prefix(PREFIX).ok_or(Unattributed::Invalid)?;
        if id.len() > MAX_ID_CHARS {
            return Err(Unattributed::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| Unattributed::Invalid)?;
        let split = bytes.len().checked_sub(TAG_BYTES).ok_or(Unattributed::Invalid)?;
        let (payload, tag) = bytes.split_at(split);
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac.verify_truncated_left(tag).map_err(|_| Unattributed::Invalid)?;
        let fingerprint = u64::from_be_bytes(tag[..8].try_into().map_err(|_| Unattributed::Invalid)?);
        let attribution = parse(payload, fingerprint).ok_or(Unattributed::Invalid)?;
        match now.duration_since(attribution.issued) {
            Ok(age) if age > max_age => Err(Unattributed::Expired),
            Ok(_) => Ok(attribution),
            Err(ahead) if ahead.duration() <= MAX_CLOCK_SKEW => Ok(attribution),
            Err(_) => Err(Unattributed::Invalid),
        }
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_BYTES] {
        let mut mac = self.mac.clone();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

/// A signed payload's fields (the signature was checked: the layout is ours, but stay defensive).
fn parse(payload: &[u8], fingerprint: u64) -> Option<Attribution> {
    let (&version, rest) = payload.split_first()?;
    if version != VERSION || rest.len() < FIXED_BYTES - 1 {
        return None;
    }
    let seconds = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let trace_id = TraceId::from_bytes(rest[8..24].try_into().ok()?);
    let span_id = SpanId::from_bytes(rest[24..32].try_into().ok()?);
    let mut rest = &rest[32..];
    let mut names = Vec::with_capacity(3);
    for _ in 0..3 {
        let (&len, tail) = rest.split_first()?;
        let (name, tail) = tail.split_at_checked(usize::from(len))?;
        names.push(std::str::from_utf8(name).ok()?.to_owned());
        rest = tail;
    }
    let variant = names.pop()?;
    let experiment = names.pop()?;
    let model = names.pop()?;
    Some(Attribution {
        issued: UNIX_EPOCH.checked_add(Duration::from_secs(seconds))?,
        fingerprint,
        trace: (span_id != SpanId::INVALID).then_some((trace_id, span_id)),
        model,
        experiment: (!experiment.is_empty()).then_some((experiment, variant)),
    })
}

/// Ids for an answer without a span: this process's random number and a count, in the trace id's place, and no
/// span id (a span's is never zero).
fn unique() -> (TraceId, SpanId) {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    // RandomState's keys come from the operating system's random source.
    let process = *PROCESS.get_or_init(|| RandomState::new().hash_one(std::process::id()));
    let count = COUNT.fetch_add(1, Ordering::Relaxed);
    let trace_id = (u128::from(process) << 64) | u128::from(count);
    (TraceId::from(trace_id), SpanId::INVALID)
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn key(byte: u8) -> FeedbackKey {
        FeedbackKey::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn ids_round_trip_across_keys_that_are_equal() {
        let now = SystemTime::now();
        let trace = (TraceId::from_bytes([7; 16]), SpanId::from_bytes([9; 8]));
        let id = key(1).mint(now, Some(trace), "toy", Some(("rollout", "treatment")));
        assert!(id.starts_with("resp-") && id.len() < 120, "{id}");
        // Another replica, same key.
        let a = key(1).verify(&id, now + Duration::from_secs(90), DAY).unwrap();
        assert_eq!(a.model, "toy");
        assert_eq!(a.experiment, Some(("rollout".into(), "treatment".into())));
        assert_eq!(a.trace, Some(trace));
        let plain = key(1).mint(now, None, "toy", None);
        let p = key(1).verify(&plain, now, DAY).unwrap();
        assert_eq!((p.trace, p.experiment), (None, None));
        assert_ne!(p.fingerprint, a.fingerprint, "each id its own fingerprint");
        // Two answers of the same model in the same second, without a span: two ids.
        let again = key(1).mint(now, None, "toy", None);
        assert_ne!(again, plain);
        let q = key(1).verify(&again, now, DAY).unwrap();
        assert_eq!(q.trace, None);
        assert_ne!(q.fingerprint, p.fingerprint);
    }

    #[test]
    fn forged_altered_and_expired_ids_are_refused() {
        let now = SystemTime::now();
        let id = key(1).mint(now, None, "toy", Some(("rollout", "control")));
        assert_eq!(key(2).verify(&id, now, DAY), Err(Unattributed::Invalid));
        // Rate another variant: flip the variant's bytes, keep the tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&id[5..]).unwrap();
        let at = bytes.len() - TAG_BYTES - 1;
        bytes[at] ^= 1;
        let altered = format!("resp-{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(key(1).verify(&altered, now, DAY), Err(Unattributed::Invalid));
        assert_eq!(
            key(1).verify(&id, now + DAY + Duration::from_secs(1), DAY),
            Err(Unattributed::Expired)
        );
        // Dated in the future: within the replicas' clock skew it verifies; beyond, it would never expire.
        let ahead = key(1).mint(now + MAX_CLOCK_SKEW, None, "toy", None);
        assert!(key(1).verify(&ahead, now, DAY).is_ok());
        let ahead = key(1).mint(now + MAX_CLOCK_SKEW + Duration::from_secs(2), None, "toy", None);
        assert_eq!(key(1).verify(&ahead, now, DAY), Err(Unattributed::Invalid));
        let far = key(1).mint(now + 100 * 365 * DAY, None, "toy", None);
        assert_eq!(
            key(1).verify(&far, now + 50 * 365 * DAY, DAY),
            Err(Unattributed::Invalid)
        );
        for junk in ["", "resp-", "resp-!!!", "chatcmpl-123", &"resp-A".repeat(1000)] {
            assert_eq!(key(1).verify(junk, now, DAY), Err(Unattributed::Invalid), "{junk}");
        }
        assert_eq!(FeedbackKey::new(b"short").unwrap_err(), KeyTooShort(5));
    }
}
