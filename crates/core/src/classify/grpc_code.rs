//! [`GrpcCode`]: gRPC status codes, read from `grpc-status`, named as OpenTelemetry names them, and classified.

use http::{HeaderMap, StatusCode};

use super::outcome::Outcome;

/// A gRPC status code, as carried by `grpc-status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrpcCode {
    /// 0
    Ok,
    /// 1
    Cancelled,
    /// 2
    Unknown,
    /// 3
    InvalidArgument,
    /// 4
    DeadlineExceeded,
    /// 5
    NotFound,
    /// 6
    AlreadyExists,
    /// 7
    PermissionDenied,
    /// 8
    ResourceExhausted,
    /// 9
    FailedPrecondition,
    /// 10
    Aborted,
    /// 11
    OutOfRange,
    /// 12
    Unimplemented,
    /// 13
    Internal,
    /// 14
    Unavailable,
    /// 15
    DataLoss,
    /// 16
    Unauthenticated,
    /// Any other value (rendered `_OTHER`).
    Unrecognized,
}

const BY_NUMBER: [GrpcCode; 17] = [
    GrpcCode::Ok,
    GrpcCode::Cancelled,
    GrpcCode::Unknown,
    GrpcCode::InvalidArgument,
    GrpcCode::DeadlineExceeded,
    GrpcCode::NotFound,
    GrpcCode::AlreadyExists,
    GrpcCode::PermissionDenied,
    GrpcCode::ResourceExhausted,
    GrpcCode::FailedPrecondition,
    GrpcCode::Aborted,
    GrpcCode::OutOfRange,
    GrpcCode::Unimplemented,
    GrpcCode::Internal,
    GrpcCode::Unavailable,
    GrpcCode::DataLoss,
    GrpcCode::Unauthenticated,
];

impl GrpcCode {
    /// The code for a numeric value; out of range is `Unrecognized`.
    pub fn from_i32(value: i32) -> Self {
        usize::try_from(value)
            .ok()
            .and_then(|i| BY_NUMBER.get(i).copied())
            .unwrap_or(GrpcCode::Unrecognized)
    }

    /// Reads `grpc-status` from headers or trailers: `None` when absent, `Unrecognized` when not a number.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let raw = headers.get("grpc-status")?;
        let parsed = std::str::from_utf8(raw.as_bytes())
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        Some(parsed.map_or(GrpcCode::Unrecognized, GrpcCode::from_i32))
    }

    /// The gRPC spec's mapping of an HTTP status on a gRPC call that returned no `grpc-status`.
    pub fn from_http_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => GrpcCode::Internal,
            401 => GrpcCode::Unauthenticated,
            403 => GrpcCode::PermissionDenied,
            404 => GrpcCode::Unimplemented,
            429 | 502..=504 => GrpcCode::Unavailable,
            _ => GrpcCode::Unknown,
        }
    }

    /// The canonical name (`OK`, `DEADLINE_EXCEEDED`, …), or `_OTHER`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GrpcCode::Ok => "OK",
            GrpcCode::Cancelled => "CANCELLED",
            GrpcCode::Unknown => "UNKNOWN",
            GrpcCode::InvalidArgument => "INVALID_ARGUMENT",
            GrpcCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            GrpcCode::NotFound => "NOT_FOUND",
            GrpcCode::AlreadyExists => "ALREADY_EXISTS",
            GrpcCode::PermissionDenied => "PERMISSION_DENIED",
            GrpcCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            GrpcCode::FailedPrecondition => "FAILED_PRECONDITION",
            GrpcCode::Aborted => "ABORTED",
            GrpcCode::OutOfRange => "OUT_OF_RANGE",
            GrpcCode::Unimplemented => "UNIMPLEMENTED",
            GrpcCode::Internal => "INTERNAL",
            GrpcCode::Unavailable => "UNAVAILABLE",
            GrpcCode::DataLoss => "DATA_LOSS",
            GrpcCode::Unauthenticated => "UNAUTHENTICATED",
            GrpcCode::Unrecognized => crate::contract::OTHER,
        }
    }

    /// Which outcome the code means; the server-side split follows OpenTelemetry's gRPC span status rules.
    pub const fn outcome(self) -> Outcome {
        match self {
            GrpcCode::Ok => Outcome::Ok,
            GrpcCode::Cancelled => Outcome::Cancelled,
            GrpcCode::Unknown
            | GrpcCode::DeadlineExceeded
            | GrpcCode::Unimplemented
            | GrpcCode::Internal
            | GrpcCode::Unavailable
            | GrpcCode::DataLoss
            | GrpcCode::Unrecognized => Outcome::ServerError,
            _ => Outcome::ClientError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(GrpcCode::from_headers(&h), None);
        h.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(GrpcCode::from_headers(&h), Some(GrpcCode::Ok));
        h.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(GrpcCode::from_headers(&h).map(GrpcCode::as_str), Some("UNAVAILABLE"));
        h.insert("grpc-status", "99".parse().unwrap());
        assert_eq!(GrpcCode::from_headers(&h), Some(GrpcCode::Unrecognized));
        h.insert("grpc-status", "abc".parse().unwrap());
        assert_eq!(GrpcCode::from_headers(&h).map(GrpcCode::as_str), Some("_OTHER"));
        assert_eq!(GrpcCode::from_i32(-1), GrpcCode::Unrecognized);
    }
}
