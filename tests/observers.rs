//! The observer pipeline on a real server: a user's observer sees every signal (request, polls, stages, content,
//! queue, features, scores,
//! finish); observers are chosen at run time (metrics only, spans only, switched off), and stages reach every
//! observer.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::stream;
use http::HeaderMap;
use inferwatch::labels::LabelValue;
use inferwatch::observe::{
    Event, LayerEvent, MetricsObserver, Observer, RequestInfo, RequestSummary, StageId, TracingObserver,
};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::{InferenceLayer, RequestHandle};
use support::otlp::{attr_str, fixture};
use support::{client, scrape, send, serve};

/// Writes down every call it gets, in order.
#[derive(Clone, Default)]
struct Recording(Arc<Mutex<Vec<String>>>);

impl Recording {
    fn push(&self, event: String) {
        self.0.lock().expect("lock").push(event);
    }

    fn events(&self) -> Vec<String> {
        self.0.lock().expect("lock").clone()
    }

    fn count(&self, prefix: &str) -> usize {
        self.events().iter().filter(|e| e.starts_with(prefix)).count()
    }
}

/// A request as [`Recording`] follows it: its route, and the names of its stages in progress, by id.
struct Followed {
    route: String,
    stages: Mutex<HashMap<StageId, String>>,
}

/// Label values, comma-separated.
fn joined(values: &[LabelValue]) -> String {
    values.iter().map(LabelValue::as_str).collect::<Vec<_>>().join(",")
}

impl Observer for Recording {
    type RequestData = Followed;

    fn on_layer_event(&self, event: &LayerEvent<'_>) {
        match *event {
            LayerEvent::Start {
                routes,
                model_routes,
                models,
                operations,
                experiments,
                evaluators,
                ..
            } => {
                let experiments: Vec<String> = experiments
                    .iter()
                    .map(|(e, variants)| format!("{e}:{}", joined(variants)))
                    .collect();
                self.push(format!(
                    "start routes={} model_routes={} models={} operations={} experiments={} evaluators={}",
                    joined(routes),
                    joined(model_routes),
                    joined(models),
                    joined(operations),
                    experiments.join(";"),
                    joined(evaluators)
                ));
            }
            #[cfg(feature = "feedback")]
            LayerEvent::Feedback {
                rating,
                model,
                trace,
                unattributed,
                repeated,
                ..
            } => self.push(format!(
                "feedback {} model={model} linked={} unattributed={} repeated={repeated}",
                rating.as_str(),
                trace.is_some(),
                unattributed.map_or("-", |u| u.as_str()),
            )),
            _ => {}
        }
    }

    fn on_request(&self, info: &RequestInfo, _headers: &HeaderMap) -> Followed {
        self.push(format!("request {} {}", info.method, info.route));
        let route = info.route.to_string();
        let stages = Mutex::default();
        Followed { route, stages }
    }

    fn enter(&self, _request: &Followed) {
        self.push("enter".into());
    }

    fn exit(&self, _request: &Followed) {
        self.push("exit".into());
    }

    fn on_response_headers(&self, request: &Followed, _headers: &mut HeaderMap) {
        self.push(format!("headers {}", request.route));
    }

    fn on_event(&self, request: &Followed, event: &Event<'_>) {
        let mut stages = request.stages.lock().expect("lock");
        match *event {
            Event::StageStart { id, name, .. } => {
                self.push(format!("stage-start {name} of {}", request.route));
                stages.insert(id, name.to_string());
            }
            Event::StageEnter(id) => self.push(format!("stage-enter {}", stages[&id])),
            Event::StageExit(id) => self.push(format!("stage-exit {}", stages[&id])),
            Event::StageEnd { id, name, model, .. } => {
                let stage = stages.remove(&id).expect("a stage ends once, after it started");
                let model = model.map_or("-", LabelValue::as_str);
                assert_eq!(stage, name.as_str(), "the stage's id leads back to its start");
                self.push(format!("stage-end {stage} model={model}"));
            }
            Event::Prompt(text) => self.push(format!("content Prompt {text}")),
            Event::Completion(text) => self.push(format!("content Completion {text}")),
            Event::Serving => self.push("serving".into()),
            Event::QueueEntered { model, .. } => self.push(format!("queue-entered model={}", label(model))),
            Event::QueueScheduled { model, waited, .. } => {
                assert!(waited < Duration::from_secs(1), "{waited:?}");
                self.push(format!("queue-scheduled model={}", label(model)));
            }
            Event::QueueAbandoned { model, .. } => self.push(format!("queue-abandoned model={}", label(model))),
            Event::Feature { model, name, value } => {
                self.push(format!("feature {name}={value:?} model={}", label(model)));
            }
            Event::Score {
                evaluator,
                value,
                accepted,
                model,
                ..
            } => self.push(format!(
                "score {evaluator}={value} accepted={accepted} model={}",
                label(model)
            )),
            _ => {}
        }
    }

