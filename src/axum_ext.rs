//! axum integration: [`RequestHandle`] as an extractor.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::handle::RequestHandle;

/// Extracts the request's handle. Never rejects: without [`InferenceLayer`](crate::InferenceLayer) in front of
/// the handler it yields a [detached](RequestHandle::detached) handle, so a missing layer never changes a
/// response.
impl<S: Send + Sync> FromRequestParts<S> for RequestHandle {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(crate::ext::from_extensions(&parts.extensions))
    }
}
