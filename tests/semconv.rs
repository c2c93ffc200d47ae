//! Every attribute and metric name inferwatch emits is in the OpenTelemetry registries (semantic conventions and
//! the GenAI registry, copied to `tests/data/semconv-registry.txt` by `scripts/semconv_registry.py`), and not
//! deprecated there; inferwatch's own names are under `inferwatch.*` and listed here.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use inferwatch::contract;
use inferwatch::experiment::Experiment;
use inferwatch::feedback::{FeedbackKey, Rating};
use inferwatch::observe::TracingObserver;
use inferwatch::{FinishReason, RequestHandle};
use support::grpc::{GenerateRequest, Generator, GeneratorClient, UNARY};
use support::otlp::fixture;
use support::{client, send, serve};

/// inferwatch's extensions: span attributes and metrics the registries do not have.
const OWN_ATTRIBUTES: &[&str] = &[
    "inferwatch.outcome",
    "inferwatch.stage",
    "inferwatch.experiment.name",
    "inferwatch.experiment.variant",
    "inferwatch.feedback.rating",
    "inferwatch.feedback.score",
    "inferwatch.feedback.unattributed",
    "inferwatch.feedback.repeated",
];
const OWN_METRICS: &[&str] = &[
    "inferwatch.requests",
    "inferwatch.requests.in_flight",
    "inferwatch.requests.unmeasured",
    "inferwatch.tokens",
    "inferwatch.request.tokens",
    "inferwatch.stage.duration",
    "inferwatch.health.status",
    "inferwatch.telemetry.log_lines.dropped",
    "inferwatch.telemetry.spans.exported",
    "inferwatch.telemetry.spans.dropped",
    "inferwatch.telemetry.export.errors",
    "inferwatch.finish_reasons",
    "inferwatch.empty_responses",
    "inferwatch.quality.score",
    "inferwatch.quality.score.rejected",
    "inferwatch.feedback",
    "inferwatch.feedback.repeats",
    "inferwatch.experiment.requests",
    "inferwatch.experiment.request.duration",
    "inferwatch.experiment.time_to_first_token",
    "inferwatch.experiment.tokens",
    "inferwatch.experiment.quality.score",
    "inferwatch.experiment.feedback",
    "inferwatch.request.queue.duration",
    "inferwatch.requests.waiting",
    "inferwatch.engine.kv_cache.usage",
    "inferwatch.engine.batch.size",
    "inferwatch.engine.preemptions",
    "inferwatch.cost",
    "inferwatch.request.cost",
    "inferwatch.experiment.cost",
    "inferwatch.gpu.cost",
    "inferwatch.drift.psi",
    "inferwatch.drift.ks_statistic",
    "inferwatch.drift.chi_square.p_value",
    "inferwatch.drift.window.observations",
];
/// Metrics with no OpenTelemetry name: the Prometheus client's process metrics (recorded by `metrics-process`
/// under the names every Prometheus dashboard knows) and inferwatch's own, under `inferwatch_`.
const PROMETHEUS_ONLY_PREFIXES: &[&str] = &["process_", "inferwatch_"];

struct Registry(BTreeSet<(String, String)>);

impl Registry {
    fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/semconv-registry.txt");
        let text = std::fs::read_to_string(path).expect("registry names");
        let current = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.ends_with(" deprecated"))
            .filter_map(|l| l.split_once(' '))
            .map(|(kind, name)| (kind.to_owned(), name.to_owned()))
            .collect();
        Self(current)
    }

    fn has(&self, kind: &str, name: &str) -> bool {
        self.0.contains(&(kind.to_owned(), name.to_owned()))
    }
}

