//! Head sampling decided before the request span is built (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, 0.5),
//! against a real server, a real OTLP receiver and the JSON lines: the requests whose spans are exported are
//! exactly those the ratio sampler accepts for the trace id in their log line (judged once, on that id), and an
//! unsampled request keeps its ids in every line written in it, in nested spans' lines and in the context it
//! propagates.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::Once;

use axum::Router;
use axum::routing::get;
use inferwatch::{InferenceLayer, RequestHandle};
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
use serde_json::Value;
use support::otlp::{Fixture, attr_str, fixture, hex};
use support::{client, send, serve};

const RATIO: f64 = 0.5;
const ROUTE: &str = "/work/{tag}";

fn sampled_fixture() -> &'static Fixture {
    static ENV: Once = Once::new();
    // Before the fixture reads them; the fixture is built once per test binary.
    ENV.call_once(|| unsafe {
        std::env::set_var("OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
        std::env::set_var("OTEL_TRACES_SAMPLER_ARG", RATIO.to_string());
    });
    fixture()
}

/// Logs in the request, in a nested span, and answers with the `traceparent` an outgoing call would carry.
async fn work(handle: RequestHandle) -> String {
    handle.set_model("sampled-model");
    tracing::info!("inside handler");
    tracing::info_span!("db").in_scope(|| tracing::info!("inside nested span"));
    let mut outgoing = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&opentelemetry::Context::current(), &mut outgoing)
    });
    outgoing.remove("traceparent").unwrap_or_default()
}

fn app() -> Router {
    let layer: InferenceLayer = support::isolated_layer(|b| {
        b.tracing(
            sampled_fixture()
                .guard
                .tracing_observer()
                .trace_context_in_response(true),
        )
    })
    .0;
    Router::new().route(ROUTE, get(work)).layer(layer)
}

fn ratio_accepts(trace_id: &str) -> bool {
    let id = TraceId::from_hex(trace_id).expect("hex trace id");
    let result = Sampler::TraceIdRatioBased(RATIO).should_sample(None, id, "", &SpanKind::Server, &[], &[]);
    result.decision == SamplingDecision::RecordAndSample
}

/// Every log line with `message`.
fn lines(f: &Fixture, message: &str) -> Vec<Value> {
    f.logs.lines().into_iter().filter(|l| l["message"] == message).collect()
}

