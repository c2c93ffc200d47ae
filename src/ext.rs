//! Reaching the [`RequestHandle`] from a request.

use crate::handle::RequestHandle;

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

pub(crate) fn from_extensions(extensions: &http::Extensions) -> RequestHandle {
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
