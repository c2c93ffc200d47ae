//! A collector that is down never fails or blocks a request, and shutdown still returns.

mod support;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use inferwatch::telemetry::{OtlpProtocol, TelemetryBuilder};
use support::{client, get as http_get, isolated_layer, serve};

#[test]
fn requests_succeed_and_shutdown_returns_with_the_collector_down() {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    // One global subscriber per process: gRPC here, whose exporter retries connections in the background.
    {
        let protocol = OtlpProtocol::Grpc;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("rt");
        let guard = runtime.block_on(async {
            TelemetryBuilder::new()
                .otlp_endpoint(format!("http://{closed}"))
                .otlp_protocol(protocol)
                .export_timeout(Duration::from_secs(1))
                .writer(std::io::sink())
                .init()
                .expect("telemetry")
        });
        runtime.block_on(async {
            let (layer, exporter) = isolated_layer(|b| b);
            let app = Router::new()
                .route(
                    "/work",
                    get(|| async {
                        tracing::info!("working");
                        "done"
                    }),
                )
                .layer(layer);
            let addr = serve(app).await;
            let c = client();
            for _ in 0..50 {
                let r = http_get(&c, addr, "/work").await;
                assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"done"[..]));
            }
            let s = support::scrape(&exporter);
            assert_eq!(
                s.get("inferwatch_requests_total", &[("route", "/work"), ("outcome", "ok")]),
                50.0
            );
        });
        // Dropping the guard flushes to a dead collector: it gives up after the export timeout.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(guard);
            let _ = done.send(());
        });
        assert!(
            finished.recv_timeout(Duration::from_secs(30)).is_ok(),
            "shutdown must return"
        );
        drop(runtime);
    }
}