/// Reports everything a handler can, so that every attribute the request span may carry is set; answers with
/// the response id.
async fn everything(handle: RequestHandle) -> String {
    handle.set_model("semconv-model");
    handle.set_response_model("semconv-model");
    handle.set_variant("semconv-experiment", "a");
    let _ = handle.record_labeled_score("semconv-evaluator", 0.5, "pass");
    handle.set_operation("chat");
    handle.set_stream(true);
    handle.record_prompt("prompt");
    handle.stage("tokenize").in_scope(|| ());
    handle.add_input_tokens(3);
    tokio::time::sleep(Duration::from_millis(2)).await;
    handle.mark_first_token();
    handle.add_output_tokens(4);
    handle.set_finish_reason(FinishReason::Stop);
    handle.record_completion("completion");
    handle.response_id().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emitted_names_are_in_the_registry() {
    let f = fixture();
    let experiment = Experiment::builder("semconv-experiment")
        .variant("a", 1.0)
        .build()
        .expect("experiment");
    let layer = support::isolated_layer(|b| {
        b.tracing(TracingObserver::new().capture_content(100))
            .experiment(&experiment)
            .feedback_key(FeedbackKey::new(b"semconv feedback key, 32 bytes..").expect("key"))
    })
    .0;
    let app = Router::new()
        .route("/everything", post(everything))
        .route("/fail", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "no") }))
        .layer(layer.clone());
    let addr = serve(app).await;
    let http = client();
    let answer = send(&http, addr, "POST", "/everything", &[], "x").await;
    assert_eq!(answer.status, 200);
    let id = String::from_utf8(answer.body.to_vec()).expect("id");
    let second = send(&http, addr, "POST", "/everything", &[], "x").await;
    let second = String::from_utf8(second.body.to_vec()).expect("id");
    let feedback = layer.feedback();
    feedback.record(&id, Rating::Positive).expect("attributed");
    feedback.record_signed_score(&second, -0.5).expect("attributed");
    assert_eq!(
        feedback.record(&id, Rating::Negative),
        Err(inferwatch::feedback::FeedbackError::Repeated)
    );
    assert!(feedback.record("not an id", Rating::Negative).is_err());
    assert_eq!(send(&http, addr, "GET", "/fail", &[], "").await.status, 503);
    assert_eq!(send(&http, addr, "GET", "/unrouted", &[], "").await.status, 404);

    let (grpc_addr, incoming) = support::grpc::listener().await;
    let server = tonic::transport::Server::builder().layer(layer).add_service(Generator);
    tokio::spawn(server.serve_with_incoming(incoming));
    let request = GenerateRequest {
        model: "semconv-model".into(),
        ..Default::default()
    };
    GeneratorClient::connect(grpc_addr)
        .await
        .unary(UNARY, request)
        .await
        .expect("ok");

    // 4 HTTP requests, 2 stages, 1 gRPC call, 4 feedback spans (one a repeat).
    let spans = f.spans_where(11, |_| true);
    // Span attributes, and the attributes of span events.
    let attributes: BTreeSet<&str> = spans
        .iter()
        .flat_map(|s| {
            let events = s.events.iter().flat_map(|e| e.attributes.iter());
            s.attributes.iter().chain(events).map(|kv| kv.key.as_str())
        })
        .collect();
    let registry = Registry::load();
    let events: BTreeSet<&str> = spans
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.name.as_str()))
        .collect();
    assert!(events.contains("gen_ai.evaluation.result"), "{events:?}");
    for event in &events {
        assert!(
            registry.has("event", event),
            "span event {event} is not in the registry"
        );
    }
    for name in &attributes {
        assert!(
            registry.has("attribute", name) || OWN_ATTRIBUTES.contains(name),
            "span attribute {name} is neither in the registry (current) nor one of inferwatch's own"
        );
    }
    for expected in [
        "http.request.method",
        "http.route",
        "http.response.status_code",
        "rpc.system.name",
        "rpc.method",
        "rpc.response.status_code",
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.request.stream",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.response.finish_reasons",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.evaluation.name",
        "gen_ai.evaluation.score.value",
        "gen_ai.evaluation.score.label",
        "error.type",
    ]
    .into_iter()
    .chain(OWN_ATTRIBUTES.iter().copied())
    {
        assert!(
            attributes.contains(expected),
            "no span carried {expected}: {attributes:?}"
        );
    }

    for metric in contract::ALL {
        match metric.otel_name {
            Some(name) => assert!(
                registry.has("metric", name) || OWN_METRICS.contains(&name),
                "metric {name} is neither in the registry (current) nor one of inferwatch's own"
            ),
            None => assert!(
                PROMETHEUS_ONLY_PREFIXES.iter().any(|p| metric.name.starts_with(p)),
                "{} has no OpenTelemetry name and is not a Prometheus-only name",
                metric.name
            ),
        }
    }
    let named: BTreeSet<&str> = contract::ALL.iter().filter_map(|m| m.otel_name).collect();
    for own in OWN_ATTRIBUTES.iter().chain(OWN_METRICS) {
        assert!(own.starts_with("inferwatch."), "{own} is not under inferwatch.*");
        assert!(
            attributes.contains(own) || named.contains(own),
            "{own} is listed as inferwatch's own but never emitted"
        );
    }
}
