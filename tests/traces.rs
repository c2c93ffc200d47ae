//! Spans exported over OTLP from a real axum server and a real tonic server to an in-process receiver, decoded
//! and checked as a tree; JSON log lines parsed and matched to the spans.

mod support;

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use inferwatch::observe::TracingObserver;
use inferwatch::{FinishReason, InferenceLayer, RequestHandle};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtelStatus;
use support::otlp::{all_text, attr, attr_bool, attr_int, attr_str, fixture, hex};
use support::{client, send, serve};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const PROMPT: &str = "the confidential prompt text";

async fn chat(handle: RequestHandle, body: String) -> &'static str {
    let model = if body.contains("capture") {
        "capture-model"
    } else {
        "tree-model"
    };
    handle.set_model(model);
    handle.set_operation("chat");
    handle.record_prompt(&body);
    {
        let _tokenize = handle.stage("tokenize").entered();
        tracing::info!("inside handler");
    }
    handle.add_input_tokens(4);
    handle
        .stage("generate")
        .instrument(tokio::time::sleep(Duration::from_millis(20)))
        .await;
    handle.add_output_tokens(2);
    let decode = handle.stage("decode");
    tokio::task::spawn_blocking(move || decode.in_scope(|| tracing::info!("decoding")))
        .await
        .expect("blocking");
    handle.set_finish_reason(FinishReason::Stop);
    "done"
}

fn app(layer: InferenceLayer) -> Router {
    Router::new()
        .route("/chat", post(chat))
        .route(
            "/unavailable",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "busy") }),
        )
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no") }))
        .route("/plain/{tag}", get(|| async { "plain" }))
        .route("/ignored", get(|| async { "ignored" }))
        .layer(layer)
}

fn layer(
    configure: impl FnOnce(inferwatch::InferenceLayerBuilder) -> inferwatch::InferenceLayerBuilder,
) -> InferenceLayer {
    fixture();
    support::isolated_layer(configure).0
}

fn kind(span: &Span) -> SpanKind {
    SpanKind::try_from(span.kind).expect("kind")
}

