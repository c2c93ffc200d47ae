//! The quick start's shutdown: served with `with_graceful_shutdown`, the last request's spans reach the collector
//! when the telemetry guard is dropped after the server returns, though they were still queued for export.
//! (Its own test binary: it installs the global subscriber.)

mod support;

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use inferwatch::telemetry::{OtlpProtocol, TelemetryBuilder};
use inferwatch::{InferenceLayer, RequestHandle};
use support::otlp::{attr_str, serve_receiver};
use support::{client, send};

async fn complete(handle: RequestHandle) -> &'static str {
    handle.set_model("toy-1b");
    handle.stage("tokenize").in_scope(|| handle.add_input_tokens(2));
    handle
        .stage("generate")
        .instrument(tokio::time::sleep(Duration::from_millis(10)))
        .await;
    handle.add_output_tokens(3);
    "done"
}

#[test]
fn a_graceful_shutdown_then_the_guard_exports_the_last_requests_spans() {
    // Batches would leave after a minute: the request's spans are still queued when the server stops.
    // SAFETY: set before any thread of this test binary reads the environment.
    unsafe { std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "60000") };
    let (receiver, endpoint, _receiver_runtime) = serve_receiver();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let guard = TelemetryBuilder::new()
        .otlp_endpoint(endpoint)
        .otlp_protocol(OtlpProtocol::Grpc)
        .writer(std::io::sink())
        .log_queue(0)
        .init()
        .expect("telemetry");
    runtime.block_on(async {
        let app = Router::new()
            .route("/v1/completions", post(complete))
            .layer(InferenceLayer::builder().allowed_models(["toy-1b"]).build());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        let r = send(&client(), addr, "POST", "/v1/completions", &[], "").await;
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"done"[..]));
        let _ = stop.send(());
        server.await.expect("join").expect("serve");
    });
    assert!(
        receiver.spans().is_empty(),
        "exported before shutdown: the test proves nothing"
    );
    drop(guard);
    let spans = receiver.spans();
    let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["POST /v1/completions", "generate", "tokenize"], "3 of 3");
    let request = spans
        .iter()
        .find(|s| s.name == "POST /v1/completions")
        .expect("request span");
    assert_eq!(attr_str(request, "gen_ai.request.model"), Some("toy-1b"));
    assert!(spans.iter().all(|s| s.trace_id == request.trace_id));
}
