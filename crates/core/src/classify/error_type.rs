//! [`ErrorType`]: why a request failed, from a fixed set (an HTTP status, a gRPC code, or one of four ends).

use http::StatusCode;

use super::grpc_code::GrpcCode;

/// Why a request failed; rendered as the `error_type` label and the span's `error.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// An HTTP 4xx or 5xx status (rendered as the code, e.g. `503`).
    HttpStatus(StatusCode),
    /// A gRPC status other than `OK` (rendered as its name, e.g. `INTERNAL`).
    Grpc(GrpcCode),
    /// The response was dropped before its end.
    Cancelled,
    /// The inner service returned an error instead of a response.
    ServiceError,
    /// The response body yielded an error.
    BodyError,
    /// The inner service panicked.
    Panic,
}

impl ErrorType {
    /// The label value.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorType::HttpStatus(status) => status.as_str(),
            ErrorType::Grpc(code) => code.as_str(),
            ErrorType::Cancelled => "cancelled",
            ErrorType::ServiceError => "service_error",
            ErrorType::BodyError => "body_error",
            ErrorType::Panic => "panic",
        }
    }
}