fn status(span: &Span) -> OtelStatus {
    OtelStatus::try_from(span.status.as_ref().map_or(0, |s| s.code)).expect("status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_stage_spans_form_a_tree_under_the_incoming_trace() {
    let f = fixture();
    let addr = serve(app(layer(|b| b))).await;
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let r = send(
        &client(),
        addr,
        "POST",
        "/chat",
        &[("traceparent", &traceparent)],
        PROMPT,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        !r.headers.contains_key("traceparent"),
        "responses are not changed unless asked"
    );

    let requests = f.spans_where(1, |s| attr_str(s, "gen_ai.request.model") == Some("tree-model"));
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.name, "POST /chat");
    assert_eq!(kind(request), SpanKind::Server);
    assert_eq!(hex(&request.trace_id), TRACE);
    assert_eq!(hex(&request.parent_span_id), PARENT);
    assert_eq!(attr_str(request, "http.request.method"), Some("POST"));
    assert_eq!(attr_str(request, "http.route"), Some("/chat"));
    assert_eq!(
        attr_int(request, "http.response.status_code"),
        Some(200),
        "{:?}",
        request.attributes
    );
    assert_eq!(attr_str(request, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(attr_int(request, "gen_ai.usage.input_tokens"), Some(4));
    assert_eq!(attr_int(request, "gen_ai.usage.output_tokens"), Some(2));
    assert_eq!(attr_bool(request, "gen_ai.request.stream"), Some(false));
    assert_eq!(attr_str(request, "inferwatch.outcome"), Some("ok"));
    match attr(request, "gen_ai.response.finish_reasons") {
        Some(Value::ArrayValue(a)) => assert_eq!(
            format!("{:?}", a.values),
            format!(
                "{:?}",
                vec![opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(Value::StringValue("stop".into()))
                }]
            )
        ),
        other => panic!("finish reasons: {other:?}"),
    }
    assert_eq!(status(request), OtelStatus::Unset);
    assert!(
        request.end_time_unix_nano - request.start_time_unix_nano >= 20_000_000,
        "ends after the body"
    );

    let stages = f.spans_where(3, |s| s.parent_span_id == request.span_id);
    let mut names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["decode", "generate", "tokenize"]);
    for stage in &stages {
        assert_eq!(stage.trace_id, request.trace_id);
        assert_eq!(kind(stage), SpanKind::Internal);
        assert!(stage.start_time_unix_nano >= request.start_time_unix_nano);
        assert!(stage.end_time_unix_nano <= request.end_time_unix_nano);
    }
    let generate = stages.iter().find(|s| s.name == "generate").expect("generate");
    assert!(generate.end_time_unix_nano - generate.start_time_unix_nano >= 20_000_000);
    // The handler's events become events of the span they are logged in; inferwatch's summary line does not (it
    // repeats the request span's attributes).
    let event_names = |span: &opentelemetry_proto::tonic::trace::v1::Span| -> Vec<String> {
        span.events.iter().map(|e| e.name.clone()).collect()
    };
    let tokenize = stages.iter().find(|s| s.name == "tokenize").expect("tokenize");
    assert_eq!(event_names(tokenize), ["inside handler"]);
    assert_eq!(event_names(request), Vec::<String>::new());

    // Logs: every line emitted inside the request names its trace; the summary has the numbers.
    let lines: Vec<_> = f.logs.lines().into_iter().filter(|l| l["trace_id"] == TRACE).collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(
        messages.contains(&"inside handler") && messages.contains(&"decoding"),
        "{messages:?}"
    );
    // A line logged inside a stage names the stage, as its span does.
    let span_of = |message: &str| {
        lines
            .iter()
            .find(|l| l["message"] == message)
            .map(|l| l["span"].clone())
    };
    assert_eq!(span_of("inside handler"), Some(serde_json::json!("tokenize")));
    assert_eq!(span_of("decoding"), Some(serde_json::json!("decode")));
    let request_span = hex(&request.span_id);
    let summary = lines
        .iter()
        .find(|l| l["message"] == "request finished" && l["span_id"] == request_span.as_str());
    let summary = summary.expect("a summary line in the request span");
    assert_eq!(summary["level"], "INFO");
    // The line's shape: these keys and no others (the span's ids at the top, never among the fields).
    let keys = |v: &serde_json::Value| -> Vec<String> { v.as_object().expect("object").keys().cloned().collect() };
    let top = [
        "fields",
        "level",
        "message",
        "span",
        "span_id",
        "target",
        "timestamp",
        "trace_id",
    ];
    assert_eq!(keys(summary), top);
    let expected = [
        "duration_ms",
        "error_type",
        "experiment",
        "finish_reason",
        "input_tokens",
        "method",
        "model",
        "outcome",
        "output_tokens",
        "response_model",
        "route",
        "status",
        "ttft_ms",
        "variant",
    ];
    assert_eq!(keys(&summary["fields"]), expected);
    let fields = &summary["fields"];
    assert_eq!(
        (fields["method"].as_str(), fields["route"].as_str()),
        (Some("POST"), Some("/chat"))
    );
    assert_eq!(
        (fields["status"].as_str(), fields["outcome"].as_str()),
        (Some("200"), Some("ok"))
    );
    assert_eq!(
        (fields["input_tokens"].as_u64(), fields["output_tokens"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(fields["model"], "tree-model");
    assert!(fields["duration_ms"].as_f64().expect("duration") >= 20.0);
    // Prompt text is neither logged nor put on spans without the opt-in.
    assert!(!f.logs.text().contains(PROMPT));
    assert!(!all_text(request).contains(PROMPT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_mark_the_span_and_log_at_error() {
    let f = fixture();
    let addr = serve(app(layer(|b| b))).await;
    let c = client();
    assert_eq!(send(&c, addr, "GET", "/unavailable", &[], "").await.status, 503);
    assert_eq!(send(&c, addr, "GET", "/missing", &[], "").await.status, 404);
    let failed = f.spans_where(1, |s| attr_str(s, "http.route") == Some("/unavailable"));
    assert_eq!(failed[0].name, "GET /unavailable");
    assert_eq!(status(&failed[0]), OtelStatus::Error);
    assert_eq!(attr_str(&failed[0], "error.type"), Some("503"));
    let missing = f.spans_where(1, |s| attr_str(s, "http.route") == Some("/missing"));
    assert_eq!(
        status(&missing[0]),
        OtelStatus::Unset,
        "4xx is the client's error, not the server's"
    );
    assert_eq!(attr_str(&missing[0], "error.type"), Some("404"));
    let trace = hex(&failed[0].trace_id);
    let summary = f
        .logs
        .lines()
        .into_iter()
        .find(|l| l["trace_id"] == trace.as_str() && l["message"] == "request finished");
    assert_eq!(summary.expect("summary")["level"], "ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_traceparents_start_new_traces() {
    let f = fixture();
    let bad = [
        format!("00-{}-{PARENT}-01", &TRACE[..31]),
        format!("00-{TRACE}-{}-01", &PARENT[..15]),
        format!("00-{}zz-{PARENT}-01", &TRACE[..30]),
        format!("00-{}-{PARENT}-01", "0".repeat(32)),
        format!("00-{TRACE}-{}-01", "0".repeat(16)),
        format!("ff-{TRACE}-{PARENT}-01"),
        "garbage".to_string(),
    ];
    // A route of its own per header, used by no other test: each request's span is found by its route, whatever
    // its parent, so a header wrongly accepted cannot hide among other spans.
    let routes: Vec<String> = (0..bad.len()).map(|i| format!("/malformed/{i}")).collect();
    let router = routes.iter().fold(Router::new(), |router, route| {
        router.route(route, get(|| async { "plain" }))
    });
    let addr = serve(router.layer(layer(|b| b))).await;
    let c = client();
    for (route, traceparent) in routes.iter().zip(&bad) {
        let r = send(&c, addr, "GET", route, &[("traceparent", traceparent)], "").await;
        assert_eq!(r.status, 200, "{traceparent}");
    }
    let spans = f.spans_where(bad.len(), |s| {
        attr_str(s, "http.route").is_some_and(|r| r.starts_with("/malformed/"))
    });
    assert_eq!(spans.len(), bad.len(), "{spans:#?}");
    for (route, traceparent) in routes.iter().zip(&bad) {
        let own: Vec<_> = spans
            .iter()
            .filter(|s| attr_str(s, "http.route") == Some(route.as_str()))
            .collect();
        assert_eq!(own.len(), 1, "one span for {route}");
        let span = own[0];
        assert_eq!(span.name, format!("GET {route}"));
        assert_eq!(
            (hex(&span.parent_span_id), span.trace_id.len()),
            (String::new(), 16),
            "{traceparent:?} starts a new root trace"
        );
        assert_ne!(hex(&span.trace_id), TRACE, "{traceparent:?}");
        assert_ne!(span.trace_id, [0; 16], "{traceparent:?}");
    }
    // Seven new traces, not one shared.
    let traces: std::collections::BTreeSet<_> = spans.iter().map(|s| hex(&s.trace_id)).collect();
    assert_eq!(traces.len(), bad.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_context_can_be_ignored_and_traceparent_returned() {
    let f = fixture();
    let ignoring = serve(app(layer(|b| {
        b.tracing(TracingObserver::new().accept_trace_context(false))
    })))
    .await;
    let returning = serve(app(layer(|b| {
        b.tracing(TracingObserver::new().trace_context_in_response(true))
    })))
    .await;
    let c = client();
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    send(&c, ignoring, "GET", "/ignored", &[("traceparent", &traceparent)], "").await;
    let r = send(&c, returning, "GET", "/plain/returned", &[], "").await;
    let returned = r
        .headers
        .get("traceparent")
        .expect("traceparent in response")
        .to_str()
        .expect("ascii")
        .to_owned();

    // The ignoring server's request, found by its route alone (the only test using it), whatever its parent: a
    // span that wrongly continued the incoming trace is caught here, not filtered out.
    let ignored = f.spans_where(1, |s| attr_str(s, "http.route") == Some("/ignored"));
    assert_eq!(ignored.len(), 1, "{ignored:#?}");
    assert_eq!(ignored[0].name, "GET /ignored");
    assert_eq!(hex(&ignored[0].parent_span_id), "", "the incoming parent is ignored");
    assert_ne!(hex(&ignored[0].trace_id), TRACE, "the incoming trace is ignored");
    assert_eq!(ignored[0].trace_id.len(), 16);
    assert_ne!(ignored[0].trace_id, [0; 16]);
    let (version, rest) = returned.split_at(3);
    assert_eq!(version, "00-");
    let (trace, span) = (&rest[..32], &rest[33..49]);
    let named = f.spans_where(1, |s| hex(&s.trace_id) == trace && hex(&s.span_id) == span);
    assert_eq!(named.len(), 1, "{returned} names an exported span");
    assert_eq!(
        (named[0].name.as_str(), hex(&named[0].parent_span_id)),
        ("GET /plain/{tag}", String::new())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_capture_is_opt_in_and_truncated() {
    let f = fixture();
    let addr = serve(app(layer(|b| b.tracing(TracingObserver::new().capture_content(12))))).await;
    let body = format!("capture {PROMPT}");
    send(&client(), addr, "POST", "/chat", &[], &body).await;
    let spans = f.spans_where(1, |s| attr_str(s, "gen_ai.request.model") == Some("capture-model"));
    assert_eq!(attr_str(&spans[0], "gen_ai.input.messages"), Some(&body[..12]));
    assert!(
        !f.logs.text().contains(&body[..12]),
        "captured content goes to spans, never to logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_are_server_spans_named_by_method() {
    use support::grpc::{GenerateRequest, Generator, GeneratorClient, UNARY};
    let f = fixture();
    let layer = layer(|b| b);
    let (addr, incoming) = support::grpc::listener().await;
    let server = tonic::transport::Server::builder().layer(layer).add_service(Generator);
    tokio::spawn(server.serve_with_incoming(incoming));
    let mut grpc = tonic::client::Grpc::new(support::grpc::channel(addr).await);
    grpc.ready().await.expect("ready");
    let mut request = tonic::Request::new(GenerateRequest {
        prompt: "a b".into(),
        model: "grpc-model".into(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE}-{PARENT}-01").parse().expect("metadata"),
    );
    let codec = tonic_prost::ProstCodec::<GenerateRequest, support::grpc::GenerateReply>::default();
    grpc.unary(request, http::uri::PathAndQuery::from_static(UNARY), codec)
        .await
        .expect("ok");
    let client = GeneratorClient::connect(addr).await;
    for code in [tonic::Code::Unavailable, tonic::Code::InvalidArgument] {
        let failing = GenerateRequest {
            model: "grpc-model".into(),
            fail_code: code as i32,
            ..Default::default()
        };
        assert_eq!(client.unary(UNARY, failing).await.expect_err("fails").code(), code);
    }

    let spans = f.spans_where(3, |s| attr_str(s, "gen_ai.request.model") == Some("grpc-model"));
    assert_eq!(spans.len(), 3);
    for span in &spans {
        assert_eq!(span.name, "test.v1.Generator/Generate");
        assert_eq!(kind(span), SpanKind::Server);
        assert_eq!(attr_str(span, "rpc.system.name"), Some("grpc"));
        assert_eq!(attr_str(span, "rpc.method"), Some("test.v1.Generator/Generate"));
    }
    let ok = spans
        .iter()
        .find(|s| attr_str(s, "rpc.response.status_code") == Some("OK"))
        .expect("ok span");
    assert_eq!(
        (hex(&ok.trace_id).as_str(), hex(&ok.parent_span_id).as_str()),
        (TRACE, PARENT)
    );
    let failed = spans
        .iter()
        .find(|s| attr_str(s, "rpc.response.status_code") == Some("UNAVAILABLE"))
        .expect("failed span");
    assert_eq!(status(failed), OtelStatus::Error);
    assert_eq!(attr_str(failed, "error.type"), Some("UNAVAILABLE"));
    let invalid = spans
        .iter()
        .find(|s| attr_str(s, "rpc.response.status_code") == Some("INVALID_ARGUMENT"))
        .expect("invalid-argument span");
    assert_eq!(status(invalid), OtelStatus::Error, "every gRPC code but OK is an error");
    assert_eq!(status(ok), OtelStatus::Unset);
}
