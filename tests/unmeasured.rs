//! A route added after `Router::layer` is outside the layer: its handler's `RequestHandle` is detached, and that
//! is said once in the log and counted per route, not left silent; and `telemetry::init` itself writes no line.
//! (Its own test binary: it installs the global recorder and subscriber.)

mod support;

use axum::Router;
use axum::routing::post;
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::TelemetryBuilder;
use inferwatch::{InferenceLayer, RequestHandle};
use support::otlp::Captured;
use support::{Scrape, client, send, serve};

async fn complete(handle: RequestHandle) -> &'static str {
    handle.set_model("llama-3-8b");
    handle.add_output_tokens(3);
    "done"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_added_after_the_layer_is_said_once_and_counted() {
    let exporter = PrometheusBuilder::new().install().expect("recorder");
    let logs = Captured::default();
    let _telemetry = TelemetryBuilder::new()
        .writer(logs.clone())
        .log_queue(0)
        .init()
        .expect("telemetry");
    let app = Router::new()
        .route("/v1/completions", post(complete))
        .layer(InferenceLayer::builder().allowed_models(["llama-3-8b"]).build())
        // The trap: routed, answered, and outside the layer.
        .route("/v1/chat/completions", post(complete));
    let addr = serve(app).await;
    let c = client();
    for path in [
        "/v1/completions",
        "/v1/chat/completions",
        "/v1/chat/completions",
        "/v1/chat/completions",
    ] {
        let r = send(&c, addr, "POST", path, &[], "").await;
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"done"[..]), "{path}");
    }
    let s = Scrape::parse(&exporter.render());
    let unmeasured = |route| s.try_get("inferwatch_requests_unmeasured_total", &[("route", route)]);
    assert_eq!(unmeasured("/v1/chat/completions"), Some(3.0));
    assert_eq!(
        unmeasured("/v1/completions"),
        None,
        "the measured route is not counted here"
    );
    assert_eq!(
        s.get(
            "inferwatch_requests_total",
            &[
                ("route", "/v1/completions"),
                ("gen_ai_request_model", "llama-3-8b"),
                ("outcome", "ok")
            ]
        ),
        1.0
    );
    let said: Vec<serde_json::Value> = logs
        .lines()
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("a handler asked for its RequestHandle"))
        })
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0]["level"], "WARN");
    assert_eq!(said[0]["fields"]["route"], "/v1/chat/completions");
    // Nothing from the OpenTelemetry SDK about its own set-up ("Global tracer provider is set").
    let sdk: Vec<serde_json::Value> = logs
        .lines()
        .into_iter()
        .filter(|l| l["target"].as_str().is_some_and(|t| t.starts_with("opentelemetry")))
        .collect();
    assert!(sdk.is_empty(), "{sdk:?}");
}
