//! Per-request cost of the layers, in process: a bare axum router, the router with `InferenceLayer` (and a
//! handler that reports model and tokens, so every metric of the contract is recorded), and the router with
//! axum-prometheus's layer. The overhead of a layer is its time minus the bare router's. A last, interleaved
//! measurement times them in alternation and prints the overheads' ratio, which drift on a shared machine
//! distorts least, and what a price table adds to a request (`inferwatch_priced`: the same layer pricing its
//! tokens into the exact totals and the cost histogram).
//!
//! `cargo bench --bench layer_overhead`

mod support;

use std::time::Instant;

use axum::Router;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use inferwatch::cost::{CostObserver, Prices};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::{InferenceLayer, RequestHandle, operation};
use support::{ANSWER, call, plain, sample};

async fn reporting(handle: RequestHandle) -> &'static str {
    handle.set_model("toy");
    handle.set_operation(operation::TEXT_COMPLETION);
    handle.add_input_tokens(12);
    handle.mark_first_token();
    handle.add_output_tokens(2);
    ANSWER
}

fn layers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let bare = Router::new().route("/v1/completions", post(plain));

    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let inferwatch = Router::new()
        .route("/v1/completions", post(reporting))
        .layer(InferenceLayer::builder().recorder(recorder).build());

    let prices = Prices::builder("USD").model("toy", 0.15, 0.6).build().expect("prices");
    let (recorder, priced_exporter) = PrometheusBuilder::new().prices(&prices).build().expect("exporter");
    let priced = Router::new().route("/v1/completions", post(reporting)).layer(
        InferenceLayer::builder()
            .recorder(recorder.clone())
            .with(CostObserver::new(&prices).recorder(recorder))
            .build(),
    );

    // The unpriced layer again, built the same way: the priced one is compared with both, and the difference
    // between the two unpriced copies says how much of it is measurement (layout, caches).
    let (recorder, _twin_exporter) = PrometheusBuilder::new().build().expect("exporter");
    let twin = Router::new()
        .route("/v1/completions", post(reporting))
        .layer(InferenceLayer::builder().recorder(recorder).build());

    // axum-prometheus spawns its upkeep task, so it needs the runtime entered.
    let (prometheus_layer, _handle) = runtime.block_on(async { axum_prometheus::PrometheusMetricLayer::pair() });
    let axum_prometheus = Router::new()
        .route("/v1/completions", post(plain))
        .layer(prometheus_layer);

    let identity = Router::new()
        .route("/v1/completions", post(plain))
        .layer(tower::layer::layer_fn(|s| s));

    // Warm every label combination so the benchmark measures the steady state.
    runtime.block_on(async {
        for router in [&bare, &identity, &inferwatch, &priced, &twin, &axum_prometheus] {
            call(router).await;
        }
    });
    // One request each so far: its tokens, and one priced request.
    let text = exporter.render();
    let tokens = |kind: &str| {
        let series = format!("inferwatch_tokens_total{{gen_ai_request_model=\"toy\",gen_ai_token_type=\"{kind}\"}}");
        sample(&text, &series)
    };
    assert_eq!((tokens("input"), tokens("output")), (Some(12.0), Some(2.0)), "{text}");
    let priced_text = priced_exporter.render();
    assert_eq!(
        sample(
            &priced_text,
            "inferwatch_request_cost_count{gen_ai_request_model=\"toy\"}"
        ),
        Some(1.0),
        "{priced_text}"
    );

    // The recorder's own share: the metric operations one inference request makes (gauge up and down, 3 counters,
    // 6 histograms), on handles registered up front, without any layer.
    let floor_recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let floor = RecorderFloor::new(&floor_recorder);

    let mut group = c.benchmark_group("router");
    group.bench_function("bare", |b| b.to_async(&runtime).iter(|| call(&bare)));
    group.bench_function("identity_layer", |b| b.to_async(&runtime).iter(|| call(&identity)));
    group.bench_function("inferwatch", |b| b.to_async(&runtime).iter(|| call(&inferwatch)));
    group.bench_function("inferwatch_priced", |b| b.to_async(&runtime).iter(|| call(&priced)));
    group.bench_function("axum_prometheus", |b| {
        b.to_async(&runtime).iter(|| call(&axum_prometheus))
    });
    group.finish();

    c.bench_function("recorder_floor/contract_ops_per_request", |b| b.iter(|| floor.record()));

    interleaved(&runtime, [&bare, &inferwatch, &axum_prometheus, &priced, &twin]);
}

/// The layers' overheads measured in one interleaved loop: each round times a block of calls through every router,
/// in a rotating order, so that drift in the machine's speed (frequency, neighbours) hits all of them alike.
/// Prints the medians over the rounds, the median of the per-round ratio inferwatch / axum-prometheus, and the
/// median per-round difference priced − unpriced, with an unpriced twin as the control.
fn interleaved(runtime: &tokio::runtime::Runtime, routers: [&Router; 5]) {
    const ROUNDS: usize = 1000;
    const BLOCK: u32 = 64;
    let mut rounds = vec![[0.0f64; 5]; ROUNDS];
    runtime.block_on(async {
        for (round, per_call) in rounds.iter_mut().enumerate() {
            for k in 0..5 {
                let i = (round + k) % 5;
                let start = Instant::now();
                for _ in 0..BLOCK {
                    call(routers[i]).await;
                }
                per_call[i] = start.elapsed().as_secs_f64() * 1e9 / f64::from(BLOCK);
            }
        }
    });
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let overhead = |i: usize| -> Vec<f64> { rounds.iter().map(|t| t[i] - t[0]).collect() };
    let (ours, theirs) = (overhead(1), overhead(2));
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
    println!(
        "interleaved ({ROUNDS} rounds of {BLOCK} calls, medians): bare {:.0} ns, inferwatch +{:.0} ns, \
         axum-prometheus +{:.0} ns, ratio {:.2}",
        median(rounds.iter().map(|t| t[0]).collect()),
        median(ours),
        median(theirs),
        median(ratios)
    );
    // Priced against the mean of the two unpriced copies; the copies against each other.
    let priced: Vec<f64> = rounds.iter().map(|t| t[3] - (t[1] + t[4]) / 2.0).collect();
    let twins: Vec<f64> = rounds.iter().map(|t| t[4] - t[1]).collect();
    println!(
        "interleaved: a price table adds {:+.0} ns a request; two unpriced copies differ by {:+.0} ns (medians of \
         per-round differences)",
        median(priced),
        median(twins)
    );
}

struct RecorderFloor {
    gauge: metrics::Gauge,
    counters: [metrics::Counter; 3],
    histograms: [metrics::Histogram; 6],
}

impl RecorderFloor {
    fn new(recorder: &dyn metrics::Recorder) -> Self {
        let metadata = metrics::Metadata::new("bench", metrics::Level::INFO, None);
        let key = |name: &str, i: usize| {
            metrics::Key::from_parts(name.to_owned(), vec![metrics::Label::new("i", i.to_string())])
        };
        Self {
            gauge: recorder.register_gauge(&key("g", 0), &metadata),
            counters: std::array::from_fn(|i| recorder.register_counter(&key("c_total", i), &metadata)),
            histograms: std::array::from_fn(|i| recorder.register_histogram(&key("h", i), &metadata)),
        }
    }

    fn record(&self) {
        self.gauge.increment(1.0);
        for c in &self.counters {
            c.increment(1);
        }
        for h in &self.histograms {
            h.record(0.5);
        }
        self.gauge.decrement(1.0);
    }
}

criterion_group!(benches, layers);
criterion_main!(benches);
