//! Experiments, quality scores and feedback on a real axum server on loopback: variants assigned by header and
//! counted per variant, labels bounded whatever handlers and clients send, scores on the metrics and the span,
//! and feedback attributed on another replica after the answer has ended.

mod support;

use std::time::Duration;

use axum::extract::Extension;
use axum::routing::post;
use axum::{Json, Router};
use inferwatch::experiment::{Assignment, Experiment, WithoutKey};
use inferwatch::feedback::{Feedback, FeedbackError, FeedbackKey, Rating, Unattributed};
use inferwatch::prometheus::PrometheusExporter;
use inferwatch::{FinishReason, InferenceLayer, RequestHandle};
use serde_json::{Value, json};
use support::otlp::{attr_str, fixture, hex};
use support::{Scrape, client, isolated_layer, scrape, send, serve};
use tower::ServiceBuilder;

fn rollout() -> Experiment {
    Experiment::builder("rollout")
        .variant("control", 0.5)
        .variant("treatment", 0.5)
        .key_header("x-user-id")
        .without_key(WithoutKey::Unassigned)
        .build()
        .expect("experiment")
}

/// Answers as the variant's model, scores the answer, returns a response id; `score` in the body is recorded as
/// given (for rejection tests), `evaluator` names the evaluator.
async fn complete(
    handle: RequestHandle,
    assignment: Option<Extension<Assignment>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let model = match assignment.as_ref().map(|a| a.variant()) {
        Some("treatment") => "toy-large",
        _ => "toy",
    };
    handle.set_model(model);
    if body["fallback"].as_bool() == Some(true) {
        handle.set_response_model("toy-fallback");
    }
    handle.add_input_tokens(3);
    handle.mark_first_token();
    let output = body["output_tokens"].as_u64().unwrap_or(2);
    handle.add_output_tokens(output);
    handle.set_finish_reason(FinishReason::parse(body["finish"].as_str().unwrap_or("stop")));
    let evaluator = body["evaluator"].as_str().unwrap_or("schema");
    let score = body["score"].as_f64().unwrap_or(0.75);
    let accepted = handle.record_score(evaluator, score).is_ok();
    if let Some(variant) = body["set_variant"].as_array() {
        handle.set_variant(variant[0].as_str().unwrap_or(""), variant[1].as_str().unwrap_or(""));
    }
    Json(json!({
        "id": handle.response_id(),
        "variant": handle.variant().map(|(_, v)| v),
        "assigned": assignment.map(|a| a.variant().to_owned()),
        "accepted": accepted,
    }))
}

fn replica(key: &[u8]) -> (Router, Feedback, PrometheusExporter) {
    let experiment = rollout();
    let (layer, exporter) = isolated_layer(|b| {
        b.allowed_models(["toy", "toy-large", "toy-fallback"])
            .experiment(&experiment)
            .evaluators(["schema"])
            .feedback_key(FeedbackKey::new(key).expect("key"))
    });
    let feedback = layer.feedback();
    let app = Router::new()
        .route("/v1/completions", post(complete))
        .layer(ServiceBuilder::new().layer(layer).layer(experiment.layer()))
        .merge(feedback.router());
    (app, feedback, exporter)
}

const KEY: &[u8] = b"replicas share this feedback key";

