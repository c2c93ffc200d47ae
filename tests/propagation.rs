//! Trace context goes through OpenTelemetry's global propagator: here one that speaks B3's single header, as an
//! older mesh would, installed through `TelemetryBuilder::propagator`. W3C headers are then ignored, and the
//! response carries the request's context in B3.

mod support;

use std::sync::{LazyLock, OnceLock};

use axum::Router;
use axum::routing::get;
use inferwatch::InferenceLayer;
use inferwatch::observe::TracingObserver;
use inferwatch::telemetry::{TelemetryBuilder, TelemetryGuard};
use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use support::{client, send, serve};

/// `b3: {trace id}-{span id}-{sampled}`.
#[derive(Debug)]
struct B3Single;

impl TextMapPropagator for B3Single {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let sampled = if sc.is_sampled() { "1" } else { "0" };
            injector.set("b3", format!("{}-{}-{sampled}", sc.trace_id(), sc.span_id()));
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(value) = extractor.get("b3") else {
            return cx.clone();
        };
        let mut parts = value.split('-');
        let (Some(trace), Some(span), Some(sampled)) = (parts.next(), parts.next(), parts.next()) else {
            return cx.clone();
        };
        let (Ok(trace), Ok(span)) = (TraceId::from_hex(trace), SpanId::from_hex(span)) else {
            return cx.clone();
        };
        let flags = if sampled == "1" {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let remote = SpanContext::new(trace, span, flags, true, TraceState::default());
        cx.with_remote_span_context(remote)
    }

    fn fields(&self) -> FieldIter<'_> {
        static FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| ["b3".to_owned()]);
        FieldIter::new(&*FIELDS)
    }
}

fn telemetry() -> &'static TelemetryGuard {
    static GUARD: OnceLock<TelemetryGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        TelemetryBuilder::new()
            .propagator(B3Single)
            .writer(std::io::sink())
            .init()
            .expect("telemetry")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_propagator_reads_and_writes_trace_context() {
    telemetry();
    let layer = InferenceLayer::builder()
        .tracing(TracingObserver::new().trace_context_in_response(true))
        .build();
    let addr = serve(Router::new().route("/traced", get(|| async { "ok" })).layer(layer)).await;
    let b3_trace = "80f198ee56343ba864fe8b2a57d3eff7";
    let headers = [
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ];
    let response = send(&client(), addr, "GET", "/traced", &headers, "").await;
    assert_eq!(response.status, 200);
    let b3 = response
        .headers
        .get("b3")
        .and_then(|v| v.to_str().ok())
        .expect("b3 in the response");
    let (trace, rest) = b3.split_once('-').expect("b3 shape");
    assert_eq!(trace, b3_trace, "the request continues the B3 trace, not the W3C one");
    assert!(
        !rest.starts_with("e457b5a2e4d86bd1"),
        "the response names the server span, not the caller's"
    );
    assert!(
        response.headers.get("traceparent").is_none(),
        "W3C is not installed, so not written"
    );

    // Without a B3 header, a new trace: the W3C header alone is not read.
    let w3c_only = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
    let response = send(&client(), addr, "GET", "/traced", &w3c_only, "").await;
    let b3 = response
        .headers
        .get("b3")
        .and_then(|v| v.to_str().ok())
        .expect("b3 in the response");
    assert!(!b3.starts_with("4bf92f3577b34da6a3ce929d0e0e4736"), "{b3}");
}
