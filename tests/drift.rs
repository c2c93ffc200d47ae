//! Drift on a real axum server on loopback: the warm-up becomes the baseline, traffic like it does not drift, a
//! shift in prompt length and language does, a baseline saved from one server judges another the same way, and
//! whatever names and categories handlers send, the series stay the declared ones.

mod support;

use axum::Router;
use axum::extract::Path;
use axum::routing::post;
use inferwatch::drift::{Baseline, Drift, Feature, Warmup};
use inferwatch::prometheus::{PrometheusBuilder, PrometheusExporter};
use inferwatch::{FinishReason, InferenceLayer, RequestHandle};
use support::{Scrape, client, scrape, send, serve};

/// Input tokens and language from the path; "bogus" observes an undeclared feature too.
async fn complete(handle: RequestHandle, Path((tokens, language)): Path<(u64, String)>) -> &'static str {
    handle.set_model("toy");
    handle.add_input_tokens(tokens);
    handle.add_output_tokens(4);
    handle.set_finish_reason(FinishReason::Stop);
    handle.record_category("language", &language);
    if language == "bogus" {
        handle.record_feature("no_such_feature", 1.0);
    }
    "ok"
}

fn monitor(recorder: inferwatch::SharedRecorder, baseline: Option<Baseline>) -> Drift {
    let mut builder = Drift::builder()
        .feature(Feature::categorical("language", ["en", "fr", "de"]))
        .warmup(Warmup::Observations(200))
        .recorder(recorder);
    if let Some(baseline) = baseline {
        builder = builder.baseline(baseline);
    }
    builder.build().expect("drift")
}

async fn server(baseline: Option<Baseline>) -> (std::net::SocketAddr, Drift, PrometheusExporter) {
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let drift = monitor(recorder.clone(), baseline);
    let layer = InferenceLayer::builder()
        .recorder(recorder)
        .allowed_models(["toy"])
        .with(drift.clone())
        .build();
    let app = Router::new()
        .route("/v1/{tokens}/{language}", post(complete))
        .layer(layer)
        .merge(drift.router());
    (serve(app).await, drift, exporter)
}

/// `n` requests of the usual mix (short prompts, mostly English) or of the shifted one (long prompts, a language
/// nobody declared).
async fn traffic(addr: std::net::SocketAddr, n: u64, shifted: bool) {
    let client = client();
    for i in 0..n {
        let (tokens, language) = match shifted {
            false => (5 + i % 20, ["en", "en", "en", "fr", "de"][(i % 5) as usize]),
            true => (80 + i % 200, ["ja", "en", "ja"][(i % 3) as usize]),
        };
        let r = send(&client, addr, "POST", &format!("/v1/{tokens}/{language}"), &[], "").await;
        assert_eq!(r.status, 200);
    }
}

fn psi(s: &Scrape, feature: &str) -> f64 {
    s.get(
        "inferwatch_drift_psi",
        &[("feature", feature), ("gen_ai_request_model", "toy")],
    )
}

