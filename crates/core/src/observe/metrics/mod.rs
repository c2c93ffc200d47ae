//! [`MetricsObserver`]: records the metric contract for every request and stage.

pub(crate) mod cache;
mod inference;
mod quality;
mod queue;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use metrics::{Counter, Gauge, Histogram};

use super::{Event, LayerEvent, Observer, RequestInfo, RequestSummary};
use crate::classify::{ErrorType, GrpcCode, Outcome, Protocol};
use crate::contract::{self as c, OTHER};
use crate::labels::LabelValue;
use crate::operation;
use crate::shared_recorder::SharedRecorder;
use cache::HandleCache;
use inference::InferenceHandles;
use quality::QualityInstruments;
use queue::{QueueChange, QueueInstruments};

/// Model key of requests whose handler named no model (label value empty).
const NO_MODEL: u32 = u32::MAX;

/// Records the [metric contract](crate::contract) through the `metrics` facade.
///
/// Handles are registered the first time a label combination is seen and reused afterwards. With the global
/// recorder, install it before the first request: handles registered before that point at the no-op recorder.
/// Descriptions and `inferwatch_build_info` are the exporter's job
/// ([`contract::describe`](crate::contract::describe); `PrometheusBuilder`
/// calls it).
#[derive(Clone)]
pub struct MetricsObserver {
    inner: Arc<Instruments>,
}

struct Instruments {
    recorder: SharedRecorder,
    in_flight: HandleCache<u32, Gauge>,
    requests: HandleCache<(u32, u32, u8), Counter>,
    http_duration: HandleCache<(u8, u32, u16), Histogram>,
    rpc_duration: HandleCache<(u32, u8), Histogram>,
    inference: HandleCache<(u32, u32), Arc<InferenceHandles>>,
    gen_ai_errors: HandleCache<(u32, u32, u16), Histogram>,
    stages: HandleCache<(u32, u32), Histogram>,
    quality: QualityInstruments,
    queue: QueueInstruments,
}

impl fmt::Debug for MetricsObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsObserver")
            .field("recorder", &self.inner.recorder)
            .finish_non_exhaustive()
    }
}

impl Default for MetricsObserver {
    fn default() -> Self {
        Self::with_recorder(SharedRecorder::global())
    }
}

impl MetricsObserver {
    /// Records into the global `metrics` recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records into `recorder`.
    pub fn with_recorder(recorder: SharedRecorder) -> Self {
        Self {
            inner: Arc::new(Instruments {
                recorder,
                in_flight: HandleCache::default(),
                requests: HandleCache::default(),
                http_duration: HandleCache::default(),
                rpc_duration: HandleCache::default(),
                inference: HandleCache::default(),
                gen_ai_errors: HandleCache::default(),
                stages: HandleCache::default(),
                quality: QualityInstruments::default(),
                queue: QueueInstruments::default(),
            }),
        }
    }
}

impl Instruments {
    fn record_protocol_duration(&self, s: &RequestSummary<'_>, seconds: f64) {
        let route = &s.info.route;
        match s.info.protocol {
            Protocol::Http => {
                let (method_key, method) = method_label(&s.info.method);
                let status = s.status.map_or(0, |st| st.as_u16());
                let register = || {
                    let status = s.status.map(|st| st.as_str().to_owned()).unwrap_or_default();
                    self.recorder
                        .histogram(&c::HTTP_SERVER_REQUEST_DURATION, &[method, route.as_str(), &status])
                };
                self.http_duration
                    .with((method_key, route.id(), status), register, |h| h.record(seconds));
            }
            Protocol::Grpc => {
                // A call dropped before any status was sent was cancelled by its client.
                let code = s.grpc_code.unwrap_or(GrpcCode::Cancelled);
                let register = || {
                    let method = route.as_str().strip_prefix('/').unwrap_or(OTHER);
                    self.recorder
                        .histogram(&c::RPC_SERVER_CALL_DURATION, &["grpc", method, code.as_str()])
                };
                self.rpc_duration
                    .with((route.id(), code as u8), register, |h| h.record(seconds));
            }
        }
    }

