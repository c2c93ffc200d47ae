//! [`InferenceLayer`] and its builder.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use metrics::Recorder;
use tower_layer::Layer;

use crate::instruments::{MetricsObserver, Sink};
use crate::label_sets::{DEFAULT_MAX_MODELS, DEFAULT_MAX_OPERATIONS, DEFAULT_MAX_ROUTES, LabelSets};
use crate::labels::LabelPolicy;
use crate::observer::Observer;
use crate::service::InferenceService;
use crate::stage::StageSink;
#[cfg(feature = "tracing")]
use crate::trace::{TraceOptions, TracingObserver};

pub(crate) struct Shared<O> {
    pub(crate) labels: Arc<LabelSets>,
    pub(crate) observer: O,
}

/// The observers [`InferenceLayerBuilder::build`] installs: metrics, and with the `tracing` feature, spans and logs.
#[cfg(feature = "tracing")]
pub type DefaultObserver = (MetricsObserver, TracingObserver);
/// The observers [`InferenceLayerBuilder::build`] installs: metrics, and with the `tracing` feature, spans and logs.
#[cfg(not(feature = "tracing"))]
pub type DefaultObserver = MetricsObserver;

/// A tower [`Layer`] that measures every request of the service it wraps: counts, in-flight, duration to the
/// end of the response body, outcome, and for inference requests time to first token, time per output token
/// and tokens. See the crate documentation for an example.
///
/// On an axum `Router`, add it with `Router::layer` (so that axum's `MatchedPath` is known to it); on tonic, with
/// `Server::builder().layer(...)`.
pub struct InferenceLayer<O = DefaultObserver> {
    shared: Arc<Shared<O>>,
}

impl<O> Clone for InferenceLayer<O> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<O> fmt::Debug for InferenceLayer<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferenceLayer")
            .field("labels", &self.shared.labels)
            .finish_non_exhaustive()
    }
}

impl InferenceLayer {
    /// A layer with default limits, recording into the global `metrics` recorder (and, with the `tracing`
    /// feature, into whatever `tracing` subscriber is installed).
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for limits, the recorder and extra observers.
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
        &self.shared.observer
    }
}

impl<S, O: Observer> Layer<S> for InferenceLayer<O> {
    type Service = InferenceService<S, O>;

    fn layer(&self, inner: S) -> Self::Service {
        InferenceService::new(inner, self.shared.clone())
    }
}

/// Configures an [`InferenceLayer`].
///
/// ```
/// use inferwatch::InferenceLayer;
/// let layer = InferenceLayer::builder()
///     .allowed_models(["llama-3-8b", "mistral-7b"])
///     .default_operation(inferwatch::operation::TEXT_COMPLETION)
///     .build();
/// # let _ = layer;
/// ```
pub struct InferenceLayerBuilder {
    models: LabelPolicy,
    max_operations: usize,
    max_routes: usize,
    default_operation: Option<String>,
    sink: Sink,
    capture_content: Option<usize>,
    #[cfg(feature = "tracing")]
    trace: TraceOptions,
}

impl fmt::Debug for InferenceLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferenceLayerBuilder")
            .field("models", &self.models)
            .finish_non_exhaustive()
    }
}

impl Default for InferenceLayerBuilder {
    fn default() -> Self {
        Self {
            models: LabelPolicy::FirstN(DEFAULT_MAX_MODELS),
            max_operations: DEFAULT_MAX_OPERATIONS,
            max_routes: DEFAULT_MAX_ROUTES,
            default_operation: None,
            sink: Sink::Global,
            capture_content: None,
            #[cfg(feature = "tracing")]
            trace: TraceOptions::default(),
        }
    }
}

impl InferenceLayerBuilder {
    /// At most `n` distinct model names become labels (first come, first kept); the rest are `_OTHER`.
    /// Default 32.
    pub fn max_models(mut self, n: usize) -> Self {
        self.models = LabelPolicy::FirstN(n);
        self
    }