    fn on_finish(&self, request: &Followed, s: &RequestSummary<'_>) {
        let usage = s.usage;
        assert!(
            request.stages.lock().expect("lock").is_empty(),
            "every stage ended before the request"
        );
        self.push(match s.span_context() {
            Some(cx) => format!(
                "span-context {} {} sampled={}",
                cx.trace_id(),
                cx.span_id(),
                cx.is_sampled()
            ),
            None => "span-context none".into(),
        });
        self.push(format!(
            "finish {} {} in={} out={}",
            request.route,
            s.outcome.as_str(),
            usage.input_tokens,
            usage.output_tokens
        ));
    }
}

fn label(value: Option<&LabelValue>) -> &str {
    value.map_or("-", LabelValue::as_str)
}

/// Three stages, three ways (guard, future, another thread), a wait in the queue, the prompt and the completion, a
/// drift feature, a quality score, and a streamed body of three chunks.
async fn staged(handle: RequestHandle) -> Body {
    {
        let _tokenize = handle.stage("tokenize").entered();
    }
    handle.set_model("toy");
    handle.enter_queue().scheduled();
    handle.record_prompt("the prompt");
    handle.record_completion("the answer");
    handle.record_feature("prompt_chars", 10.0);
    handle.record_category("language", "en");
    assert!(handle.record_score("judge", 0.5).is_ok());
    assert!(handle.record_score("judge", 2.0).is_err());
    handle.add_input_tokens(2);
    handle
        .stage("generate")
        .instrument(tokio::time::sleep(Duration::from_millis(1)))
        .await;
    let decode = handle.stage("decode");
    tokio::task::spawn_blocking(move || decode.in_scope(|| ()))
        .await
        .expect("blocking");
    let chunks = stream::iter(0..3).map(move |i| {
        handle.add_output_tokens(1);
        Ok::<_, std::convert::Infallible>(Bytes::from(format!("chunk{i}")))
    });
    Body::from_stream(chunks)
}