    /// Records the inference metrics.
    fn record_inference(&self, s: &RequestSummary<'_>, model: (u32, &str), seconds: f64) {
        let operation = s.operation;
        let op = (operation.map_or(0, |o| o.id()), operation.map_or(OTHER, |o| o.as_str()));
        let labels = inference::Labels {
            recorder: &self.recorder,
            operation: op.1,
            model: model.1,
        };
        // Token metrics are per model, but (operation, model) pairs are few: one lookup serves them all.
        self.inference
            .with((op.0, model.0), Default::default, |handles: &Arc<InferenceHandles>| {
                match s.error_type.as_ref() {
                    None => handles.duration_ok(&labels).record(seconds),
                    Some(error) => {
                        let register = || {
                            let values = [op.1, model.1, error.as_str()];
                            self.recorder.histogram(&c::GEN_AI_SERVER_REQUEST_DURATION, &values)
                        };
                        self.gen_ai_errors
                            .with((op.0, model.0, error_key(error)), register, |h| h.record(seconds));
                    }
                }
                if let Some(ttft) = s.time_to_first_token {
                    handles.time_to_first_token(&labels).record(ttft.as_secs_f64());
                }
                if let Some(tpot) = s.time_per_output_token {
                    handles.time_per_output_token(&labels).record(tpot.as_secs_f64());
                }
                let usage = s.usage;
                for (kind, count) in [usage.input_tokens, usage.output_tokens].into_iter().enumerate() {
                    if count > 0 {
                        handles.tokens(&labels, kind).increment(count);
                        handles.request_tokens(&labels, kind).record(count as f64);
                    }
                }
            })
    }
}

impl MetricsObserver {
    /// Creates, at zero, the series of the label values known now: a series that appears with the first
    /// requests starts at their count, and `rate()` / `increase()` would miss that first burst.
    fn create_known(
        &self,
        routes: &[LabelValue],
        model_routes: &[LabelValue],
        allowed: &[LabelValue],
        operations: &[LabelValue],
    ) {
        let r = &self.inner.recorder;
        let models: Vec<&str> = allowed.iter().map(LabelValue::as_str).collect();
        for route in routes {
            r.gauge(&c::REQUESTS_IN_FLIGHT, &[route.as_str()]).increment(0.0);
            let models = if model_routes.contains(route) { &models[..] } else { &[] };
            for model in models.iter().copied().chain([""]) {
                for outcome in Outcome::ALL {
                    r.counter(&c::REQUESTS_TOTAL, &[route.as_str(), model, outcome.as_str()])
                        .increment(0);
                }
            }
        }
        self.inner.queue.create_known(r, allowed);
        for model in &models {
            for kind in inference::TOKEN_TYPES {
                r.counter(&c::TOKENS_TOTAL, &[model, kind]).increment(0);
                let _ = r.histogram(&c::REQUEST_TOKENS, &[model, kind]);
            }
            for operation in operations {
                let op = operation.as_str();
                let _ = r.histogram(&c::GEN_AI_SERVER_REQUEST_DURATION, &[op, model, ""]);
                // Embeddings produce no tokens to time.
                if op == operation::EMBEDDINGS {
                    continue;
                }
                let _ = r.histogram(&c::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, &[op, model]);
                let _ = r.histogram(&c::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN, &[op, model]);
            }
        }
    }
}

impl Instruments {
    fn record_stage(&self, name: &LabelValue, model: Option<&LabelValue>, duration: Duration) {
        let inner = self;
        let model = model.map_or((NO_MODEL, ""), |m| (m.id(), m.as_str()));
        let register = || inner.recorder.histogram(&c::STAGE_DURATION, &[name.as_str(), model.1]);
        let seconds = duration.as_secs_f64();
        inner.stages.with((name.id(), model.0), register, |h| h.record(seconds));
    }
}

