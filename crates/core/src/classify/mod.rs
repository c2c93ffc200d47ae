//! How a finished request is classified: its [`Outcome`] and, when it failed, its [`ErrorType`]; what protocol
//! it speaks; and gRPC status codes. This file holds the rules; the vocabulary is in the files below it.
//!
//! Every value here comes from a fixed set, never from free text, so labels built from them stay bounded.

mod error_type;
mod grpc_code;
mod outcome;
mod protocol;

pub use error_type::ErrorType;
pub use grpc_code::GrpcCode;
pub use outcome::Outcome;
pub use protocol::Protocol;

use http::StatusCode;

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
