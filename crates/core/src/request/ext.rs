//! Reaching the [`RequestHandle`] from a request: [`InferenceRequestExt`], and the axum extractor.

use std::sync::atomic::{AtomicBool, Ordering};

use super::handle::RequestHandle;
use crate::contract::{self as c, OTHER};
use crate::shared_recorder::SharedRecorder;

/// Gives a request its inference handle: implemented for `http::Request` and, with the `tonic` feature, for
/// `tonic::Request`.
///
/// ```
/// use inferwatch_core::InferenceRequestExt;
/// let request = http::Request::new(());
/// let handle = request.inference();
/// handle.set_model("toy");
/// handle.add_input_tokens(3);
/// ```
pub trait InferenceRequestExt {
    /// The handle the layer attached, or a [detached](RequestHandle::detached) one when no layer is in front.
    fn inference(&self) -> RequestHandle;
}

fn from_extensions(extensions: &http::Extensions) -> RequestHandle {
    extensions
        .get::<RequestHandle>()
        .cloned()
        .unwrap_or_else(|| unmeasured(extensions))
}

/// A detached handle for a request no layer measures: a handler that asks for its handle expects one, so this is
/// a route outside the layer (added after `Router::layer`, say). Counted, and said once.
fn unmeasured(extensions: &http::Extensions) -> RequestHandle {
    static SAID: AtomicBool = AtomicBool::new(false);
    // A matched route's template is the application's own, so its values are bounded; without one, `_OTHER`.
    #[cfg(feature = "axum")]
    let route = extensions
        .get::<axum::extract::MatchedPath>()
        .map_or(OTHER, |m| m.as_str());
    #[cfg(not(feature = "axum"))]
    let route = {
        let _ = extensions;
        OTHER
    };
    SharedRecorder::global()
        .counter(&c::REQUESTS_UNMEASURED, &[route])
        .increment(1);
    if !SAID.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: c::LOG_TARGET,
            route,
            "a handler asked for its RequestHandle, but no InferenceLayer is in front of it: the request is not \
             measured (routes added after .layer() are outside it); inferwatch_requests_unmeasured_total counts \
             such requests"
        );
    }
    RequestHandle::detached()
}

impl<T> InferenceRequestExt for http::Request<T> {
    fn inference(&self) -> RequestHandle {
        from_extensions(self.extensions())
    }
}

#[cfg(feature = "tonic")]
impl<T> InferenceRequestExt for tonic::Request<T> {
    fn inference(&self) -> RequestHandle {
        from_extensions(self.extensions())
    }
}

/// Extracts the request's handle. Never rejects: without [`InferenceLayer`](crate::InferenceLayer) in front of
/// the handler it yields a [detached](RequestHandle::detached) handle, so a missing layer never changes a
/// response.
#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestHandle {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(from_extensions(&parts.extensions))
    }
}