impl Observer for MetricsObserver {
    /// The route's in-flight gauge, incremented at the start and decremented at the finish.
    type RequestData = Gauge;

    fn on_layer_event(&self, event: &LayerEvent<'_>) {
        match event {
            LayerEvent::Start {
                routes,
                model_routes,
                models,
                operations,
                experiments,
                evaluators,
                ..
            } => {
                self.create_known(routes, model_routes, models, operations);
                let quality = &self.inner.quality;
                quality.create_known(&self.inner.recorder, models, experiments, evaluators);
            }
            #[cfg(feature = "feedback")]
            LayerEvent::Feedback {
                rating,
                model,
                experiment,
                repeated,
                ..
            } => {
                let quality = &self.inner.quality;
                quality.record_feedback(&self.inner.recorder, *rating, model, *experiment, *repeated);
            }
        }
    }

    fn on_request(&self, info: &RequestInfo, _headers: &HeaderMap) -> Gauge {
        let inner = &*self.inner;
        let route = &info.route;
        let register = || inner.recorder.gauge(&c::REQUESTS_IN_FLIGHT, &[route.as_str()]);
        let gauge = inner.in_flight.with(route.id(), register, Gauge::clone);
        gauge.increment(1.0);
        gauge
    }

    fn on_event(&self, _request: &Gauge, event: &Event<'_>) {
        let inner = &*self.inner;
        match *event {
            Event::StageEnd {
                name, model, duration, ..
            } => inner.record_stage(name, model, duration),
            Event::QueueEntered { model, .. } => inner.queue.record(&inner.recorder, model, QueueChange::Entered),
            Event::QueueScheduled { model, waited, .. } => {
                inner
                    .queue
                    .record(&inner.recorder, model, QueueChange::Scheduled(waited));
            }
            Event::QueueAbandoned { model, .. } => inner.queue.record(&inner.recorder, model, QueueChange::Abandoned),
            Event::Score {
                evaluator,
                accepted: false,
                ..
            } => inner.quality.record_rejected(&inner.recorder, evaluator),
            Event::Score {
                evaluator,
                value,
                model,
                experiment,
                ..
            } => inner
                .quality
                .record_score(&inner.recorder, evaluator, value, model, experiment),
            _ => {}
        }
    }

    fn on_finish(&self, in_flight: &Gauge, s: &RequestSummary<'_>) {
        let inner = &*self.inner;
        in_flight.decrement(1.0);
        let seconds = s.duration.as_secs_f64();
        let model = s.inference_model().unwrap_or((NO_MODEL, ""));
        let route = &s.info.route;
        let outcome = s.outcome;
        let register = || {
            inner
                .recorder
                .counter(&c::REQUESTS_TOTAL, &[route.as_str(), model.1, outcome.as_str()])
        };
        inner
            .requests
            .with((route.id(), model.0, outcome as u8), register, |h| h.increment(1));
        inner.record_protocol_duration(s, seconds);
        if s.is_inference() {
            inner.record_inference(s, model, seconds);
        }
        inner.quality.record_finish(&inner.recorder, s, model, seconds);
    }
}

/// Standard methods keep their name; anything else is `_OTHER`, as OpenTelemetry prescribes.
fn method_label(method: &Method) -> (u8, &'static str) {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
        Method::CONNECT,
        Method::TRACE,
    ];
    const NAMES: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ];
    match KNOWN.iter().position(|m| m == method) {
        Some(i) => (i as u8, NAMES[i]),
        None => (u8::MAX, OTHER),
    }
}

/// A dense key for an error type.
fn error_key(error: &ErrorType) -> u16 {
    match error {
        ErrorType::HttpStatus(status) => status.as_u16(),
        ErrorType::Grpc(code) => 1000 + *code as u16,
        ErrorType::Cancelled => 2000,
        ErrorType::ServiceError => 2001,
        ErrorType::BodyError => 2002,
        ErrorType::Panic => 2003,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_bounded() {
        assert_eq!(method_label(&Method::POST).1, "POST");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), (u8::MAX, OTHER));
    }
}
