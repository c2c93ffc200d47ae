//! [`Protocol`]: whether a request speaks HTTP or gRPC, from its content type.

use http::HeaderMap;

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
