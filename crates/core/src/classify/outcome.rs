//! [`Outcome`]: how a request ended, in four values.

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// 1xx–3xx, or gRPC `OK`.
    Ok,
    /// 4xx, or a gRPC code that blames the caller (`INVALID_ARGUMENT`, `NOT_FOUND`, …).
    ClientError,
    /// 5xx, an error or panic of the inner service, a failing body, or a gRPC code that blames the server
    /// (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`).
    ServerError,
    /// The response was dropped before its end (the client went away), or gRPC `CANCELLED`.
    Cancelled,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::ClientError,
        Outcome::ServerError,
        Outcome::Cancelled,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::Cancelled => "cancelled",
        }
    }
}