async fn call(addr: std::net::SocketAddr, user: Option<&str>, body: Value) -> Value {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(user) = user {
        headers.push(("x-user-id", user));
    }
    let r = send(&client(), addr, "POST", "/v1/completions", &headers, &body.to_string()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    serde_json::from_slice(&r.body).expect("json")
}

fn ev(variant: &str) -> [(&'static str, &str); 2] {
    [("experiment", "rollout"), ("variant", variant)]
}

fn ev_rated<'a>(variant: &'a str, rating: &'a str) -> [(&'static str, &'a str); 3] {
    [("experiment", "rollout"), ("variant", variant), ("rating", rating)]
}

/// The variant `user` is assigned, and the model that answers it.
fn variant_and_model(user: &str) -> (String, &'static str) {
    let variant = rollout()
        .assign(Some(user.as_bytes()))
        .expect("assigned")
        .variant()
        .to_owned();
    let model = if variant == "treatment" { "toy-large" } else { "toy" };
    (variant, model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_are_assigned_by_key_and_counted_per_variant() {
    let (app, _, exporter) = replica(KEY);
    // Series of the declared experiment exist before any request.
    let s = scrape(&exporter);
    let ok = |v| [("experiment", "rollout"), ("variant", v), ("outcome", "ok")];
    assert_eq!(
        s.try_get("inferwatch_experiment_requests_total", &ok("treatment")),
        Some(0.0)
    );
    let addr = serve(app).await;
    let mut expected = std::collections::HashMap::new();
    for i in 0..40 {
        let user = format!("user-{i}");
        let a = rollout().assign(Some(user.as_bytes())).expect("assigned");
        let r = call(addr, Some(&user), json!({})).await;
        // The layer's assignment, the handle's view of it and the reference hash agree.
        assert_eq!(r["assigned"], a.variant());
        assert_eq!(r["variant"], a.variant());
        // The same key again: the same variant.
        assert_eq!(call(addr, Some(&user), json!({})).await["assigned"], a.variant());
        *expected.entry(a.variant().to_owned()).or_insert(0.0) += 2.0;
    }
    // No key and WithoutKey::Unassigned: outside the experiment.
    assert_eq!(call(addr, None, json!({})).await["assigned"], Value::Null);

    let s = scrape(&exporter);
    for variant in ["control", "treatment"] {
        let n = expected.get(variant).copied().unwrap_or(0.0);
        assert!(n > 0.0, "40 users all in one variant");
        assert_eq!(s.get("inferwatch_experiment_requests_total", &ok(variant)), n);
        assert_eq!(
            s.get("inferwatch_experiment_request_duration_seconds_count", &ev(variant)),
            n
        );
        assert_eq!(
            s.get("inferwatch_experiment_time_to_first_token_seconds_count", &ev(variant)),
            n
        );
        let output = [
            ("experiment", "rollout"),
            ("variant", variant),
            ("gen_ai_token_type", "output"),
        ];
        assert_eq!(s.get("inferwatch_experiment_tokens_total", &output), 2.0 * n);
        let scores = [("experiment", "rollout"), ("variant", variant), ("evaluator", "schema")];
        assert_eq!(s.get("inferwatch_experiment_quality_score_count", &scores), n);
        assert_eq!(s.get("inferwatch_experiment_quality_score_sum", &scores), 0.75 * n);
    }
    // Every request, in the experiment or not, is in the main metrics with its model.
    let total: f64 = s.sum("inferwatch_requests_total", &[("route", "/v1/completions")]);
    assert_eq!(total, 81.0);
    assert_eq!(
        s.get(
            "inferwatch_finish_reasons_total",
            &[
                ("gen_ai_request_model", "toy"),
                ("gen_ai_response_finish_reason", "stop")
            ]
        ),
        expected.get("control").copied().unwrap_or(0.0) + 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_and_evaluator_labels_stay_bounded() {
    let (app, _, exporter) = replica(KEY);
    let addr = serve(app).await;
    support::run_concurrently(10_000, 16, |i| async move {
        let body = json!({
            "set_variant": [format!("exp-{i}"), format!("v-{i}")],
            "evaluator": format!("evaluator-{i}"),
        });
        call(addr, Some("user-1"), body).await;
    })
    .await;
    // A declared experiment with a variant it does not have.
    call(addr, Some("user-1"), json!({"set_variant": ["rollout", "nope"]})).await;
    let text = exporter.render();
    assert!(
        !text.contains("exp-") && !text.contains("\"v-"),
        "undeclared names became labels"
    );
    let s = Scrape::parse(&text);
    let other = [("experiment", "_OTHER"), ("variant", "_OTHER"), ("outcome", "ok")];
    assert_eq!(s.get("inferwatch_experiment_requests_total", &other), 10_000.0);
    let declared_other = [("experiment", "rollout"), ("variant", "_OTHER"), ("outcome", "ok")];
    assert_eq!(s.get("inferwatch_experiment_requests_total", &declared_other), 1.0);
    // The declared evaluator, 16 more, and _OTHER.
    let evaluators = s.label_values("inferwatch_quality_score_count", "evaluator");
    assert_eq!(evaluators.len(), 18, "{evaluators:?}");
    assert!(evaluators.contains("_OTHER") && evaluators.contains("schema"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_outside_the_unit_interval_are_counted_and_dropped() {
    let (app, _, exporter) = replica(KEY);
    let addr = serve(app).await;
    for score in [1.5, -0.1] {
        let r = call(addr, Some("user-1"), json!({"score": score})).await;
        assert_eq!(r["accepted"], false);
    }
    let r = call(addr, Some("user-1"), json!({"score": 0.25})).await;
    assert_eq!(r["accepted"], true);
    let s = scrape(&exporter);
    assert_eq!(
        s.get("inferwatch_quality_score_rejected_total", &[("evaluator", "schema")]),
        2.0
    );
    let model = rollout().assign(Some(b"user-1")).map(|a| a.variant().to_owned());
    let model = if model.as_deref() == Some("treatment") {
        "toy-large"
    } else {
        "toy"
    };
    let labels = [("evaluator", "schema"), ("gen_ai_request_model", model)];
    assert_eq!(s.get("inferwatch_quality_score_count", &labels), 1.0);
    assert_eq!(s.get("inferwatch_quality_score_sum", &labels), 0.25);
    // Quality proxies: an empty answer, a truncation.
    call(addr, Some("user-1"), json!({"output_tokens": 0, "finish": "length"})).await;
    let s = scrape(&exporter);
    assert_eq!(
        s.get("inferwatch_empty_responses_total", &[("gen_ai_request_model", model)]),
        1.0
    );
    let length = [
        ("gen_ai_request_model", model),
        ("gen_ai_response_finish_reason", "length"),
    ];
    assert_eq!(s.get("inferwatch_finish_reasons_total", &length), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_attributed_on_another_replica_after_the_answer() {
    let (answering, _, _) = replica(KEY);
    let (receiving, feedback, exporter) = replica(KEY);
    let (answering, receiving) = (serve(answering).await, serve(receiving).await);
    let user = "user-7";
    let (variant, model) = variant_and_model(user);
    let answer = call(answering, Some(user), json!({})).await;
    let id = answer["id"].as_str().expect("a response id").to_owned();
    assert!(id.starts_with("resp-"));

    // The answer has ended; its feedback goes to the other replica, over HTTP.
    let http = client();
    let post = |body: Value| {
        let http = http.clone();
        async move {
            send(
                &http,
                receiving,
                "POST",
                "/v1/feedback",
                &[("content-type", "application/json")],
                &body.to_string(),
            )
            .await
        }
    };
    let r = post(json!({"response_id": id, "rating": "negative", "comment": "my phone number is 555"})).await;
    assert_eq!(r.status, 202);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"attributed": true})
    );
    // The same answer rated again, with another rating or the same: the first rating stands, once.
    let r = post(json!({"response_id": id, "score": 0.5})).await;
    assert_eq!(r.status, 409);
    let error: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        error["error"]["message"],
        "feedback on this response id was counted already"
    );
    assert_eq!(feedback.record(&id, Rating::Negative), Err(FeedbackError::Repeated));
    // Another answer, rated through the library API.
    let second = call(answering, Some(user), json!({})).await["id"]
        .as_str()
        .expect("a response id")
        .to_owned();
    assert_eq!(feedback.record(&second, Rating::Positive), Ok(()));

    // A forged id, and one signed with another key: counted, under _OTHER.
    let (other_replica, _, _) = replica(b"another key, not shared with us.");
    let foreign = call(serve(other_replica).await, Some(user), json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for forged in [foreign.as_str(), "resp-AAAA", "chatcmpl-1"] {
        let r = post(json!({"response_id": forged, "rating": "positive"})).await;
        assert_eq!(r.status, 202);
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"attributed": false, "reason": "invalid"})
        );
    }
    // Expired: ids carry whole seconds.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let strict = feedback.clone().max_age(Duration::ZERO);
    assert_eq!(
        strict.record(&id, Rating::Positive),
        Err(FeedbackError::Unattributed(Unattributed::Expired))
    );

    let s = scrape(&exporter);
    let rated = |model, rating| [("gen_ai_request_model", model), ("rating", rating)];
    assert_eq!(s.get("inferwatch_feedback_total", &rated(model, "negative")), 1.0);
    assert_eq!(s.get("inferwatch_feedback_total", &rated(model, "positive")), 1.0);
    assert_eq!(
        s.get("inferwatch_feedback_repeats_total", &[("gen_ai_request_model", model)]),
        2.0
    );
    assert_eq!(s.get("inferwatch_feedback_total", &rated("_OTHER", "positive")), 4.0);
    assert_eq!(
        s.get("inferwatch_experiment_feedback_total", &ev_rated(&variant, "negative")),
        1.0
    );
    assert_eq!(
        s.get("inferwatch_experiment_feedback_total", &ev_rated(&variant, "positive")),
        1.0
    );
    let text = exporter.render();
    assert!(!text.contains("555"), "the comment reached the exposition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_answer_rated_two_hundred_times_counts_once() {
    let (app, _, exporter) = replica(KEY);
    let addr = serve(app).await;
    let user = "user-7";
    let (variant, model) = variant_and_model(user);
    let id = call(addr, Some(user), json!({})).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let http = client();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..200 {
        let rating = if i % 2 == 0 { "negative" } else { "positive" };
        let body = json!({"response_id": id, "rating": rating}).to_string();
        let headers = [("content-type", "application/json")];
        let r = send(&http, addr, "POST", "/v1/feedback", &headers, &body).await;
        *statuses.entry(r.status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses, [(202, 1), (409, 199)].into_iter().collect());
    let s = scrape(&exporter);
    let rated = |rating| [("gen_ai_request_model", model), ("rating", rating)];
    assert_eq!(s.get("inferwatch_feedback_total", &rated("negative")), 1.0);
    assert_eq!(s.get("inferwatch_feedback_total", &rated("positive")), 0.0);
    assert_eq!(
        s.get("inferwatch_feedback_repeats_total", &[("gen_ai_request_model", model)]),
        199.0
    );
    assert_eq!(
        s.get("inferwatch_experiment_feedback_total", &ev_rated(&variant, "negative")),
        1.0
    );
    assert_eq!(
        s.get("inferwatch_experiment_feedback_total", &ev_rated(&variant, "positive")),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_user_id_stays_outside_the_experiment() {
    let (app, _, exporter) = replica(KEY);
    let addr = serve(app).await;
    for user in ["", " ", "\t"] {
        for _ in 0..100 {
            assert_eq!(
                call(addr, Some(user), json!({})).await["assigned"],
                Value::Null,
                "{user:?}"
            );
        }
    }
    let s = scrape(&exporter);
    for variant in ["control", "treatment"] {
        let ok = [("experiment", "rollout"), ("variant", variant), ("outcome", "ok")];
        assert_eq!(s.get("inferwatch_experiment_requests_total", &ok), 0.0, "{variant}");
    }
    assert_eq!(
        s.sum("inferwatch_requests_total", &[("route", "/v1/completions")]),
        300.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_feedback_gets_a_clear_4xx() {
    let (app, _, exporter) = replica(KEY);
    let addr = serve(app).await;
    let http = client();
    let json = [("content-type", "application/json")];
    for (body, status) in [
        ("{broken", 400),
        (r#"{"rating": "positive"}"#, 400),
        (r#"{"response_id": "x"}"#, 400),
        (r#"{"response_id": "x", "rating": "positive", "score": 1}"#, 400),
        (r#"{"response_id": "x", "rating": "great"}"#, 400),
        (r#"{"response_id": "x", "score": 2}"#, 400),
        (r#"{"response_id": "x", "rating": "positive", "extra": 1}"#, 400),
    ] {
        let r = send(&http, addr, "POST", "/v1/feedback", &json, body).await;
        assert_eq!(r.status, status, "{body}");
        let error: Value = serde_json::from_slice(&r.body).expect("an OpenAI-shaped error");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{body}");
    }
    let r = send(
        &http,
        addr,
        "POST",
        "/v1/feedback",
        &[("content-type", "text/plain")],
        "{}",
    )
    .await;
    assert_eq!(r.status, 415);
    let big = format!(r#"{{"response_id": "{}", "rating": "positive"}}"#, "x".repeat(20_000));
    assert_eq!(send(&http, addr, "POST", "/v1/feedback", &json, &big).await.status, 413);
    // Nothing was recorded for any of them.
    assert_eq!(scrape(&exporter).sum("inferwatch_feedback_total", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_and_feedback_reach_the_trace() {
    let f = fixture();
    let experiment = rollout();
    let layer = InferenceLayer::builder()
        .allowed_models(["toy", "toy-large", "toy-fallback"])
        .experiment(&experiment)
        .feedback_key(FeedbackKey::new(KEY).expect("key"))
        .build();
    let feedback = layer.feedback();
    let app = Router::new()
        .route("/v1/completions", post(complete))
        .layer(ServiceBuilder::new().layer(layer).layer(experiment.layer()));
    let addr = serve(app).await;
    let answer = call(
        addr,
        Some("trace-user"),
        json!({"fallback": true, "evaluator": "traced-schema"}),
    )
    .await;
    let id = answer["id"].as_str().expect("id").to_owned();
    feedback.record(&id, Rating::Positive).expect("attributed");

    let requests = f.spans_where(1, |s| attr_str(s, "gen_ai.response.id") == Some(id.as_str()));
    let request = &requests[0];
    let variant = answer["assigned"].as_str().expect("assigned");
    assert_eq!(attr_str(request, "inferwatch.experiment.name"), Some("rollout"));
    assert_eq!(attr_str(request, "inferwatch.experiment.variant"), Some(variant));
    assert_eq!(attr_str(request, "gen_ai.response.model"), Some("toy-fallback"));
    let event = request
        .events
        .iter()
        .find(|e| e.name == "gen_ai.evaluation.result")
        .expect("an evaluation event");
    let event_attr = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    assert_eq!(
        event_attr("gen_ai.evaluation.name"),
        Some(V::StringValue("traced-schema".into()))
    );
    assert_eq!(event_attr("gen_ai.evaluation.score.value"), Some(V::DoubleValue(0.75)));

    // The feedback span links to the request span.
    let feedbacks = f.spans_where(1, |s| {
        s.name == "feedback" && s.links.iter().any(|l| l.span_id == request.span_id)
    });
    let link = &feedbacks[0].links[0];
    assert_eq!(hex(&link.trace_id), hex(&request.trace_id));
    assert_eq!(attr_str(&feedbacks[0], "inferwatch.feedback.rating"), Some("positive"));
    assert_eq!(attr_str(&feedbacks[0], "inferwatch.experiment.variant"), Some(variant));
    // The summary line names the variant and the answering model; the feedback line its rating.
    let lines = f.logs.lines();
    let summary = lines
        .iter()
        .find(|l| l["fields"]["response_model"] == "toy-fallback")
        .expect("summary line");
    assert_eq!(summary["fields"]["experiment"], "rollout");
    assert_eq!(summary["fields"]["variant"], variant);
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "feedback received" && l["fields"]["rating"] == "positive")
    );
}