#[tokio::test]
async fn a_shift_in_prompts_and_languages_drifts_and_a_saved_baseline_says_so_elsewhere() {
    let (addr, drift, exporter) = server(None).await;
    traffic(addr, 200, false).await;
    drift.evaluate();
    let s = scrape(&exporter);
    for feature in ["input_tokens", "output_tokens", "finish_reason", "language"] {
        let labels = [
            ("feature", feature),
            ("gen_ai_request_model", "toy"),
            ("source", "warm-up"),
        ];
        assert_eq!(s.get("inferwatch_drift_baseline_info", &labels), 1.0, "{feature}");
    }

    // More of the same traffic: no drift. (A learned feature's window starts with its edges, after the warm-up;
    // a categorical one's counts the warm-up too.)
    traffic(addr, 300, false).await;
    drift.evaluate();
    let s = scrape(&exporter);
    let window = [("feature", "input_tokens"), ("gen_ai_request_model", "toy")];
    assert_eq!(s.get("inferwatch_drift_window_observations", &window), 300.0);
    let language = [("feature", "language"), ("gen_ai_request_model", "toy")];
    assert_eq!(s.get("inferwatch_drift_window_observations", &language), 500.0);
    assert!(psi(&s, "input_tokens") < 0.1, "{}", psi(&s, "input_tokens"));
    assert!(psi(&s, "language") < 0.1, "{}", psi(&s, "language"));
    assert!(s.get("inferwatch_drift_ks_statistic", &window) < 0.1);
    assert!(s.get("inferwatch_drift_chi_square_p_value", &language) > 0.01);

    // Capture the known-good window, as an operator would from the route.
    let body = send(&client(), addr, "GET", "/v1/drift/baseline", &[], "").await.body;
    let saved = Baseline::from_json(std::str::from_utf8(&body).expect("utf-8")).expect("baseline document");
    assert!(saved.len() >= 4, "{saved:?}");

    // Longer prompts in a new language.
    traffic(addr, 1_000, true).await;
    drift.evaluate();
    let s = scrape(&exporter);
    assert!(psi(&s, "input_tokens") > 0.25, "{}", psi(&s, "input_tokens"));
    assert!(psi(&s, "language") > 0.25, "{}", psi(&s, "language"));
    assert!(s.get("inferwatch_drift_ks_statistic", &window) > 0.5);
    assert!(s.get("inferwatch_drift_chi_square_p_value", &language) < 1e-6);
    assert!(psi(&s, "output_tokens") < 0.1, "output tokens did not change");

    // A restarted server with the saved baseline judges the shifted traffic the same way, with no warm-up.
    let (addr, drift, exporter) = server(Some(saved)).await;
    traffic(addr, 300, true).await;
    drift.evaluate();
    let s = scrape(&exporter);
    let labels = [
        ("feature", "input_tokens"),
        ("gen_ai_request_model", "toy"),
        ("source", "file"),
    ];
    assert_eq!(s.get("inferwatch_drift_baseline_info", &labels), 1.0);
    assert!(psi(&s, "input_tokens") > 0.25, "{}", psi(&s, "input_tokens"));
    assert!(psi(&s, "language") > 0.25, "{}", psi(&s, "language"));
}

