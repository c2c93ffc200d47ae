//! Request and stage spans, W3C trace context, and one summary log line per request (feature `tracing`).
//!
//! Spans are `tracing` spans; with `tracing-opentelemetry` in the subscriber (as
//! [`telemetry::init`](crate::telemetry) sets up) they become OpenTelemetry spans and carry trace ids.

mod propagation;

use http::HeaderMap;
use opentelemetry::trace::Status;
use opentelemetry::{Array, StringValue, Value as OtelValue};
use tracing::field::{Empty, Field, Value};
use tracing::{Level, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::classify::{Outcome, Protocol};
use crate::handle::RequestHandle;
use crate::observer::{Observer, RequestSummary};

/// The target of every span and log line inferwatch emits (filter with `RUST_LOG=inferwatch=...`).
pub const TARGET: &str = crate::LOG_TARGET;

/// How request spans treat trace context.
#[derive(Clone, Debug)]
pub(crate) struct TraceOptions {
    pub(crate) accept_incoming: bool,
    pub(crate) response_traceparent: bool,
}

impl Default for TraceOptions {
    fn default() -> Self {
        Self {
            accept_incoming: true,
            response_traceparent: false,
        }
    }
}

/// Creates a server span per request, ends it at the end of the response body, and logs one summary line.
#[derive(Clone, Debug)]
pub struct TracingObserver {
    options: TraceOptions,
}

impl TracingObserver {
    pub(crate) fn new(options: TraceOptions) -> Self {
        Self { options }
    }
}

impl Observer for TracingObserver {
    type Data = Span;

    fn on_request(&self, handle: &RequestHandle, headers: &HeaderMap) -> Span {
        let span = request_span(handle);
        if span.is_disabled() {
            return span;
        }
        if self.options.accept_incoming
            && let Some(parent) = propagation::extract(headers)
        {
            let _ = span.set_parent(parent);
        }
        handle.attach_span(span.clone());
        span
    }

    fn on_response_headers(&self, span: &Span, headers: &mut HeaderMap) {
        if self.options.response_traceparent && !span.is_disabled() {
            propagation::inject(&span.context(), headers);
        }
    }

    fn on_finish(&self, span: Span, summary: &RequestSummary<'_>) {
        if span.is_disabled() {
            // No subscriber wants spans (and none was attached); the summary line may still be wanted.
            log_summary(summary);
            return;
        }
        summary.handle.detach_span();
        record_summary(&span, summary);
        // The span's end time is its last exit: this one, at the end of the response body.
        span.in_scope(|| log_summary(summary));
    }
}

fn request_span(handle: &RequestHandle) -> Span {
    // With no subscriber anywhere, tracing's `log` feature (which axum turns on) would still build the span's
    // fields, name included, for a logger that has no use for them.
    if !tracing::dispatcher::has_been_set() {
        return Span::none();
    }
    let info = handle.info();
    let route = info.route.as_str();
    // Attributes known now are given at creation: each later `record` is a trip through the subscriber.
    macro_rules! span {
        ($name:expr, $($fields:tt)*) => {
            tracing::info_span!(
                target: TARGET,
                parent: None,
                "request",
                otel.name = $name,
                otel.kind = "server",
                // FINISH_FIELDS, in this order and at these positions in every callsite.
                http.response.status_code = Empty,
                rpc.status_code = Empty,
                gen_ai.operation.name = Empty,
                gen_ai.request.model = Empty,
                gen_ai.request.stream = Empty,
                gen_ai.usage.input_tokens = Empty,
                gen_ai.usage.output_tokens = Empty,
                gen_ai.server.time_to_first_token = Empty,
                error.type = Empty,
                inferwatch.outcome = Empty,
                $($fields)*
            )
        };
    }
    match info.protocol {
        Protocol::Http if info.route.is_other() => {
            let method = info.method.as_str();
            span!(method, http.request.method = method,)
        }
        Protocol::Http => {
            let method = info.method.as_str();
            span!(
                format!("{method} {route}"),
                http.request.method = method,
                http.route = route,
            )
        }
        Protocol::Grpc => {
            let method = route.strip_prefix('/').unwrap_or(route);
            span!(method, rpc.system.name = "grpc", rpc.method = method,)
        }
    }
}

/// Where the fields recorded at the end sit in each request span's field set (after `otel.name`, `otel.kind`).
const FINISH_FIELDS: std::ops::Range<usize> = 2..12;

fn record_summary(span: &Span, s: &RequestSummary<'_>) {
    let Some(meta) = span.metadata() else { return };
    let fields: Vec<Field> = meta
        .fields()
        .iter()
        .skip(FINISH_FIELDS.start)
        .take(FINISH_FIELDS.len())
        .collect();
    let [
        status,
        rpc_status,
        operation,
        model,
        stream,
        input,
        output,
        ttft,
        error,
        outcome,
    ] = fields.as_slice()
    else {
        return;
    };
    debug_assert_eq!(status.name(), "http.response.status_code");
    debug_assert_eq!(outcome.name(), "inferwatch.outcome");
    let r = &s.reported;
    let http_status = s
        .status
        .filter(|_| s.info.protocol == Protocol::Http)
        .map(|st| i64::from(st.as_u16()));
    let inference = s.is_inference();
    // tracing-opentelemetry exports u64 as strings; OpenTelemetry wants ints.
    let (tokens_in, tokens_out) = (as_i64(r.usage.input_tokens), as_i64(r.usage.output_tokens));
    let ttft_seconds = s.time_to_first_token.map(|d| d.as_secs_f64());
    let grpc_code = s.grpc_code.map(|c| c.as_str());
    let (op_name, model_name) = (r.operation.map(|o| o.as_str()), r.model.map(|m| m.as_str()));
    let error_name = s.error_type.as_ref().map(|e| e.as_str());
    let outcome_name = s.outcome.as_str();
    fn dyn_value<T: Value>(v: &Option<T>) -> Option<&dyn Value> {
        v.as_ref().map(|v| v as &dyn Value)
    }
    let values = [
        (status, dyn_value(&http_status)),
        (rpc_status, dyn_value(&grpc_code)),
        (operation, dyn_value(&op_name)),
        (model, dyn_value(&model_name)),
        (stream, inference.then_some(&s.streamed).map(|v| v as &dyn Value)),
        (input, inference.then_some(&tokens_in).map(|v| v as &dyn Value)),
        (output, inference.then_some(&tokens_out).map(|v| v as &dyn Value)),
        (ttft, dyn_value(&ttft_seconds)),
        (error, dyn_value(&error_name)),
        (outcome, Some(&outcome_name as &dyn Value)),
    ];
    // One trip through the subscriber for all of them.
    span.record_all(&meta.fields().value_set(&values));
    if let Some(reason) = r.finish_reason {
        let reasons = Array::String(vec![StringValue::from(reason.as_str())]);
        span.set_attribute("gen_ai.response.finish_reasons", OtelValue::Array(reasons));
    }
    // HTTP 4xx is the client's error and leaves the status unset; for gRPC every code but OK is an error.
    let grpc_error = s.grpc_code.is_some_and(|c| c != crate::GrpcCode::Ok);
    if let Some(error) = &s.error_type
        && (s.outcome == Outcome::ServerError || grpc_error)
    {
        span.set_status(Status::error(error.as_str().to_owned()));
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One line per finished request: server errors at ERROR, client errors at WARN, the rest at INFO.
fn log_summary(s: &RequestSummary<'_>) {
    let info = s.info;
    let status = match (s.grpc_code, &s.status) {
        (Some(code), _) => code.as_str(),
        (None, Some(status)) => status.as_str(),
        (None, None) => "",
    };
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    macro_rules! summary {
        ($level:expr) => {
            tracing::event!(
                target: TARGET,
                $level,
                method = info.method.as_str(),
                route = info.route.as_str(),
                status = status,
                outcome = s.outcome.as_str(),
                model = s.reported.model.map_or("", |m| m.as_str()),
                duration_ms = ms(s.duration),
                ttft_ms = s.time_to_first_token.map_or(f64::NAN, ms),
                input_tokens = s.reported.usage.input_tokens,
                output_tokens = s.reported.usage.output_tokens,
                finish_reason = s.reported.finish_reason.map_or("", |r| r.as_str()),
                error_type = s.error_type.as_ref().map_or("", |e| e.as_str()),
                "request finished"
            )
        };
    }
    match s.outcome {
        Outcome::ServerError => summary!(Level::ERROR),
        Outcome::ClientError => summary!(Level::WARN),
        Outcome::Ok | Outcome::Cancelled => summary!(Level::INFO),
    }
}

/// A stage span under the request span; `Span::none()` when the request has no span.
pub(crate) fn stage_span(handle: &RequestHandle, name: &str) -> Span {
    let parent = handle.span();
    if parent.is_disabled() {
        return Span::none();
    }
    tracing::info_span!(target: TARGET, parent: &parent, "stage", otel.name = name, inferwatch.stage = name)
}

/// Puts `text` on the request span as `key`, cut to `max_chars` characters.
pub(crate) fn capture(handle: &RequestHandle, key: &'static str, text: &str, max_chars: usize) {
    let span = handle.span();
    if span.is_disabled() {
        return;
    }
    let cut: String = text.chars().take(max_chars).collect();
    span.set_attribute(key, cut);
}
