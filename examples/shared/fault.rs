//! Demo fault injection, one spelling for the example servers and the traffic generator: a request carrying
//! `x-inferwatch-fault: server-error` (an HTTP header, or gRPC metadata) fails as if the GPU fell over
//! mid-generation: a 500 over HTTP, `INTERNAL` over gRPC.

/// The header (and gRPC metadata key) that asks for a fault.
pub const HEADER: &str = "x-inferwatch-fault";

/// The value that asks for a server error.
pub const SERVER_ERROR: &str = "server-error";

/// Whether a header value asks for a server error.
#[allow(dead_code)] // the traffic generator only sends it
pub fn is_server_error(value: Option<&[u8]>) -> bool {
    value == Some(SERVER_ERROR.as_bytes())
}
