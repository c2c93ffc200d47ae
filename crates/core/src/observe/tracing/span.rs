//! The request and stage spans: names and attributes from the OpenTelemetry HTTP, RPC and GenAI conventions.
//!
//! What is known when the request arrives is given as span fields at creation. What it ended with is set on the
//! OpenTelemetry span in one call at the end, with values shared rather than copied (label values are `Arc<str>`,
//! codes are static), and only when the span is recording: an unsampled span is never exported.

use opentelemetry::trace::{SpanRef, Status};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use tracing::Span;
use tracing::field::Empty;

use crate::classify::{GrpcCode, Outcome, Protocol};
use crate::contract::LOG_TARGET;
use crate::labels::LabelValue;
use crate::request::{RequestInfo, RequestSummary};

/// The name of the request span (the macro below needs it as a literal), which the log lines of an unsampled
/// request carry too.
pub const REQUEST_SPAN_NAME: &str = "request";

thread_local! {
    static SPAN_NAME: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The server span of a request; `Span::none()` when no subscriber exists.
pub(super) fn request_span(info: &RequestInfo) -> Span {
    // With no subscriber anywhere, tracing's `log` feature (which axum turns on) would still build the span's
    // fields, name included, for a logger that has no use for them.
    if !tracing::dispatcher::has_been_set() {
        return Span::none();
    }
    let route = info.route.as_str();
    // The attributes the request ends with are declared as empty fields, never recorded: tracing-opentelemetry
    // sizes a span's attribute list by its fields, so that setting them at the end reallocates nothing.
    macro_rules! span {
        ($name:expr, $($fields:tt)*) => {
            tracing::info_span!(
                target: LOG_TARGET,
                parent: None,
                "request",
                otel.name = $name,
                otel.kind = "server",
                $($fields)*,
                http.response.status_code = Empty,
                rpc.response.status_code = Empty,
                gen_ai.operation.name = Empty,
                gen_ai.request.model = Empty,
                gen_ai.response.model = Empty,
                gen_ai.request.stream = Empty,
                gen_ai.usage.input_tokens = Empty,
                gen_ai.usage.output_tokens = Empty,
                gen_ai.response.time_to_first_chunk = Empty,
                gen_ai.response.finish_reasons = Empty,
                error.type = Empty,
                inferwatch.outcome = Empty,
            )
        };
    }
    match info.protocol {
        Protocol::Http if info.route.is_other() => {
            let method = info.method.as_str();
            span!(method, http.request.method = method)
        }
        Protocol::Http => {
            let method = info.method.as_str();
            // Not `format!`, whose machinery costs several times the copy; tracing-opentelemetry copies the name
            // again, so a buffer of this thread's is enough.
            SPAN_NAME.with_borrow_mut(|name| {
                name.clear();
                name.push_str(method);
                name.push(' ');
                name.push_str(route);
                span!(name.as_str(), http.request.method = method, http.route = route)
            })
        }
        Protocol::Grpc => {
            let method = route.strip_prefix('/').unwrap_or(route);
            span!(method, rpc.system.name = "grpc", rpc.method = method)
        }
    }
}

/// A stage span under the request span; `Span::none()` when the request has no span.
pub(super) fn stage_span(request: &Span, name: &str) -> Span {
    if request.is_disabled() {
        return Span::none();
    }
    tracing::info_span!(target: LOG_TARGET, parent: request, "stage", otel.name = name, inferwatch.stage = name)
}

/// Sets what the request ended with on its (recording) OpenTelemetry span, and its status.
pub(super) fn record_finish(span: &SpanRef<'_>, s: &RequestSummary<'_>) {
    let shared = |label: &LabelValue| StringValue::from(label.shared());
    let http_status = match (s.info.protocol, s.status) {
        (Protocol::Http, Some(status)) => Some(i64::from(status.as_u16())),
        _ => None,
    };
    let inference = s.is_inference();
    let (experiment, variant) = s.experiment.map_or((None, None), |(e, v)| (Some(e), Some(v)));
    // On the stack rather than in a `Vec`: one allocation less per request.
    let mut attributes = [
        http_status.map(|code| KeyValue::new("http.response.status_code", code)),
        s.grpc_code
            .map(|code| KeyValue::new("rpc.response.status_code", code.as_str())),
        s.operation.map(|op| KeyValue::new("gen_ai.operation.name", shared(op))),
        s.model
            .map(|model| KeyValue::new("gen_ai.request.model", shared(model))),
        s.response_model
            .map(|model| KeyValue::new("gen_ai.response.model", shared(model))),
        s.response_id
            .map(|id| KeyValue::new("gen_ai.response.id", id.to_owned())),
        experiment.map(|e| KeyValue::new("inferwatch.experiment.name", shared(e))),
        variant.map(|v| KeyValue::new("inferwatch.experiment.variant", shared(v))),
        inference.then(|| KeyValue::new("gen_ai.request.stream", s.streamed)),
        inference.then(|| KeyValue::new("gen_ai.usage.input_tokens", as_i64(s.usage.input_tokens))),
        inference.then(|| KeyValue::new("gen_ai.usage.output_tokens", as_i64(s.usage.output_tokens))),
        s.time_to_first_token
            .map(|ttft| KeyValue::new("gen_ai.response.time_to_first_chunk", ttft.as_secs_f64())),
        s.finish_reason.map(|reason| {
            let reasons = Array::String(vec![StringValue::from(reason.as_str())]);
            KeyValue::new("gen_ai.response.finish_reasons", Value::Array(reasons))
        }),
        s.error_type
            .map(|error| KeyValue::new("error.type", error.as_str().to_owned())),
        Some(KeyValue::new("inferwatch.outcome", s.outcome.as_str())),
    ];
    // Taken out through a reference: an iterator owning the array would be copied whole at every step down into
    // the SDK.
    span.set_attributes(attributes.iter_mut().filter_map(Option::take));
    // HTTP 4xx is the client's error and leaves the status unset; for gRPC every code but OK is an error.
    let grpc_error = s.grpc_code.is_some_and(|c| c != GrpcCode::Ok);
    if let Some(error) = &s.error_type
        && (s.outcome == Outcome::ServerError || grpc_error)
    {
        span.set_status(Status::error(error.as_str().to_owned()));
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A quality score as OpenTelemetry's GenAI evaluation event, on the request span.
pub(super) fn record_score(span: &SpanRef<'_>, evaluator: &LabelValue, value: f64, label: Option<&str>) {
    let mut attributes = vec![
        KeyValue::new("gen_ai.evaluation.name", StringValue::from(evaluator.shared())),
        KeyValue::new("gen_ai.evaluation.score.value", value),
    ];
    if let Some(label) = label {
        attributes.push(KeyValue::new("gen_ai.evaluation.score.label", label.to_owned()));
    }
    span.add_event("gen_ai.evaluation.result", attributes);
}