#[tokio::test]
async fn handlers_cannot_create_features_or_categories() {
    let (addr, drift, exporter) = server(None).await;
    let client = client();
    for i in 0..300 {
        let r = send(&client, addr, "POST", &format!("/v1/{i}/lang-{i}"), &[], "").await;
        assert_eq!(r.status, 200);
    }
    traffic(addr, 50, false).await;
    let r = send(&client, addr, "POST", "/v1/3/bogus", &[], "").await;
    assert_eq!(r.status, 200);
    drift.evaluate();
    let s = scrape(&exporter);
    let features = s.label_values("inferwatch_drift_window_observations", "feature");
    let expected: std::collections::BTreeSet<String> =
        ["input_tokens", "output_tokens", "finish_reason", "language", "_OTHER"]
            .into_iter()
            .map(String::from)
            .collect();
    assert_eq!(features, expected);
    let undeclared = [("feature", "_OTHER"), ("gen_ai_request_model", "toy")];
    assert_eq!(s.get("inferwatch_drift_window_observations", &undeclared), 1.0);
    // 300 unknown languages went to one bin: the baseline says so.
    let baseline = drift.window_as_baseline().to_json();
    let doc: serde_json::Value = serde_json::from_str(&baseline).expect("json");
    let language = doc["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|s| s["feature"] == "language")
        .expect("language");
    assert_eq!(language["categories"], serde_json::json!(["en", "fr", "de", "_OTHER"]));
    assert_eq!(language["counts"][3], 301);
}

/// `n` requests of `tokens` input tokens each, in English.
async fn constant(addr: std::net::SocketAddr, n: u64, tokens: u64) {
    let client = client();
    for _ in 0..n {
        let r = send(&client, addr, "POST", &format!("/v1/{tokens}/en"), &[], "").await;
        assert_eq!(r.status, 200);
    }
}

#[tokio::test]
async fn a_warm_up_of_one_repeated_value_still_sees_longer_and_shorter_prompts() {
    let (addr, drift, exporter) = server(None).await;
    // Identical prompts through the warm-up (and a constant output, as a fixed max_tokens gives).
    constant(addr, 200, 12).await;
    drift.evaluate();
    let series = |doc: &Baseline, feature: &str| -> serde_json::Value {
        let doc: serde_json::Value = serde_json::from_str(&doc.to_json()).expect("json");
        doc["series"]
            .as_array()
            .expect("series")
            .iter()
            .find(|s| s["feature"] == feature)
            .cloned()
            .expect(feature)
    };
    constant(addr, 100, 12).await;
    drift.evaluate();
    let s = scrape(&exporter);
    assert_eq!(psi(&s, "input_tokens"), 0.0, "the same prompts do not drift");
    let window = drift.window_as_baseline();
    let input = series(&window, "input_tokens");
    assert_eq!(input["edges"], serde_json::json!([12f64.next_down(), 12.0]));
    assert_eq!(input["counts"], serde_json::json!([0, 100, 0]));
    assert_eq!(
        series(&window, "output_tokens")["edges"],
        serde_json::json!([4f64.next_down(), 4.0])
    );

    // Prompts forty times longer: all of them above the warm-up's one value.
    constant(addr, 300, 480).await;
    drift.evaluate();
    let s = scrape(&exporter);
    let labels = [("feature", "input_tokens"), ("gen_ai_request_model", "toy")];
    assert!(psi(&s, "input_tokens") > 0.25, "{}", psi(&s, "input_tokens"));
    assert_eq!(
        s.get("inferwatch_drift_ks_statistic", &labels),
        0.75,
        "300 of 400 above the baseline"
    );
    assert_eq!(psi(&s, "output_tokens"), 0.0, "outputs did not change");
}

#[tokio::test]
async fn a_shorter_prompt_after_a_constant_warm_up_drifts_too() {
    let (addr, drift, exporter) = server(None).await;
    constant(addr, 200, 40).await;
    drift.evaluate();
    constant(addr, 100, 1).await;
    drift.evaluate();
    let s = scrape(&exporter);
    let labels = [("feature", "input_tokens"), ("gen_ai_request_model", "toy")];
    assert!(psi(&s, "input_tokens") > 0.25, "{}", psi(&s, "input_tokens"));
    assert_eq!(s.get("inferwatch_drift_ks_statistic", &labels), 1.0);
}

#[test]
fn baselines_that_would_make_the_statistics_nan_are_refused_at_start() {
    let doc = |series: &str| format!(r#"{{"format": "inferwatch-drift-baseline/1", "series": [{series}]}}"#);
    let cases = [
        (
            r#"{"feature": "language", "model": "toy", "categories": ["en", "fr", "de", "_OTHER"], "counts": [18446744073709551615, 1, 0, 0]}"#,
            "language of toy: the counts add up to more than 2^64 - 1",
        ),
        (
            r#"{"feature": "input_tokens", "model": "toy", "edges": [10], "counts": [9223372036854775808, 9223372036854775808]}"#,
            "input_tokens of toy: the counts add up to more than 2^64 - 1",
        ),
        (
            r#"{"feature": "input_tokens", "model": "toy", "edges": [10], "counts": [0, 0]}"#,
            "input_tokens of toy: the counts are all zero: nothing to compare with",
        ),
    ];
    let dir = std::env::temp_dir().join(format!("inferwatch-drift-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (i, (series, why)) in cases.iter().enumerate() {
        let err = Baseline::from_json(&doc(series)).expect_err(why);
        assert_eq!(err.to_string(), format!("drift baseline: {why}"));
        let path = dir.join(format!("{i}.json"));
        std::fs::write(&path, doc(series)).expect("write");
        let err = Baseline::load(&path).expect_err(why);
        assert_eq!(err.to_string(), format!("drift baseline: {}: {why}", path.display()));
    }
    // A file saved from a warm-up with no edge (every value in one bin) would be as blind: refused too.
    let blind = Baseline::from_json(&doc(r#"{"feature": "input_tokens", "model": "toy", "counts": [1000]}"#))
        .expect("well formed");
    let refused = Drift::builder()
        .recorder(inferwatch::SharedRecorder::new(metrics::NoopRecorder))
        .baseline(blind)
        .build()
        .expect_err("blind");
    assert_eq!(
        refused.to_string(),
        "drift baseline: input_tokens of toy: no edge, so every value would fall in one bin"
    );
    // Files naming hundreds of thousands of unknown models: refused for their size before they are read whole,
    // or, smaller, as soon as the parser has read one series more than a baseline may hold.
    let series = |n| -> String {
        (0..n)
            .map(|i| format!(r#"{{"feature": "input_tokens", "model": "m{i}", "edges": [10], "counts": [1, 1]}}"#))
            .collect::<Vec<_>>()
            .join(",")
    };
    let path = dir.join("huge.json");
    std::fs::write(&path, doc(&series(300_000))).expect("write");
    let err = Baseline::load(&path).expect_err("huge");
    assert_eq!(
        err.to_string(),
        format!(
            "drift baseline: {}: more than the 16777216 bytes a baseline may have",
            path.display()
        )
    );
    std::fs::write(&path, doc(&series(5_000))).expect("write");
    let err = Baseline::load(&path).expect_err("too many series").to_string();
    let expected = format!(
        "drift baseline: {}: more than 4096 in a list that holds 4096 at most",
        path.display()
    );
    assert!(err.starts_with(&expected), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
