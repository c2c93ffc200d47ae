//! [`InferenceLayerBuilder`]: label limits, the recorder, and which observers the layer runs.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use super::InferenceLayer;
#[cfg(feature = "tonic")]
use super::descriptors::GrpcDescriptorError;
use super::shared::LayerState;
use crate::labels::MAX_NAME_BYTES;
use crate::labels::{BoundedLabels, LabelPolicy, MAX_ROUTE_BYTES};
use crate::observe::{LayerEvent, MetricsObserver, Observer, TracingObserver};
use crate::request::state::{DEFAULT_MAX_EVALUATORS, DEFAULT_MAX_MODELS, DEFAULT_MAX_OPERATIONS, RequestLabels};
use crate::request::{Declared, ExperimentDeclaration, ExperimentLabels};
use crate::shared_recorder::SharedRecorder;

/// Default cap on distinct routes (gRPC method paths are chosen by clients, so they need one).
const DEFAULT_MAX_ROUTES: usize = 256;

/// The observers a layer runs unless told otherwise: the metric contract, then request and stage spans with the
/// summary log line.
pub type DefaultObserver = (MetricsObserver, TracingObserver);

/// Configures an [`InferenceLayer`]: label limits and declarations, and the observers it runs (`O`).
///
/// The default observers' own settings ([`recorder`](Self::recorder), [`tracing`](Self::tracing)) exist only while the builder holds the default observers: once
/// [`observer`](Self::observer) replaces them, those settings would apply to nothing, and do not compile. Other
/// observers (prices, a drift monitor, an in-flight counter, yours) are added with [`with`](Self::with), after those
/// settings: `with` makes the observers a tuple, which those settings do not apply to.
///
/// ```
/// use inferwatch_core::InferenceLayer;
/// let layer = InferenceLayer::builder()
///     .allowed_models(["llama-3-8b", "mistral-7b"])
///     .default_operation(inferwatch_core::operation::TEXT_COMPLETION)
///     .build();
/// # let _ = layer;
/// ```
pub struct InferenceLayerBuilder<O = DefaultObserver> {
    settings: Settings,
    observer: O,
}

/// What the layer itself is told: label limits and declarations.
struct Settings {
    models: LabelPolicy,
    max_operations: usize,
    max_routes: usize,
    default_operation: Option<String>,
    operations: Vec<String>,
    grpc_methods: Vec<String>,
    /// Served gRPC methods whose request message names no model (from their descriptors).
    model_free_routes: Vec<String>,
    experiments: Vec<Declared>,
    evaluators: Vec<String>,
    max_evaluators: usize,
    #[cfg(feature = "feedback")]
    feedback_key: Option<crate::feedback::FeedbackKey>,
    http_routes: Vec<String>,
}

impl<O> fmt::Debug for InferenceLayerBuilder<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferenceLayerBuilder")
            .field("models", &self.settings.models)
            .field("max_operations", &self.settings.max_operations)
            .field("max_routes", &self.settings.max_routes)
            .finish_non_exhaustive()
    }
}

impl Default for InferenceLayerBuilder {
    fn default() -> Self {
        Self {
            settings: Settings {
                models: LabelPolicy::Sustained(DEFAULT_MAX_MODELS),
                max_operations: DEFAULT_MAX_OPERATIONS,
                max_routes: DEFAULT_MAX_ROUTES,
                default_operation: None,
                operations: Vec::new(),
                grpc_methods: Vec::new(),
                model_free_routes: Vec::new(),
                experiments: Vec::new(),
                evaluators: Vec::new(),
                max_evaluators: DEFAULT_MAX_EVALUATORS,
                #[cfg(feature = "feedback")]
                feedback_key: None,
                http_routes: Vec::new(),
            },
            observer: (MetricsObserver::new(), TracingObserver::new()),
        }
    }
}

impl<O> InferenceLayerBuilder<O> {
    /// At most `n` distinct model names become labels (default 32); the rest are `_OTHER`. Without
    /// [`allowed_models`](Self::allowed_models), names come from traffic, and clients may send any: the first half
    /// of the places go to the first names seen, the other half only to names that keep coming (8 requests
    /// within about a minute), so that one-off invented names, however many, never lock out a model that keeps
    /// serving. A client repeating the same invented names is sustained traffic too: declare the models you serve
    /// with `allowed_models` and no client can take a label at all.
    pub fn max_models(mut self, n: usize) -> Self {
        self.settings.models = LabelPolicy::Sustained(n);
        self
    }

