//! `telemetry::init()` before `PrometheusBuilder::install()`: telemetry's own counts still reach the exposition.
//! (Its own test binary: both steps are process-wide.)

mod support;

use std::time::{Duration, Instant};

use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::{OtlpProtocol, TelemetryBuilder};
use support::Scrape;

#[test]
fn telemetry_set_up_before_the_recorder_is_installed_still_counts() {
    // Nothing listens on this port: every export fails at once.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let guard = TelemetryBuilder::new()
        .otlp_endpoint(format!("http://{address}"))
        .otlp_protocol(OtlpProtocol::HttpProtobuf)
        .export_timeout(Duration::from_secs(1))
        .writer(std::io::sink())
        .log_queue(0)
        .init()
        .expect("telemetry first");
    let exporter = PrometheusBuilder::new().install().expect("the recorder second");
    let deadline = Instant::now() + Duration::from_secs(20);
    let errors = loop {
        tracing::info_span!("work").in_scope(|| tracing::info!("working"));
        guard.flush();
        let s = Scrape::parse(&exporter.render());
        let errors = s.try_get("inferwatch_telemetry_export_errors_total", &[("signal", "traces")]);
        if errors.is_some_and(|e| e >= 1.0) || Instant::now() > deadline {
            break errors;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(errors.is_some_and(|e| e >= 1.0), "{errors:?}: {}", exporter.render());
    let s = Scrape::parse(&exporter.render());
    let dropped = s.get(
        "inferwatch_telemetry_spans_dropped_total",
        &[("reason", "export_failed")],
    );
    assert!(dropped >= 1.0, "{dropped}");
}
