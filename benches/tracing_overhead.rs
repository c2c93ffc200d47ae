//! Per-request cost of request spans, in process, with a tracing-opentelemetry subscriber that samples every
//! span and exports none: a bare router, tower-http's `TraceLayer`, inferwatch's layer (request span, summary
//! event and every metric), and inferwatch with three stage spans in the handler.
//!
//! `cargo bench --bench tracing_overhead`

mod support;

use axum::Router;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::{InferenceLayer, RequestHandle, stage_name};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use support::{ANSWER, call, plain};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

async fn reporting(handle: RequestHandle) -> &'static str {
    handle.set_model("toy");
    handle.add_input_tokens(12);
    handle.add_output_tokens(2);
    ANSWER
}

async fn staged(handle: RequestHandle) -> &'static str {
    handle.set_model("toy");
    for stage in [stage_name::TOKENIZE, stage_name::GENERATE, stage_name::DECODE] {
        let _stage = handle.stage(stage).entered();
    }
    handle.add_input_tokens(12);
    handle.add_output_tokens(2);
    ANSWER
}

fn spans(c: &mut Criterion) {
    // Every span sampled and built, none exported: the cost of tracing itself. The layer is configured as
    // `telemetry::init` configures it, for all routers alike (the TRACE level lets TraceLayer's DEBUG spans in).
    let provider = SdkTracerProvider::builder().build();
    let otel = inferwatch::telemetry::opentelemetry_layer(provider.tracer("bench"), LevelFilter::TRACE);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(otel)).expect("subscriber");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (recorder, _exporter) = PrometheusBuilder::new().build().expect("exporter");
    let layer = InferenceLayer::builder().recorder(recorder).build();

    let bare = Router::new().route("/v1/completions", post(plain));
    let trace_layer = Router::new()
        .route("/v1/completions", post(plain))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let inferwatch = Router::new()
        .route("/v1/completions", post(reporting))
        .layer(layer.clone());
    let with_stages = Router::new().route("/v1/completions", post(staged)).layer(layer);

    runtime.block_on(async {
        for router in [&bare, &trace_layer, &inferwatch, &with_stages] {
            call(router).await;
        }
    });

    let mut group = c.benchmark_group("spans");
    group.bench_function("bare", |b| b.to_async(&runtime).iter(|| call(&bare)));
    group.bench_function("tower_http_trace_layer", |b| {
        b.to_async(&runtime).iter(|| call(&trace_layer))
    });
    group.bench_function("inferwatch_request_span", |b| {
        b.to_async(&runtime).iter(|| call(&inferwatch))
    });
    group.bench_function("inferwatch_with_3_stages", |b| {
        b.to_async(&runtime).iter(|| call(&with_stages))
    });
    group.finish();
}

criterion_group!(benches, spans);
criterion_main!(benches);
