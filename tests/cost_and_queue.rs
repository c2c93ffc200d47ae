//! Cost, queueing and engine state on a real axum server on loopback: spend is exact in the exposition (per model,
//! per variant, per GPU-hour), the waiting gauge comes back to zero on every path a queued request can take, and
//! the engine's own reports land under the contract's names, bounded.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, Path};
use axum::routing::post;
use inferwatch::cost::{CostObserver, PriceError, Prices};
use inferwatch::engine::EngineMetrics;
use inferwatch::experiment::{Experiment, WithoutKey};
use inferwatch::health::{Health, Status, checks};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::resources::ResourceSampler;
use inferwatch::{InferenceLayer, RequestHandle};
use support::fake_gpu::{FakeGpus, device};
use support::{Scrape, client, eventually, scrape, send, serve};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;

fn prices() -> Prices {
    Prices::builder("EUR")
        .model("toy", 0.15, 0.6)
        .model("toy-large", 3.0, 15.0)
        .gpu_hour(2.49)
        .build()
        .expect("prices")
}

/// The exposition line of `name{labels}`, exactly as rendered.
fn line<'a>(text: &'a str, series: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// Input tokens from the path, output tokens 3 × input; the model from the path.
async fn complete(handle: RequestHandle, Path((model, input)): Path<(String, u64)>) -> &'static str {
    handle.set_model(&model);
    handle.add_input_tokens(input);
    handle.mark_first_token();
    handle.add_output_tokens(3 * input);
    "ok"
}

#[tokio::test]
async fn spend_is_exact_per_model_and_variant_with_the_currency_named() {
    let prices = prices();
    let experiment = Experiment::builder("rollout")
        .variant("control", 0.5)
        .variant("treatment", 0.5)
        .key_header("x-user-id")
        .without_key(WithoutKey::Unassigned)
        .build()
        .expect("experiment");
    let (recorder, exporter) = PrometheusBuilder::new()
        .global_label("region", "eu-west")
        .prices(&prices)
        .build()
        .expect("exporter");
    let layer = InferenceLayer::builder()
        .recorder(recorder.clone())
        .allowed_models(["toy", "toy-large", "free"])
        .experiment(&experiment)
        .with(CostObserver::new(&prices).recorder(recorder))
        .build();
    let app = Router::new()
        .route("/v1/{model}/{input}", post(complete))
        .layer(ServiceBuilder::new().layer(layer).layer(experiment.layer()));
    let addr = serve(app).await;
    let client = client();

    // Before traffic: the priced allowed models at zero, the currency named.
    let text = exporter.render();
    assert_eq!(
        line(
            &text,
            "inferwatch_cost_total{region=\"eu-west\",gen_ai_request_model=\"toy\"}"
        )
        .rsplit(' ')
        .next(),
        Some("0")
    );
    let s = Scrape::parse(&text);
    assert_eq!(
        s.help["inferwatch_cost_total"],
        "Spend on inference requests at the configured prices per million input and output tokens, by model. In EUR."
    );
    assert_eq!(s.types["inferwatch_cost_total"], "counter");
    assert_eq!(s.get("inferwatch_cost_info", &[("currency", "EUR")]), 1.0);
    assert_eq!(
        s.try_get("inferwatch_cost_total", &[("gen_ai_request_model", "free")]),
        None
    );

    // 300 requests over two models, each user in a fixed variant; some requests on an unpriced model.
    let mut expected_toy: u128 = 0;
    let mut expected_large: u128 = 0;
    for i in 0..300u64 {
        let input = i % 17 + 1;
        let (model, per_token_in, per_token_out) = if i % 3 == 0 {
            ("toy-large", 3_000_000u128, 15_000_000u128)
        } else {
            ("toy", 150_000, 600_000)
        };
        let user = format!("user-{}", i % 40);
        let r = send(
            &client,
            addr,
            "POST",
            &format!("/v1/{model}/{input}"),
            &[("x-user-id", &user)],
            "",
        )
        .await;
        assert_eq!(r.status, 200);
        // Picounits: prices per million tokens are micro-units, so a token costs price × 10⁶ / 10⁶ picounits.
        let picos = u128::from(input) * per_token_in + u128::from(3 * input) * per_token_out;
        if model == "toy" {
            expected_toy += picos;
        } else {
            expected_large += picos;
        }
        if i % 10 == 0 {
            let r = send(&client, addr, "POST", &format!("/v1/free/{input}"), &[], "").await;
            assert_eq!(r.status, 200);
        }
    }

    let text = exporter.render();
    let decimal = |picos: u128| {
        let (units, fraction) = (picos / 1_000_000_000_000, picos % 1_000_000_000_000);
        let digits = format!("{fraction:012}");
        let digits = digits.trim_end_matches('0');
        if digits.is_empty() {
            units.to_string()
        } else {
            format!("{units}.{digits}")
        }
    };
    let value = |series: &str| line(&text, series).rsplit(' ').next().unwrap_or_default().to_owned();
    assert_eq!(
        value("inferwatch_cost_total{region=\"eu-west\",gen_ai_request_model=\"toy\"}"),
        decimal(expected_toy)
    );
    assert_eq!(
        value("inferwatch_cost_total{region=\"eu-west\",gen_ai_request_model=\"toy-large\"}"),
        decimal(expected_large)
    );
    let s = Scrape::parse(&text);
    assert_eq!(s.series("inferwatch_cost_total"), 2, "no series for the unpriced model");
    // Every request of a priced model is one observation of its cost.
    assert_eq!(
        s.get("inferwatch_request_cost_count", &[("gen_ai_request_model", "toy")]),
        200.0
    );
    assert_eq!(
        s.get(
            "inferwatch_request_cost_count",
            &[("gen_ai_request_model", "toy-large")]
        ),
        100.0
    );
    assert_eq!(
        s.try_get("inferwatch_request_cost_count", &[("gen_ai_request_model", "free")]),
        None
    );
    let histogram_sum = s.sum("inferwatch_request_cost_sum", &[]);
    let exact = (expected_toy + expected_large) as f64 / 1e12;
    assert!((histogram_sum - exact).abs() < 1e-9, "{histogram_sum} vs {exact}");
    // The variants split the same spend (every request had a user key) and add up to it exactly.
    let control =
        value("inferwatch_experiment_cost_total{region=\"eu-west\",experiment=\"rollout\",variant=\"control\"}");
    let treatment =
        value("inferwatch_experiment_cost_total{region=\"eu-west\",experiment=\"rollout\",variant=\"treatment\"}");
    let picos = |d: &str| -> u128 {
        let (units, fraction) = d.split_once('.').unwrap_or((d, ""));
        units.parse::<u128>().expect("units") * 1_000_000_000_000
            + format!("{fraction:0<12}").parse::<u128>().expect("fraction")
    };
    assert!(picos(&control) > 0 && picos(&treatment) > 0, "{control} {treatment}");
    assert_eq!(picos(&control) + picos(&treatment), expected_toy + expected_large);
    // No sampler ran: GPU time is zero, rendered because the table has a GPU-hour price.
    assert_eq!(value("inferwatch_gpu_cost_total{region=\"eu-west\"}"), "0");
}

