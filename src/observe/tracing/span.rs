//! The request and stage spans: names and attributes from the OpenTelemetry HTTP, RPC and GenAI conventions.

use opentelemetry::{Array, StringValue, Value as OtelValue};
use tracing::Span;
use tracing::field::{Empty, Field, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::classify::{GrpcCode, Outcome, Protocol};
use crate::contract::LOG_TARGET;
use crate::request::{RequestInfo, RequestSummary};

/// The server span of a request; `Span::none()` when no subscriber exists.
pub(super) fn request_span(info: &RequestInfo) -> Span {
    // With no subscriber anywhere, tracing's `log` feature (which axum turns on) would still build the span's
    // fields, name included, for a logger that has no use for them.
    if !tracing::dispatcher::has_been_set() {
        return Span::none();
    }
    let route = info.route.as_str();
    // Attributes known now are given at creation: each later `record` is a trip through the subscriber.
    macro_rules! span {
        ($name:expr, $($fields:tt)*) => {
            tracing::info_span!(
                target: LOG_TARGET,
                parent: None,
                "request",
                otel.name = $name,
                otel.kind = "server",
                // FINISH_FIELDS, in this order and at these positions in every callsite.
                http.response.status_code = Empty,
                rpc.response.status_code = Empty,
                gen_ai.operation.name = Empty,
                gen_ai.request.model = Empty,
                gen_ai.request.stream = Empty,
                gen_ai.usage.input_tokens = Empty,
                gen_ai.usage.output_tokens = Empty,
                gen_ai.response.time_to_first_chunk = Empty,
                error.type = Empty,
                inferwatch.outcome = Empty,
                // tracing-opentelemetry's way to set the status to error, with this description.
                otel.status_description = Empty,
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

/// A stage span under the request span; `Span::none()` when the request has no span.
pub(super) fn stage_span(request: &Span, name: &str) -> Span {
    if request.is_disabled() {
        return Span::none();
    }
    tracing::info_span!(target: LOG_TARGET, parent: request, "stage", otel.name = name, inferwatch.stage = name)
}

/// Where the fields recorded at the end sit in each request span's field set (after `otel.name`, `otel.kind`).
const FINISH_FIELDS: std::ops::Range<usize> = 2..13;

/// Records what the request ended with, in one trip through the subscriber, and the span's status.
pub(super) fn record_finish(span: &Span, s: &RequestSummary<'_>) {
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
        status_description,
    ] = fields.as_slice()
    else {
        return;
    };
    debug_assert_eq!(status.name(), "http.response.status_code");
    debug_assert_eq!(status_description.name(), "otel.status_description");
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
    // HTTP 4xx is the client's error and leaves the status unset; for gRPC every code but OK is an error.
    let grpc_error = s.grpc_code.is_some_and(|c| c != GrpcCode::Ok);
    let failed = (s.outcome == Outcome::ServerError || grpc_error)
        .then_some(error_name)
        .flatten();
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
        (status_description, dyn_value(&failed)),
    ];
    span.record_all(&meta.fields().value_set(&values));
    // A string array is the one attribute a tracing field cannot carry.
    if let Some(reason) = r.finish_reason {
        let reasons = Array::String(vec![StringValue::from(reason.as_str())]);
        span.set_attribute("gen_ai.response.finish_reasons", OtelValue::Array(reasons));
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