    /// Only these model names become labels; the rest are `_OTHER`. Replaces [`max_models`](Self::max_models).
    pub fn allowed_models<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set: HashSet<String> = models.into_iter().map(Into::into).collect();
        self.settings.models = LabelPolicy::AllowList(set);
        self
    }

    /// At most `n` operation names beyond the well-known ones become labels. Default 16.
    pub fn max_operations(mut self, n: usize) -> Self {
        self.settings.max_operations = n;
        self
    }

    /// At most `n` distinct routes become labels. Routes of axum are templates, bounded by the application, but
    /// gRPC method paths are whatever clients send. Default 256.
    pub fn max_routes(mut self, n: usize) -> Self {
        self.settings.max_routes = n;
        self
    }

    /// Declares an experiment (`inferwatch_model::experiment::Experiment`, say): its name and its variants' become
    /// the only experiment and variant labels (any other is `_OTHER`), and its series exist at zero from the start.
    /// Put the experiment's layer inside this one to assign requests, or call
    /// [`RequestHandle::set_variant`](crate::RequestHandle::set_variant). Call once per experiment.
    pub fn experiment(mut self, experiment: &impl ExperimentDeclaration) -> Self {
        let variants = experiment.variant_names().into_iter().map(str::to_owned).collect();
        self.settings
            .experiments
            .push((experiment.experiment_name().to_owned(), variants));
        self
    }

    /// Quality evaluators whose scores are expected (their series exist at zero from the start); others still
    /// become labels, up to [`max_evaluators`](Self::max_evaluators) more.
    pub fn evaluators<I, S>(mut self, evaluators: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.evaluators.extend(evaluators.into_iter().map(Into::into));
        self
    }

    /// At most `n` evaluator names beyond the declared ones become labels. Default 16.
    pub fn max_evaluators(mut self, n: usize) -> Self {
        self.settings.max_evaluators = n;
        self
    }

    /// The key that signs response ids ([`RequestHandle::response_id`](crate::RequestHandle::response_id)), so
    /// that feedback on them, received by any replica with the same key, is attributed to the model and variant
    /// that answered. Without one, handles give no response id.
    #[cfg(feature = "feedback")]
    pub fn feedback_key(mut self, key: crate::feedback::FeedbackKey) -> Self {
        self.settings.feedback_key = Some(key);
        self
    }

    /// The operation of inference requests whose handler names none (otherwise `_OTHER`).
    pub fn default_operation(mut self, operation: impl Into<String>) -> Self {
        self.settings.default_operation = Some(operation.into());
        self
    }

    /// The operations the server performs (`gen_ai.operation.name`, e.g. [`operation::CHAT`]): always labels,
    /// and their series for each allowed model exist at zero from the start. Without a declaration those series
    /// are created for the default operation if one is set, otherwise for every well-known operation.
    ///
    /// [`operation::CHAT`]: crate::operation::CHAT
    pub fn operations<I, S>(mut self, operations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.operations = operations.into_iter().map(Into::into).collect();
        self
    }

    /// The gRPC methods the server serves (`/package.Service/Method`). Once any is declared, only these become
    /// `rpc_method` labels, and a call to any other method is `_OTHER` and a client error (as an HTTP 404 is),
    /// however many different ones clients invent. Without a declaration the first 256 method paths become labels.
    pub fn grpc_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for method in methods {
            let method = method.as_ref();
            let path = if method.starts_with('/') {
                method.to_owned()
            } else {
                format!("/{method}")
            };
            self.settings.grpc_methods.push(path);
        }
        self
    }

    /// Declares every method of the services in these encoded `FileDescriptorSet`s, as
    /// [`grpc_methods`](Self::grpc_methods) does: the sets a server registers for reflection
    /// (`tonic_health::pb::FILE_DESCRIPTOR_SET`, tonic-build's or protox's output), so that no method is listed
    /// by hand. Methods whose request message has no field naming a model (`model`, `model_name`, `model_id`,
    /// `model_spec`), such as health checks and reflection, get no per-model series at start-up.
    #[cfg(feature = "tonic")]
    pub fn grpc_descriptors<'a, I>(mut self, sets: I) -> Result<Self, GrpcDescriptorError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut methods = Vec::new();
        for set in sets {
            methods.extend(super::descriptors::methods(set)?);
        }
        let (naming, not_naming): (Vec<_>, Vec<_>) = methods.into_iter().partition(|m| m.names_model);
        self.settings
            .model_free_routes
            .extend(not_naming.iter().map(|m| m.path.clone()));
        Ok(self.grpc_methods(naming.into_iter().chain(not_naming).map(|m| m.path)))
    }

    /// HTTP route templates the application serves (as given to axum's `Router::route`): their series exist from
    /// the moment the layer is built, so that a rate over the first burst counts all of it. Optional: other routes
    /// still become labels when first seen.
    pub fn http_routes<I, S>(mut self, routes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.http_routes.extend(routes.into_iter().map(Into::into));
        self
    }

    /// Replaces the observers: for a choice made at run time (metrics only, spans only, `Option`s), or your own
    /// alone.
    ///
    /// ```
    /// use inferwatch_core::InferenceLayer;
    /// use inferwatch_core::observe::TracingObserver;
    ///
    /// // Spans and log lines only, no metrics; caller trace ids ignored (a public endpoint).
    /// let layer = InferenceLayer::builder().observer(TracingObserver::new().accept_trace_context(false)).build();
    /// # let _ = layer;
    /// ```
    pub fn observer<P: Observer>(self, observer: P) -> InferenceLayerBuilder<P> {
        InferenceLayerBuilder {
            settings: self.settings,
            observer,
        }
    }

    /// Adds `observer` after the ones the builder holds (the defaults, unless replaced).
    pub fn with<P: Observer>(self, observer: P) -> InferenceLayerBuilder<(O, P)> {
        InferenceLayerBuilder {
            settings: self.settings,
            observer: (self.observer, observer),
        }
    }

    /// Builds the layer, and tells its observers the label values known now.
    pub fn build(self) -> InferenceLayer<O>
    where
        O: Observer,
    {
        let Self { settings, observer } = self;
        InferenceLayer {
            state: settings.state(observer),
        }
    }
}