    /// Only these model names become labels; the rest are `_OTHER`. Replaces [`max_models`](Self::max_models).
    pub fn allowed_models<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set: HashSet<String> = models.into_iter().map(Into::into).collect();
        self.models = LabelPolicy::AllowList(set);
        self
    }

    /// At most `n` operation names beyond the well-known ones become labels. Default 16.
    pub fn max_operations(mut self, n: usize) -> Self {
        self.max_operations = n;
        self
    }

    /// At most `n` distinct routes become labels. Routes of axum are templates, bounded by the application, but
    /// gRPC method paths are whatever clients send. Default 256.
    pub fn max_routes(mut self, n: usize) -> Self {
        self.max_routes = n;
        self
    }

    /// The operation of inference requests whose handler names none (otherwise `_OTHER`).
    pub fn default_operation(mut self, operation: impl Into<String>) -> Self {
        self.default_operation = Some(operation.into());
        self
    }

    /// Lets spans carry prompt and completion text (`gen_ai.input.messages`, `gen_ai.output.messages`), each cut
    /// to `max_chars` characters, when handlers report it with
    /// [`RequestHandle::record_prompt`] / [`RequestHandle::record_completion`]. Off by default; never in logs.
    pub fn capture_content(mut self, max_chars: usize) -> Self {
        self.capture_content = Some(max_chars);
        self
    }

    /// Whether the request span continues a trace from incoming `traceparent` / `tracestate` (the default), or
    /// always starts a new one (for public endpoints whose callers' trace ids should not be trusted).
    #[cfg(feature = "tracing")]
    pub fn accept_trace_context(mut self, accept: bool) -> Self {
        self.trace.accept_incoming = accept;
        self
    }

    /// Writes `traceparent` into response headers so that a client can find its trace. Off by default: it is the
    /// one change the layer can make to a response, and only when asked.
    #[cfg(feature = "tracing")]
    pub fn traceparent_in_response(mut self, enabled: bool) -> Self {
        self.trace.response_traceparent = enabled;
        self
    }

    /// Records into `recorder` instead of the global `metrics` recorder.
    ///
    /// Useful to keep the layer's metrics out of the global registry, or to run several isolated layers (tests).
    pub fn recorder<R: Recorder + Send + Sync + 'static>(mut self, recorder: R) -> Self {
        self.sink = Sink::Recorder(Arc::new(recorder));
        self
    }

    fn label_sets(&self, stage_sink: Option<Arc<dyn StageSink>>) -> Arc<LabelSets> {
        let mut labels = LabelSets::new(self.models.clone(), self.max_operations, self.max_routes);
        labels.default_operation = self.default_operation.as_deref().map(|op| labels.operations.get(op));
        labels.stage_sink = stage_sink;
        labels.capture_content = self.capture_content;
        Arc::new(labels)
    }

    /// The label sets and default observers, with stages recording through the metrics observer.
    fn default_parts(&self) -> (Arc<LabelSets>, DefaultObserver) {
        let metrics = MetricsObserver::new(self.sink.clone());
        let labels = self.label_sets(Some(metrics.stage_sink()));
        #[cfg(feature = "tracing")]
        let observer = (metrics, TracingObserver::new(self.trace.clone()));
        #[cfg(not(feature = "tracing"))]
        let observer = metrics;
        (labels, observer)
    }

    /// Builds the layer: metrics, and with the `tracing` feature request spans and summary log lines.
    pub fn build(self) -> InferenceLayer {
        let (labels, observer) = self.default_parts();
        InferenceLayer {
            shared: Arc::new(Shared { labels, observer }),
        }
    }

    /// Builds the layer with the default observers followed by `extra`.
    pub fn build_with<O: Observer>(self, extra: O) -> InferenceLayer<(DefaultObserver, O)> {
        let (labels, observer) = self.default_parts();
        InferenceLayer {
            shared: Arc::new(Shared {
                labels,
                observer: (observer, extra),
            }),
        }
    }

    /// Builds the layer with `observer` alone: no metrics (stages record no durations either), only what
    /// `observer` does with each request.
    pub fn build_observer<O: Observer>(self, observer: O) -> InferenceLayer<O> {
        let labels = self.label_sets(None);
        InferenceLayer {
            shared: Arc::new(Shared { labels, observer }),
        }
    }
}
