//! [`InferenceLayer`]: the tower layer, and the request lifecycle it runs (service, response future, body, and
//! the in-flight guard that finishes each request exactly once).

mod body;
mod builder;
#[cfg(feature = "tonic")]
mod descriptors;
mod future;
mod lifecycle;
mod route;
mod service;
mod shared;

pub use body::ResponseBody;
pub use builder::{DefaultObserver, InferenceLayerBuilder};
#[cfg(feature = "tonic")]
pub use descriptors::GrpcDescriptorError;
pub use future::ResponseFuture;
pub use service::InferenceService;

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::observe::Observer;
use shared::LayerState;

/// A tower [`Layer`] that measures every request of the service it wraps: counts, in-flight, duration to the
/// end of the response body, outcome, and for inference requests time to first token, time per output token
/// and tokens; with the default observers also a span per request and a summary log line. See the crate
/// documentation for an example.
///
/// On an axum `Router`, add it with `Router::layer` (so that axum's `MatchedPath` is known to it); on tonic, with
/// `Server::builder().layer(...)`.
pub struct InferenceLayer<O = DefaultObserver> {
    state: Arc<LayerState<O>>,
}

impl<O> Clone for InferenceLayer<O> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<O> fmt::Debug for InferenceLayer<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferenceLayer")
            .field("routes", &self.state.routes)
            .field("labels", &self.state.labels)
            .finish_non_exhaustive()
    }
}

impl InferenceLayer {
    /// A layer with the default observers and limits, recording into the global `metrics` recorder and whatever
    /// `tracing` subscriber is installed.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for limits, the recorder and the observers.
    pub fn builder() -> InferenceLayerBuilder {
        InferenceLayerBuilder::default()
    }
}

impl Default for InferenceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<O> InferenceLayer<O> {
    /// The observer every request is reported to.
    pub fn observer(&self) -> &O {
        &self.state.observer
    }

    /// Records users' feedback on this layer's answers through its observers, attributed with its
    /// [`feedback_key`](InferenceLayerBuilder::feedback_key) (without one, nothing is attributed).
    #[cfg(feature = "feedback")]
    pub fn feedback(&self) -> crate::feedback::Feedback
    where
        O: Observer,
    {
        crate::feedback::Feedback::new(self.state.clone())
    }
}

impl<S, O: Observer> Layer<S> for InferenceLayer<O> {
    type Service = InferenceService<S, O>;

    fn layer(&self, inner: S) -> Self::Service {
        InferenceService::new(inner, self.state.clone())
    }
}