impl Settings {
    fn state<O: Observer>(self, observer: O) -> Arc<LayerState<O>> {
        let mut labels = RequestLabels::new(self.models, self.max_operations, self.default_operation.as_deref());
        labels.experiments = ExperimentLabels::new(&self.experiments);
        let evaluators: Vec<&str> = self.evaluators.iter().map(String::as_str).collect();
        labels.evaluators =
            BoundedLabels::with_seeds(LabelPolicy::FirstN(self.max_evaluators), MAX_NAME_BYTES, &evaluators);
        #[cfg(feature = "feedback")]
        {
            labels.feedback_key = self.feedback_key.clone();
        }
        let operations = if !self.operations.is_empty() {
            self.operations.iter().map(|op| labels.operations.get(op)).collect()
        } else if let Some(default) = &labels.default_operation {
            vec![default.clone()]
        } else {
            labels.operations.admitted()
        };
        // Declared routes are seeds: always labels, never displaced by what clients send first.
        let declared: Vec<&str> = self
            .grpc_methods
            .iter()
            .chain(&self.http_routes)
            .map(String::as_str)
            .collect();
        let routes = BoundedLabels::with_seeds(LabelPolicy::FirstN(self.max_routes), MAX_ROUTE_BYTES, &declared);
        let admitted = routes.admitted();
        let model_routes: Vec<_> = admitted
            .iter()
            .filter(|r| !self.model_free_routes.iter().any(|free| free == r.as_str()))
            .cloned()
            .collect();
        observer.on_layer_event(&LayerEvent::Start {
            routes: &admitted,
            model_routes: &model_routes,
            models: &labels.models.allowed(),
            operations: &operations,
            experiments: &labels.experiments.declared(),
            evaluators: &labels.evaluators.admitted(),
        });
        Arc::new(LayerState {
            routes,
            grpc_methods_declared: !self.grpc_methods.is_empty(),
            labels: Arc::new(labels),
            observer,
            #[cfg(feature = "feedback")]
            rated: crate::feedback::Rated::new(crate::feedback::DEFAULT_RATED_CAPACITY),
        })
    }
}

/// The default observers' own settings.
impl InferenceLayerBuilder<DefaultObserver> {
    /// Where the default metrics observer records (default: the global `metrics` recorder).
    pub fn recorder(mut self, recorder: SharedRecorder) -> Self {
        self.observer.0 = MetricsObserver::with_recorder(recorder);
        self
    }

    /// The default tracing observer, configured (trace context in and out, content capture).
    ///
    /// ```
    /// use inferwatch_core::{InferenceLayer, observe::TracingObserver};
    /// let layer = InferenceLayer::builder()
    ///     .tracing(TracingObserver::new().accept_trace_context(false).trace_context_in_response(true))
    ///     .build();
    /// # let _ = layer;
    /// ```
    pub fn tracing(mut self, observer: TracingObserver) -> Self {
        self.observer.1 = observer;
        self
    }
}
