//! OTLP/gRPC export runs on a thread of telemetry's own: it never needs a turn on the application's runtime, and
//! telemetry can be set up outside any runtime.

mod support;

use std::time::{Duration, Instant};

use inferwatch::telemetry::{OtlpProtocol, TelemetryBuilder};
use support::otlp::{Receiver, serve_receiver};

fn telemetry(endpoint: &str) -> TelemetryBuilder {
    TelemetryBuilder::new()
        .otlp_endpoint(endpoint)
        .otlp_protocol(OtlpProtocol::Grpc)
        .export_timeout(Duration::from_secs(2))
        .writer(std::io::sink())
        .log_queue(0)
}

/// Flushes until a span named `name` has arrived (at most 5 s); whether it did.
fn arrives(receiver: &Receiver, guard: &inferwatch::telemetry::TelemetryGuard, name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        guard.flush();
        if receiver.spans().iter().any(|s| s.name == name) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn spans_are_exported_while_the_applications_runtime_is_not_running() {
    let (receiver, endpoint, _receiver_runtime) = serve_receiver();
    // Set up inside a current-thread runtime, which runs its tasks only while something blocks on it: nothing does
    // once `block_on` returns. An exporter whose connection were a task of it would never send.
    let app = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let (dispatch, guard) = app
        .block_on(async { telemetry(&endpoint).dispatch() })
        .expect("telemetry");
    tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("while the app idles").in_scope(|| {}));
    assert!(
        arrives(&receiver, &guard, "while the app idles"),
        "the span never reached the collector"
    );
    let threads: Vec<String> = std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect();
    assert!(threads.iter().any(|t| t == "inferwatch-otlp"), "{threads:?}");
}

#[test]
fn grpc_export_is_set_up_outside_any_runtime() {
    let (receiver, endpoint, _receiver_runtime) = serve_receiver();
    assert!(tokio::runtime::Handle::try_current().is_err());
    let (dispatch, guard) = telemetry(&endpoint).dispatch().expect("telemetry");
    tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("outside a runtime").in_scope(|| {}));
    assert!(
        arrives(&receiver, &guard, "outside a runtime"),
        "the span never reached the collector"
    );
    // Dropped here, outside any runtime too: shutdown sends what is left and returns.
    drop(guard);
}
