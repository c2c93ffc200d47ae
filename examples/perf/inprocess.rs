//! The in-process phases: every configuration called in one loop of interleaved rounds, each configuration under
//! its own subscriber (a scoped dispatcher), so that drift in the machine's speed hits all of them alike.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use inferwatch::InferenceLayer;
use inferwatch::observe::MetricsObserver;
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::{OtlpProtocol, TelemetryBuilder, TelemetryGuard};
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tower::ServiceExt;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tracing::{Dispatch, Level};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

use crate::routes::{ANSWER, BODY, PATH, plain_router, reporting_router};

struct Config {
    name: &'static str,
    router: Router,
    dispatch: Option<Dispatch>,
}

pub struct Figures {
    /// Median time per call over the rounds, by configuration name.
    pub medians: Vec<(&'static str, f64)>,
    /// Median of each configuration's time minus the bare router's, per round.
    pub overheads: Vec<(&'static str, f64)>,
}

impl Figures {
    pub fn overhead(&self, name: &str) -> f64 {
        self.overheads
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

async fn call(router: &Router) {
    let request = Request::post(PATH)
        .header("content-type", "application/json")
        .body(Body::from(BODY))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(body.len(), ANSWER.len());
}

/// Nanoseconds per call over `calls` calls. Never inlined: `perf/instructions` counts what runs inside it.
#[inline(never)]
fn timed_calls(runtime: &tokio::runtime::Runtime, router: &Router, calls: u32) -> f64 {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..calls {
            call(router).await;
        }
        start.elapsed().as_secs_f64() * 1e9 / f64::from(calls)
    })
}

fn telemetry(filter: &str, collector: Option<&str>, ratio: Option<f64>) -> (Dispatch, TelemetryGuard) {
    let mut builder = TelemetryBuilder::new()
        .service_name("inferwatch-perf")
        .default_log_filter(filter)
        .writer(std::io::sink());
    if let Some(ratio) = ratio {
        builder = builder.sampling_ratio(ratio);
    }
    if let Some(endpoint) = collector {
        builder = builder.otlp_endpoint(endpoint).otlp_protocol(OtlpProtocol::Grpc);
    }
    builder.dispatch().expect("telemetry")
}

/// The subscriber of the first measurements of this comparison: tracing-opentelemetry only, every level.
fn spans_only() -> Dispatch {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let otel = inferwatch::telemetry::opentelemetry_layer(provider.tracer("perf"), LevelFilter::TRACE);
    Dispatch::new(tracing_subscriber::registry().with(otel))
}

pub fn run(
    runtime: &tokio::runtime::Runtime,
    rounds: usize,
    block: u32,
    collector: Option<&str>,
    only: Option<&str>,
) -> Figures {
    // RUST_LOG would override the filters each configuration sets.
    assert!(
        std::env::var_os("RUST_LOG").is_none(),
        "unset RUST_LOG for the in-process phases"
    );
    // What `telemetry::init()` installs besides its subscriber, and the scoped dispatchers here do not: W3C trace
    // context and baggage, which inferwatch's layer reads from every request's headers.
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    let (recorder, _exporter) = PrometheusBuilder::new().build().expect("exporter");
    let default_layer = InferenceLayer::builder().recorder(recorder.clone()).build();
    let metrics_only = InferenceLayer::builder()
        .observer(MetricsObserver::with_recorder(recorder.clone()))
        .build();
    let (axum_prometheus, _handle) = runtime.block_on(async { axum_prometheus::PrometheusMetricLayer::pair() });
    let (logs_on, g1) = telemetry("info", None, None);
    let (logs_off, g2) = telemetry("off", None, None);
    let (tenth, g3) = telemetry("info", None, Some(0.1));
    let exporting = collector.map(|endpoint| telemetry("info", Some(endpoint), None));
    // The layer as an application under each subscriber builds it: with that telemetry's tracing observer.
    let layer_for = |guard: &TelemetryGuard| {
        InferenceLayer::builder()
            .recorder(recorder.clone())
            .tracing(guard.tracing_observer())
            .build()
    };
    let info_spans = TraceLayer::new_for_http().make_span_with(DefaultMakeSpan::new().level(Level::INFO));
    let debug_spans = TraceLayer::new_for_http();
    let spans = spans_only();

    let mut configs = vec![
        Config {
            name: "bare",
            router: plain_router(),
            dispatch: None,
        },
        Config {
            name: "metrics only",
            router: reporting_router().layer(metrics_only),
            dispatch: None,
        },
        Config {
            name: "axum-prometheus",
            router: plain_router().layer(axum_prometheus),
            dispatch: None,
        },
        Config {
            name: "TraceLayer DEBUG spans, otel only",
            router: plain_router().layer(debug_spans),
            dispatch: Some(spans.clone()),
        },
        Config {
            name: "inferwatch, otel only",
            router: reporting_router().layer(default_layer.clone()),
            dispatch: Some(spans),
        },
        Config {
            name: "TraceLayer INFO spans, telemetry::init",
            router: plain_router().layer(info_spans),
            dispatch: Some(logs_on.clone()),
        },
        Config {
            name: "inferwatch, telemetry::init, RUST_LOG=off",
            router: reporting_router().layer(layer_for(&g2)),
            dispatch: Some(logs_off),
        },
        Config {
            name: "inferwatch, telemetry::init",
            router: reporting_router().layer(layer_for(&g1)),
            dispatch: Some(logs_on),
        },
        Config {
            name: "inferwatch, telemetry::init, 10% sampled",
            router: reporting_router().layer(layer_for(&g3)),
            dispatch: Some(tenth),
        },
    ];
    if let Some((dispatch, guard)) = &exporting {
        configs.push(Config {
            name: "inferwatch, telemetry::init, OTLP export",
            router: reporting_router().layer(layer_for(guard)),
            dispatch: Some(dispatch.clone()),
        });
    }
    let time_block = |config: &Config, calls: u32| -> f64 {
        let run = || timed_calls(runtime, &config.router, calls);
        match &config.dispatch {
            Some(dispatch) => tracing::dispatcher::with_default(dispatch, run),
            None => run(),
        }
    };
    // As `axum::serve` does (`into_make_service`): handlers and layers turned into routes once, not per request.
    for config in &mut configs {
        config.router = std::mem::take(&mut config.router).with_state(());
    }
    if let Some(only) = only {
        // For a profiler: one configuration, many calls, nothing else.
        configs.retain(|c| c.name == only);
        assert!(!configs.is_empty(), "no configuration named {only:?}");
        let per_call = time_block(&configs[0], block.saturating_mul(rounds as u32));
        return Figures {
            medians: vec![(configs[0].name, per_call)],
            overheads: vec![(configs[0].name, f64::NAN)],
        };
    }
    for config in &configs {
        time_block(config, 500);
    }
    let n = configs.len();
    let mut times = vec![vec![0.0f64; n]; rounds];
    for (round, row) in times.iter_mut().enumerate() {
        for k in 0..n {
            let i = (round + k) % n;
            row[i] = time_block(&configs[i], block);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Figures {
        medians: configs
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name, median(times.iter().map(|t| t[i]).collect())))
            .collect(),
        overheads: configs
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name, median(times.iter().map(|t| t[i] - t[0]).collect())))
            .collect(),
    }
}
