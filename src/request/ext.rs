//! Reaching the [`RequestHandle`] from a request: [`InferenceRequestExt`], and the axum extractor.

use super::handle::RequestHandle;

/// Gives a request its inference handle: implemented for `http::Request` and, with the `tonic` feature, for
/// `tonic::Request`.
///
/// ```
/// use inferwatch::InferenceRequestExt;
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
        .unwrap_or_else(RequestHandle::detached)
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
