//! How a finished request is classified: its [`Outcome`] and, when it failed, its [`ErrorType`]; what protocol
//! it speaks; and gRPC status codes.
//!
//! Every value here comes from a fixed set, never from free text, so labels built from them stay bounded.

mod grpc_code;

pub use grpc_code::GrpcCode;

use http::{HeaderMap, StatusCode};

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

/// Whether a request speaks HTTP or gRPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Plain HTTP.
    Http,
    /// gRPC (content-type `application/grpc*`).
    Grpc,
}

impl Protocol {
    /// gRPC when the request's content-type starts with `application/grpc`.
    pub fn of_request(headers: &HeaderMap) -> Self {
        match headers.get(http::header::CONTENT_TYPE) {
            Some(ct) if ct.as_bytes().starts_with(b"application/grpc") => Protocol::Grpc,
            _ => Protocol::Http,
        }
    }
}

/// How the response stream ended, as far as the layer saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The body yielded its last frame.
    Complete,
    /// The body or the response future was dropped before the end.
    Dropped,
    /// The inner service returned an error.
    ServiceError,
    /// The body yielded an error.
    BodyError,
    /// The inner service or body panicked.
    Panic,
}

/// Failures of the service itself, whatever the protocol.
fn service_failure(end: End) -> Option<(Outcome, Option<ErrorType>)> {
    match end {
        End::ServiceError => Some((Outcome::ServerError, Some(ErrorType::ServiceError))),
        End::BodyError => Some((Outcome::ServerError, Some(ErrorType::BodyError))),
        End::Panic => Some((Outcome::ServerError, Some(ErrorType::Panic))),
        End::Complete | End::Dropped => None,
    }
}

/// Classifies a finished HTTP request by how it ended and the status it sent.
pub(crate) fn http(end: End, status: Option<StatusCode>) -> (Outcome, Option<ErrorType>) {
    if let Some(failure) = service_failure(end) {
        return failure;
    }
    let by_status = status.and_then(|s| match s.as_u16() {
        400..=499 => Some((Outcome::ClientError, Some(ErrorType::HttpStatus(s)))),
        500..=599 => Some((Outcome::ServerError, Some(ErrorType::HttpStatus(s)))),
        _ => None,
    });
    match (by_status, end) {
        // An error status was already sent: that says more than the hang-up that may follow it.
        (Some(classified), _) => classified,
        (None, End::Dropped) => (Outcome::Cancelled, Some(ErrorType::Cancelled)),
        (None, _) => (Outcome::Ok, None),
    }
}

/// Classifies a finished gRPC call by how it ended and its status, as [`grpc_status`] resolved it.
pub(crate) fn grpc(end: End, code: Option<GrpcCode>) -> (Outcome, Option<ErrorType>) {
    if let Some(failure) = service_failure(end) {
        return failure;
    }
    match code {
        Some(GrpcCode::Ok) => (Outcome::Ok, None),
        Some(code) => (code.outcome(), Some(ErrorType::Grpc(code))),
        None => (Outcome::Cancelled, Some(ErrorType::Cancelled)),
    }
}

/// The gRPC status of a call: the one read from headers or trailers; else the gRPC spec's mapping of a non-200
/// HTTP status; else `UNKNOWN` for a call that ended without a status, and `None` for one dropped before any.
pub(crate) fn grpc_status(status: Option<StatusCode>, grpc: Option<GrpcCode>, end: End) -> Option<GrpcCode> {
    if let Some(code) = grpc {
        return Some(code);
    }
    match status {
        Some(s) if s != StatusCode::OK => Some(GrpcCode::from_http_status(s)),
        _ if end == End::Dropped => None,
        _ => Some(GrpcCode::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_classes() {
        let c = |s: u16, end| http(end, StatusCode::from_u16(s).ok());
        assert_eq!(c(200, End::Complete), (Outcome::Ok, None));
        assert_eq!(c(302, End::Complete), (Outcome::Ok, None));
        assert_eq!(c(404, End::Complete).0, Outcome::ClientError);
        assert_eq!(
            c(503, End::Complete).1.map(|e| e.as_str().to_owned()).as_deref(),
            Some("503")
        );
        assert_eq!(c(200, End::Dropped), (Outcome::Cancelled, Some(ErrorType::Cancelled)));
        assert_eq!(c(500, End::Dropped).0, Outcome::ServerError);
        assert_eq!(c(200, End::Panic), (Outcome::ServerError, Some(ErrorType::Panic)));
    }

    #[test]
    fn grpc_codes() {
        let ok = Some(StatusCode::OK);
        let c = |code, end| grpc(end, grpc_status(ok, code, end));
        assert_eq!(c(Some(GrpcCode::Ok), End::Complete), (Outcome::Ok, None));
        assert_eq!(
            c(Some(GrpcCode::InvalidArgument), End::Complete).0,
            Outcome::ClientError
        );
        assert_eq!(c(Some(GrpcCode::Internal), End::Complete).0, Outcome::ServerError);
        assert_eq!(c(Some(GrpcCode::Cancelled), End::Complete).0, Outcome::Cancelled);
        assert_eq!(
            c(None, End::Complete),
            (Outcome::ServerError, Some(ErrorType::Grpc(GrpcCode::Unknown)))
        );
        assert_eq!(c(None, End::Dropped), (Outcome::Cancelled, Some(ErrorType::Cancelled)));
        let not_found = grpc(
            End::Complete,
            grpc_status(Some(StatusCode::NOT_FOUND), None, End::Complete),
        );
        assert_eq!(not_found.1, Some(ErrorType::Grpc(GrpcCode::Unimplemented)));
    }
}