fn field<'a>(line: &'a Value, key: &str) -> &'a str {
    line[key].as_str().unwrap_or_else(|| panic!("{key} in {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_what_the_sampler_accepts_is_exported_and_every_line_keeps_its_ids() {
    let f = sampled_fixture();
    let addr = serve(app()).await;
    let c = client();
    const N: usize = 400;
    let mut returned = Vec::new();
    for i in 0..N {
        let r = send(&c, addr, "GET", &format!("/work/new{i}"), &[], "").await;
        assert_eq!(r.status, 200);
        let header = r
            .headers
            .get("traceparent")
            .expect("traceparent")
            .to_str()
            .expect("ascii");
        let body = String::from_utf8(r.body.to_vec()).expect("utf-8");
        assert_eq!(
            header, body,
            "the response's trace context is the one the handler propagates"
        );
        returned.push(body);
    }

    // The other test's requests, with incoming parents, have traces of their own: only these here.
    let fresh_traces: BTreeSet<String> = returned
        .iter()
        .map(|t| t.split('-').nth(1).unwrap_or("").to_owned())
        .collect();
    assert_eq!(fresh_traces.len(), N, "a new trace per request");
    let summaries: Vec<Value> = lines(f, "request finished")
        .into_iter()
        .filter(|l| l["trace_id"].as_str().is_some_and(|t| fresh_traces.contains(t)))
        .collect();
    assert_eq!(summaries.len(), N);
    let by_trace: HashMap<&str, &str> = summaries
        .iter()
        .map(|l| (field(l, "trace_id"), field(l, "span_id")))
        .collect();
    let mut expected_sampled = BTreeSet::new();
    for traceparent in &returned {
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        let (trace, span, flags) = (parts[1], parts[2], parts[3]);
        assert_eq!(
            by_trace.get(trace),
            Some(&span),
            "the summary line names the propagated ids"
        );
        let accepted = ratio_accepts(trace);
        assert_eq!(flags, if accepted { "01" } else { "00" }, "{traceparent}");
        if accepted {
            expected_sampled.insert(trace.to_owned());
        }
    }
    // Half of 400, within 5 standard deviations (10 each). A request judged twice, on two ids, would be kept at a
    // quarter of the rate: 100 ± 8.7.
    assert!(
        (150..=250).contains(&expected_sampled.len()),
        "a ratio of 0.5 over {N} traces: {}",
        expected_sampled.len()
    );
    for summary in &summaries {
        assert_eq!(summary["span"], "request", "{summary}");
        assert_eq!(summary["fields"]["route"], ROUTE, "{summary}");
    }

    // Every request's handler line and nested span's line carry its trace id, sampled or not.
    let handler: Vec<Value> = lines(f, "inside handler")
        .into_iter()
        .filter(|l| fresh_traces.contains(field(l, "trace_id")))
        .collect();
    assert_eq!(handler.len(), N);
    for line in &handler {
        assert_eq!(line["span"], "request", "{line}");
        assert_eq!(
            by_trace.get(field(line, "trace_id")),
            Some(&field(line, "span_id")),
            "{line}"
        );
    }
    let nested: Vec<Value> = lines(f, "inside nested span")
        .into_iter()
        .filter(|l| fresh_traces.contains(field(l, "trace_id")))
        .collect();
    assert_eq!(nested.len(), N);
    assert!(nested.iter().all(|l| l["span"] == "db"));

    // Exported: exactly the accepted traces, request spans and nested spans alike.
    let exported = |name: &str| -> BTreeSet<String> {
        f.spans_where(expected_sampled.len(), |s| {
            s.name == name && fresh_traces.contains(&hex(&s.trace_id))
        })
        .iter()
        .map(|s| hex(&s.trace_id))
        .collect()
    };
    assert_eq!(exported("GET /work/{tag}"), expected_sampled);
    assert_eq!(exported("db"), expected_sampled);
    let requests = f.spans_where(expected_sampled.len(), |s| {
        s.name == "GET /work/{tag}" && fresh_traces.contains(&hex(&s.trace_id))
    });
    for span in &requests {
        assert_eq!(attr_str(span, "http.route"), Some(ROUTE));
        assert_eq!(
            by_trace.get(hex(&span.trace_id).as_str()),
            Some(&hex(&span.span_id).as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_parent_decides() {
    let f = sampled_fixture();
    let addr = serve(app()).await;
    let c = client();
    let trace = |i: usize, sampled: bool| format!("{:030x}{:02x}", 0xabc0 + i, u8::from(sampled));
    const PARENT: &str = "00f067aa0ba902b7";
    for i in 0..20 {
        for sampled in [false, true] {
            let traceparent = format!("00-{}-{PARENT}-0{}", trace(i, sampled), u8::from(sampled));
            let r = send(
                &c,
                addr,
                "GET",
                &format!("/work/parent{i}"),
                &[("traceparent", &traceparent)],
                "",
            )
            .await;
            let back = String::from_utf8(r.body.to_vec()).expect("utf-8");
            assert!(back.starts_with(&format!("00-{}-", trace(i, sampled))), "{back}");
            assert!(back.ends_with(if sampled { "-01" } else { "-00" }), "{back}");
        }
    }
    let want: BTreeSet<String> = (0..20).map(|i| trace(i, true)).collect();
    let spans = f.spans_where(20, |s| {
        s.name == "GET /work/{tag}" && hex(&s.trace_id).starts_with("000000")
    });
    let got: BTreeSet<String> = spans.iter().map(|s| hex(&s.trace_id)).collect();
    assert_eq!(
        got, want,
        "a sampled parent is followed whatever the ratio, an unsampled one never exported"
    );
    assert!(spans.iter().all(|s| hex(&s.parent_span_id) == PARENT));
    let unsampled: BTreeSet<String> = (0..20).map(|i| trace(i, false)).collect();
    let logged: BTreeSet<String> = f
        .logs
        .lines()
        .into_iter()
        .filter(|l| l["message"] == "inside handler")
        .filter_map(|l| l["trace_id"].as_str().map(str::to_owned))
        .filter(|t| unsampled.contains(t))
        .collect();
    assert_eq!(
        logged, unsampled,
        "an unsampled parent's trace id is in its requests' lines"
    );
}
