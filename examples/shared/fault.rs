//! Demo fault injection, one spelling for the example servers and the traffic generator: a request carrying
//! `x-inferwatch-fault` (an HTTP header, or gRPC metadata) fails on purpose, after its model is known:
//! `server-error` as if the GPU fell over mid-generation (a 500 over HTTP, `INTERNAL` over gRPC), `panic` by
//! panicking in the handler (the connection or stream is cut without a response).

/// The header (and gRPC metadata key) that asks for a fault.
pub const HEADER: &str = "x-inferwatch-fault";

/// The value that asks for a server error.
pub const SERVER_ERROR: &str = "server-error";

/// The value that asks for a panic.
#[allow(dead_code)] // the servers parse it; only CI sends it
pub const PANIC: &str = "panic";

/// A fault a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // the traffic generator only sends faults
pub enum Fault {
    ServerError,
    Panic,
}

/// The fault a header value asks for, if any.
#[allow(dead_code)] // the traffic generator only sends faults
pub fn requested(value: Option<&[u8]>) -> Option<Fault> {
    match value? {
        v if v == SERVER_ERROR.as_bytes() => Some(Fault::ServerError),
        v if v == PANIC.as_bytes() => Some(Fault::Panic),
        _ => None,
    }
}
