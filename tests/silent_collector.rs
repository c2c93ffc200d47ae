//! A collector that takes connections and never answers: shutting telemetry down flushes spans and log records
//! together, so that it takes one export timeout, not one per signal.

mod support;

use std::time::{Duration, Instant};

use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::{OtlpProtocol, TelemetryBuilder};
use support::otlp::Captured;

#[test]
fn shutdown_against_a_silent_collector_takes_one_export_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("addr");
    // Accepts and holds every connection, reading nothing and answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming().flatten() {
            held.push(connection);
        }
    });
    let timeout = Duration::from_secs(3);
    let (recorder, _metrics) = PrometheusBuilder::new().build().expect("exporter");
    let logs = Captured::default();
    let (dispatch, guard) = TelemetryBuilder::new()
        .otlp_endpoint(format!("http://{address}"))
        .otlp_protocol(OtlpProtocol::Grpc)
        .export_timeout(timeout)
        .otlp_logs(true)
        .writer(logs.clone())
        .log_queue(0)
        .recorder(recorder)
        .dispatch()
        .expect("telemetry");
    // A span and a log record wait in their batches (exported every 5 s by default) when shutdown begins.
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("work");
        let _entered = span.enter();
        tracing::info!("working");
    });
    assert!(logs.text().contains("working"), "{}", logs.text());
    let started = Instant::now();
    drop(guard);
    let took = started.elapsed();
    // Each signal waits out the timeout against this collector: one after the other would take up to two.
    assert!(
        took >= timeout - Duration::from_millis(500),
        "{took:?}: nothing was flushed"
    );
    assert!(
        took < timeout + Duration::from_millis(900),
        "{took:?}: longer than the {timeout:?} export timeout"
    );
}