#[test]
fn gpu_hours_are_charged_for_the_gpus_each_pass_sees() {
    let prices = prices();
    let (recorder, exporter) = PrometheusBuilder::new().prices(&prices).build().expect("exporter");
    let mut sampler = ResourceSampler::builder()
        .without_host()
        .gpu_source(FakeGpus::new(vec![device(0), device(1)]))
        .recorder(recorder)
        .prices(&prices)
        .build();
    let started = std::time::Instant::now();
    sampler.sample();
    std::thread::sleep(Duration::from_millis(200));
    sampler.sample();
    let elapsed = started.elapsed().as_secs_f64();
    let cost = scrape(&exporter).get("inferwatch_gpu_cost_total", &[]);
    // Two GPUs for at least 0.2 s and at most the whole wait, at 2.49 an hour.
    let per_second = 2.0 * 2.49 / 3600.0;
    assert!(cost >= 0.2 * per_second && cost <= elapsed * per_second, "{cost}");
}

#[test]
fn price_tables_refuse_what_would_be_a_silent_mistake() {
    assert!(matches!(
        Prices::builder("USD").model("m", -0.5, 1.0).build(),
        Err(PriceError::Price(..))
    ));
    assert!(matches!(
        Prices::builder("dollars and cents").build(),
        Err(PriceError::Currency(_))
    ));
    let typo = Prices::from_json(r#"{"currency": "USD", "models": {"m": {"input": 1, "ouptut": 2}}}"#);
    assert!(matches!(typo, Err(PriceError::Json(_))), "{typo:?}");
    let file =
        Prices::from_json_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/prices.json")).expect("example prices");
    assert!(file.cost("toy", 1_000_000, 0).is_some());
}

/// Waits for a permit of the engine (`slots`), then answers; `/v1/panic` panics while waiting.
async fn queued(
    handle: RequestHandle,
    Extension(slots): Extension<Arc<Semaphore>>,
    Path(kind): Path<String>,
) -> &'static str {
    handle.set_model("toy");
    let waiting = handle.enter_queue();
    if kind == "panic" {
        panic!("handler failed while queued");
    }
    let Ok(_permit) = slots.acquire().await else {
        return "closed";
    };
    waiting.scheduled();
    "served"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiting_gauge_is_exact_on_every_path() {
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let layer = InferenceLayer::builder()
        .recorder(recorder)
        .allowed_models(["toy"])
        .build();
    let slots = Arc::new(Semaphore::new(0));
    let app = Router::new()
        .route("/v1/{kind}", post(queued))
        .layer(ServiceBuilder::new().layer(layer).layer(Extension(slots.clone())));
    let addr = serve(app).await;
    let waiting = |e: &_| scrape(e).get("inferwatch_requests_waiting", &[("gen_ai_request_model", "toy")]);
    assert_eq!(waiting(&exporter), 0.0, "the allowed model's gauge exists at zero");

    // Ten requests queue; four of their clients give up while waiting. They give up only once all ten are counted:
    // on a loaded machine, a fixed delay let some leave before the last ones arrived, and the gauge never read ten.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = client();
        tasks.push(tokio::spawn(async move {
            send(&client, addr, "POST", "/v1/wait", &[], "").await.status
        }));
    }
    assert!(
        eventually(Duration::from_secs(5), || waiting(&exporter) == 10.0).await,
        "ten waiting"
    );
    // Every one of them waits at least this long: the queue time's sum below counts on it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let patient = tasks.split_off(4);
    for abandoned in tasks {
        abandoned.abort();
    }
    assert!(
        eventually(Duration::from_secs(5), || waiting(&exporter) == 6.0).await,
        "abandoned ones leave"
    );
    // Two handlers panic while queued.
    for _ in 0..2 {
        let request = http::Request::post(format!("http://{addr}/v1/panic"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        assert!(
            client().request(request).await.is_err(),
            "the connection dies with the panicking task"
        );
    }
    let recorded = || {
        scrape(&exporter).try_get(
            "inferwatch_requests_total",
            &[("route", "/v1/{kind}"), ("outcome", "server_error")],
        )
    };
    assert!(
        eventually(Duration::from_secs(5), || recorded() == Some(2.0)).await,
        "both panics recorded"
    );
    assert_eq!(waiting(&exporter), 6.0, "panicked ones never stay");
    slots.add_permits(100);
    for task in patient {
        assert_eq!(task.await.expect("client"), 200);
    }
    let s = scrape(&exporter);
    assert_eq!(waiting(&exporter), 0.0);
    let toy = [("gen_ai_request_model", "toy")];
    assert_eq!(
        s.get("inferwatch_request_queue_duration_seconds_count", &toy),
        6.0,
        "only the scheduled ones"
    );
    assert!(s.get("inferwatch_request_queue_duration_seconds_sum", &toy) >= 6.0 * 0.1);
}

#[tokio::test]
async fn engine_reports_are_recorded_bounded_and_judged() {
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let engine = EngineMetrics::with_recorder(recorder);
    let health = Health::builder()
        .add_check(checks::kv_cache(engine.clone(), 0.95))
        .cache_for(Duration::ZERO)
        .build();
    assert_eq!(health.report().await.status, Status::Pass, "before the first report");

    for size in [1, 3, 64, 2000] {
        engine.record_batch_size(size);
    }
    engine.add_preemptions(2);
    engine.add_preemptions(5);
    engine.set_kv_cache_usage("toy", 0.5);
    engine.set_kv_cache_usage("toy", 0.97);
    engine.set_kv_cache_usage("toy-large", 1.7);
    engine.set_kv_cache_usage("toy-large", f64::NAN);
    for i in 0..100 {
        engine.set_kv_cache_usage(&format!("flood-{i}"), 0.1);
    }
    let s = scrape(&exporter);
    assert_eq!(
        s.get(
            "inferwatch_engine_kv_cache_usage_ratio",
            &[("gen_ai_request_model", "toy")]
        ),
        0.97
    );
    assert_eq!(
        s.get(
            "inferwatch_engine_kv_cache_usage_ratio",
            &[("gen_ai_request_model", "toy-large")]
        ),
        1.0
    );
    assert_eq!(
        s.series("inferwatch_engine_kv_cache_usage_ratio"),
        33,
        "32 models, then _OTHER"
    );
    assert_eq!(
        s.get(
            "inferwatch_engine_kv_cache_usage_ratio",
            &[("gen_ai_request_model", "_OTHER")]
        ),
        0.1
    );
    assert_eq!(s.get("inferwatch_engine_preemptions_total", &[]), 7.0);
    assert_eq!(s.get("inferwatch_engine_batch_size_count", &[]), 4.0);
    assert_eq!(s.get("inferwatch_engine_batch_size_bucket", &[("le", "2")]), 1.0);
    assert_eq!(s.get("inferwatch_engine_batch_size_bucket", &[("le", "64")]), 3.0);
    assert_eq!(s.get("inferwatch_engine_batch_size_bucket", &[("le", "1024")]), 3.0);
    assert_eq!(s.get("inferwatch_engine_batch_size_bucket", &[("le", "+Inf")]), 4.0);

    let report = health.report().await;
    assert_eq!(report.status, Status::Warn, "{report:?}");
    assert_eq!(report.http_status(), 200, "a full cache keeps the server in rotation");
    engine.set_kv_cache_usage("toy", 0.2);
    engine.set_kv_cache_usage("toy-large", 0.2);
    assert_eq!(health.report().await.status, Status::Pass);
}
