//! A collector that is down never fails or blocks a request, with log records exported to it too; its failures
//! are counted and said once (and the recovery once), and shutdown still returns.

mod support;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::{OtlpProtocol, TelemetryBuilder};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
use support::otlp::{Captured, Receiver};
use support::{Scrape, client, eventually, get as http_get, isolated_layer, serve};

#[test]
fn a_collector_down_costs_requests_nothing_and_its_outage_is_counted_and_said_once() {
    // Export every 100 ms, so that a second of traffic makes several attempts.
    // SAFETY: set before any thread of this test binary reads the environment.
    unsafe {
        std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "100");
        std::env::set_var("OTEL_BLRP_SCHEDULE_DELAY", "100");
    }
    // A port that was just free: nothing listens there, until the collector comes up on it.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let (recorder, telemetry_metrics) = PrometheusBuilder::new().build().expect("exporter");
    let logs = Captured::default();
    let guard = runtime.block_on(async {
        TelemetryBuilder::new()
            .otlp_endpoint(format!("http://{address}"))
            .otlp_protocol(OtlpProtocol::Grpc)
            .export_timeout(Duration::from_secs(1))
            .otlp_logs(true)
            .writer(logs.clone())
            .log_queue(0)
            .recorder(recorder)
            .init()
            .expect("telemetry")
    });
    let errors_of = |signal| {
        Scrape::parse(&telemetry_metrics.render())
            .try_get("inferwatch_telemetry_export_errors_total", &[("signal", signal)])
            .unwrap_or(0.0)
    };
    let errors = || errors_of("traces");
    let said = |message: &str| {
        logs.lines()
            .iter()
            .filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with(message)))
            .count()
    };
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
        // Traffic until several exports have failed (each attempt fails as fast as the refused connection).
        let mut sent = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while (errors() < 3.0 || errors_of("logs") < 3.0) && std::time::Instant::now() < deadline {
            for _ in 0..5 {
                let r = http_get(&c, addr, "/work").await;
                assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"done"[..]));
                sent += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            errors() >= 3.0,
            "{} failed span exports: {}",
            errors(),
            telemetry_metrics.render()
        );
        assert!(
            errors_of("logs") >= 3.0,
            "{} failed log record exports",
            errors_of("logs")
        );
        let s = support::scrape(&exporter);
        assert_eq!(
            s.get("inferwatch_requests_total", &[("route", "/work"), ("outcome", "ok")]),
            f64::from(sent)
        );
        assert_eq!(
            said("span export failing"),
            1,
            "the outage is said once, not per attempt"
        );
        assert_eq!(said("log record export failing"), 1, "for log records too");
        // Not the SDK's own line per failed batch.
        let sdk_errors: Vec<_> = logs
            .lines()
            .into_iter()
            .filter(|l| l["level"] == "ERROR" && l["target"].as_str().is_some_and(|t| t.starts_with("opentelemetry")))
            .collect();
        assert!(sdk_errors.is_empty(), "{sdk_errors:?}");
        let lost = Scrape::parse(&telemetry_metrics.render()).get(
            "inferwatch_telemetry_spans_dropped_total",
            &[("reason", "export_failed")],
        );
        assert!(lost >= 1.0, "{lost}");

        // The collector comes up where the exporter looks: the next export succeeds, and that is said once.
        let receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .expect("bind the collector");
        let server = tonic::transport::Server::builder().add_service(TraceServiceServer::new(receiver.clone()));
        tokio::spawn(server.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)));
        let r = http_get(&c, addr, "/work").await;
        assert_eq!(r.status, 200);
        assert!(eventually(Duration::from_secs(20), || said("span export recovered") == 1).await);
        assert!(!receiver.spans().is_empty());
    });
    let recovered = logs
        .lines()
        .into_iter()
        .find(|l| l["message"] == "span export recovered")
        .expect("line");
    assert!(recovered["fields"]["failed_exports"].as_u64().expect("count") >= 3);
    assert!(Scrape::parse(&telemetry_metrics.render()).get("inferwatch_telemetry_spans_exported_total", &[]) >= 1.0);

    // Dropping the guard flushes: it returns even if the collector is gone again.
    drop(runtime);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(guard);
        let _ = done.send(());
    });
    assert!(
        finished.recv_timeout(Duration::from_secs(30)).is_ok(),
        "shutdown must return"
    );
}
