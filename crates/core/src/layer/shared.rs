//! What the layer's requests share ([`LayerState`]: route labels, the handler's label sets, the observer), and
//! how one request's handle reaches the observer ([`Hooks`]).

use std::sync::Arc;

use crate::labels::BoundedLabels;
use opentelemetry::trace::SpanContext;

use crate::observe::{Event, Observer};
use crate::request::hooks::ObserverHooks;
use crate::request::state::{RequestLabels, RequestState};

/// Shared by every request of one layer.
pub(crate) struct LayerState<O> {
    pub(crate) routes: BoundedLabels,
    /// gRPC methods were declared: other method paths are `_OTHER`, never admitted.
    pub(crate) grpc_methods_declared: bool,
    pub(crate) labels: Arc<RequestLabels>,
    pub(crate) observer: O,
    /// The response ids whose feedback was counted.
    #[cfg(feature = "feedback")]
    pub(crate) rated: crate::feedback::Rated,
}

/// One request's observer state, with the layer it belongs to.
pub(crate) struct Hooks<O: Observer> {
    pub(crate) layer: Arc<LayerState<O>>,
    pub(crate) data: O::RequestData,
}

/// A request's state as the layer holds it; the handle holds the same allocation as `RequestState<dyn ObserverHooks>`.
pub(crate) type ObservedRequest<O> = RequestState<Hooks<O>>;

impl<O: Observer> Hooks<O> {
    fn observer(&self) -> &O {
        &self.layer.observer
    }
}

impl<O: Observer> ObserverHooks for Hooks<O> {
    fn event(&self, event: &Event<'_>) {
        self.observer().on_event(&self.data, event);
    }

    fn span_context(&self) -> Option<SpanContext> {
        self.observer().span_context(&self.data)
    }
}

#[cfg(feature = "feedback")]
impl<O: Observer> crate::feedback::FeedbackSink for LayerState<O> {
    fn labels(&self) -> &RequestLabels {
        &self.labels
    }

    fn rated(&self) -> &crate::feedback::Rated {
        &self.rated
    }

    fn record(&self, event: &crate::observe::LayerEvent<'_>) {
        self.observer.on_layer_event(event);
    }
}