use futures_util::StreamExt as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_observer_sees_every_signal() {
    let recording = Recording::default();
    let layer = InferenceLayer::builder().observer(recording.clone()).build();
    assert_eq!(
        recording.events(),
        [
            "start routes= model_routes= models= operations=chat,text_completion,embeddings,generate_content experiments= evaluators="
        ],
        "nothing declared: the well-known operations only"
    );
    let addr = serve(Router::new().route("/staged", post(staged)).layer(layer)).await;
    let response = send(&client(), addr, "POST", "/staged", &[], "").await;
    assert_eq!(response.body, "chunk0chunk1chunk2");
    assert!(
        // The finish comes inside the request's scope: its exit follows.
        support::eventually(Duration::from_secs(2), || {
            recording.count("finish") == 1 && recording.count("enter") == recording.count("exit")
        })
        .await,
        "{:?}",
        recording.events()
    );

    let events = recording.events();
    assert_eq!(events.get(1).map(String::as_str), Some("request POST /staged"));
    assert_eq!(recording.count("headers /staged"), 1);
    assert_eq!(recording.count("enter"), recording.count("exit"));
    assert!(
        recording.count("enter") >= 2,
        "the future and the body are polled inside the request"
    );
    for stage in ["tokenize", "generate", "decode"] {
        assert_eq!(
            recording.count(&format!("stage-start {stage} of /staged")),
            1,
            "{events:?}"
        );
        let entered = recording.count(&format!("stage-enter {stage}"));
        assert!(entered >= 1, "{stage} never entered: {events:?}");
        assert_eq!(entered, recording.count(&format!("stage-exit {stage}")));
    }
    // The model was named after tokenize ended and before the other two.
    assert_eq!(recording.count("stage-end tokenize model=-"), 1, "{events:?}");
    assert_eq!(recording.count("stage-end generate model=toy"), 1, "{events:?}");
    assert_eq!(recording.count("stage-end decode model=toy"), 1, "{events:?}");
    assert_eq!(recording.count("content Prompt the prompt"), 1);
    assert_eq!(recording.count("content Completion the answer"), 1);
    // No observer of this layer makes spans.
    assert_eq!(recording.count("span-context none"), 1, "{events:?}");
    // Serving once, when the first stage started (before the model was named).
    assert_eq!(recording.count("serving"), 1);
    let serving = events.iter().position(|e| e == "serving").expect("serving");
    let first_stage = events
        .iter()
        .position(|e| e.starts_with("stage-start"))
        .expect("a stage");
    assert!(serving < first_stage, "{events:?}");
    assert_eq!(recording.count("queue-entered model=toy"), 1, "{events:?}");
    assert_eq!(recording.count("queue-scheduled model=toy"), 1, "{events:?}");
    assert_eq!(recording.count("queue-abandoned"), 0, "{events:?}");
    assert_eq!(recording.count("stage-end queue model=toy"), 1, "{events:?}");
    assert_eq!(
        recording.count("feature prompt_chars=Number(10.0) model=toy"),
        1,
        "{events:?}"
    );
    assert_eq!(
        recording.count("feature language=Category(\"en\") model=toy"),
        1,
        "{events:?}"
    );
    assert_eq!(
        recording.count("score judge=0.5 accepted=true model=toy"),
        1,
        "{events:?}"
    );
    assert_eq!(
        recording.count("score judge=2 accepted=false model=toy"),
        1,
        "{events:?}"
    );
    // The request finishes inside its scope: the last events are the finish, then the scope's exit.
    let tail: Vec<&str> = events.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, ["finish /staged ok in=2 out=3", "exit"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_only_records_stages_and_makes_no_spans() {
    let f = fixture();
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let layer = InferenceLayer::builder()
        .observer(MetricsObserver::with_recorder(recorder))
        .build();
    let addr = serve(Router::new().route("/metrics-only", post(staged)).layer(layer)).await;
    assert_eq!(
        send(&client(), addr, "POST", "/metrics-only", &[], "").await.status,
        200
    );

    let s = scrape(&exporter);
    for (stage, model) in [("tokenize", ""), ("generate", "toy"), ("decode", "toy")] {
        let labels = [("stage", stage), ("gen_ai_request_model", model)];
        assert_eq!(
            s.get("inferwatch_stage_duration_seconds_count", &labels),
            1.0,
            "{stage}"
        );
    }
    let requests = [
        ("route", "/metrics-only"),
        ("gen_ai_request_model", "toy"),
        ("outcome", "ok"),
    ];
    assert_eq!(s.get("inferwatch_requests_total", &requests), 1.0);
    let spans = f.spans_where(0, |s| attr_str(s, "http.route") == Some("/metrics-only"));
    assert!(spans.is_empty(), "metrics only, yet spans: {spans:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_only_and_spans_switched_off_at_run_time() {
    let f = fixture();
    let spans_only = InferenceLayer::builder().observer(TracingObserver::new()).build();
    let switched_off = InferenceLayer::builder().observer(None::<TracingObserver>).build();
    let switched_on = InferenceLayer::builder().observer(Some(TracingObserver::new())).build();
    let app = Router::new()
        .route("/spans-only", get(|| async { "a" }).layer(spans_only))
        .route("/switched-off", get(|| async { "b" }).layer(switched_off))
        .route("/switched-on", get(|| async { "c" }).layer(switched_on));
    let addr = serve(app).await;
    let http = client();
    for path in ["/spans-only", "/switched-off", "/switched-on"] {
        assert_eq!(send(&http, addr, "GET", path, &[], "").await.status, 200);
    }
    let routes = ["/spans-only", "/switched-off", "/switched-on"];
    let spans = f.spans_where(2, |s| attr_str(s, "http.route").is_some_and(|r| routes.contains(&r)));
    let mut traced: Vec<&str> = spans.iter().filter_map(|s| attr_str(s, "http.route")).collect();
    traced.sort_unstable();
    assert_eq!(traced, ["/spans-only", "/switched-on"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_added_to_the_defaults_keeps_them_and_is_shared_with_the_application() {
    let f = fixture();
    let recording = Arc::new(Recording::default());
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let layer = InferenceLayer::builder()
        .recorder(recorder)
        .with(recording.clone())
        .build();
    let addr = serve(Router::new().route("/added", post(staged)).layer(layer)).await;
    assert_eq!(send(&client(), addr, "POST", "/added", &[], "").await.status, 200);
    // The application reads its own observer through the handle it kept.
    assert!(
        support::eventually(Duration::from_secs(2), || recording.count("finish") == 1).await,
        "{:?}",
        recording.events()
    );
    assert_eq!(recording.count("finish /added ok in=2 out=3"), 1);
    // The defaults are still there: the metrics, and the request span with its stages.
    let s = scrape(&exporter);
    let requests = [("route", "/added"), ("gen_ai_request_model", "toy"), ("outcome", "ok")];
    assert_eq!(s.get("inferwatch_requests_total", &requests), 1.0);
    let spans = f.spans_where(4, |s| {
        s.name == "POST /added" || ["tokenize", "generate", "decode"].contains(&s.name.as_str())
    });
    assert_eq!(spans.len(), 4, "{spans:?}");
    // The added observer finds the request span the tracing observer made, as it was exported.
    let request = spans
        .iter()
        .find(|s| s.name == "POST /added")
        .expect("the request span");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let expected = format!(
        "span-context {} {} sampled=true",
        hex(&request.trace_id),
        hex(&request.span_id)
    );
    assert_eq!(recording.count(&expected), 1, "{:?}", recording.events());
}

/// Answers as `toy`, with the response id feedback names.
#[cfg(feature = "feedback")]
async fn answered(handle: RequestHandle) -> String {
    handle.set_model("toy");
    handle.response_id().expect("the layer has a feedback key")
}

#[cfg(feature = "feedback")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_observer_sees_the_layers_start_and_feedback() {
    use inferwatch::experiment::Experiment;
    use inferwatch::feedback::{FeedbackError, FeedbackKey, Rating};

    // With a subscriber installed, response ids carry the request span, and feedback links to it.
    let _f = fixture();
    let recording = Recording::default();
    let rollout = Experiment::builder("rollout")
        .variant("control", 1.0)
        .variant("candidate", 1.0)
        .build()
        .expect("experiment");
    let key = FeedbackKey::new(b"a secret the replicas share, 32+").expect("key");
    let layer = InferenceLayer::builder()
        .http_routes(["/answer"])
        .allowed_models(["toy", "big"])
        .operations(["chat"])
        .experiment(&rollout)
        .evaluators(["judge"])
        .feedback_key(key)
        .observer((recording.clone(), TracingObserver::new()))
        .build();
    assert_eq!(
        recording.events(),
        [
            "start routes=/answer model_routes=/answer models=big,toy operations=chat \
          experiments=rollout:control,candidate evaluators=judge"
        ]
    );
    let feedback = layer.feedback();
    let addr = serve(Router::new().route("/answer", post(answered)).layer(layer)).await;
    let response = send(&client(), addr, "POST", "/answer", &[], "").await;
    assert_eq!(response.status, 200);
    let id = std::str::from_utf8(&response.body).expect("utf-8").to_owned();

    assert_eq!(feedback.record(&id, Rating::Positive), Ok(()));
    assert_eq!(feedback.record(&id, Rating::Negative), Err(FeedbackError::Repeated));
    assert!(matches!(
        feedback.record("not-an-id", Rating::Negative),
        Err(FeedbackError::Unattributed(_))
    ));
    let feedback: Vec<String> = recording
        .events()
        .into_iter()
        .filter(|e| e.starts_with("feedback"))
        .collect();
    assert_eq!(
        feedback,
        [
            "feedback positive model=toy linked=true unattributed=- repeated=false",
            "feedback negative model=toy linked=true unattributed=- repeated=true",
            "feedback negative model=_OTHER linked=false unattributed=invalid repeated=false",
        ]
    );
}
