//! How a finished request is classified: its [`Outcome`] and, when it failed, its [`ErrorType`].
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
pub enum End {
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

/// Classifies a finished request.
///
/// `grpc` is the status read from the headers or trailers (gRPC requests only); a gRPC response that ended
/// without any status is `UNKNOWN`, and one answered with a non-200 HTTP status maps as the gRPC spec says.
pub fn classify(
    protocol: Protocol,
    end: End,
    status: Option<StatusCode>,
    grpc: Option<GrpcCode>,
) -> (Outcome, Option<ErrorType>) {
    match end {
        End::ServiceError => return (Outcome::ServerError, Some(ErrorType::ServiceError)),
        End::BodyError => return (Outcome::ServerError, Some(ErrorType::BodyError)),
        End::Panic => return (Outcome::ServerError, Some(ErrorType::Panic)),
        End::Complete | End::Dropped => {}
    }
    if protocol == Protocol::Grpc {
        let code = grpc_status(status, grpc, end);
        return match code {
            Some(GrpcCode::Ok) => (Outcome::Ok, None),
            Some(code) => (code.outcome(), Some(ErrorType::Grpc(code))),
            None => (Outcome::Cancelled, Some(ErrorType::Cancelled)),
        };
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

/// The gRPC status of a call; `None` when it was dropped before any status was known.
pub fn grpc_status(status: Option<StatusCode>, grpc: Option<GrpcCode>, end: End) -> Option<GrpcCode> {
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
        let c = |s: u16, end| classify(Protocol::Http, end, StatusCode::from_u16(s).ok(), None);
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
        let c = |code, end| classify(Protocol::Grpc, end, ok, code);
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
        let not_found = classify(Protocol::Grpc, End::Complete, Some(StatusCode::NOT_FOUND), None);
        assert_eq!(not_found.1, Some(ErrorType::Grpc(GrpcCode::Unimplemented)));
    }
}
