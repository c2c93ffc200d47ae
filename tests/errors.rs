//! Every public error reads the same through `Debug` as through `Display`: `?` in `main` prints `Debug`, and
//! the user reading it wants the message, not a variant's name.

use inferwatch::drift::{Baseline, DriftError};
use inferwatch::experiment::{Experiment, ExperimentError};
use inferwatch::feedback::{FeedbackError, FeedbackKey, KeyTooShort};
use inferwatch::telemetry::TelemetryError;

fn reads_as_its_message<E: std::error::Error>(error: E, message: &str) {
    assert_eq!(error.to_string(), message);
    assert_eq!(format!("{error:?}"), message);
}

#[test]
fn errors_read_as_their_message_from_main() {
    reads_as_its_message(
        TelemetryError::OtlpNotEnabled,
        "OTLP export is configured (an endpoint, or OTEL_LOGS_EXPORTER=otlp), but inferwatch was built without its `otlp` feature",
    );
    reads_as_its_message(
        TelemetryError::UnsupportedProtocol("udp".into()),
        "OTEL_EXPORTER_OTLP_PROTOCOL=\"udp\" is not supported (use grpc or http/protobuf)",
    );
    let short: KeyTooShort = FeedbackKey::new(b"short").expect_err("too short");
    reads_as_its_message(
        short,
        "a feedback key needs at least 16 bytes (32 random ones recommended), got 5",
    );
    reads_as_its_message(
        FeedbackError::Repeated,
        "feedback on this response id was counted already",
    );
    let drift: DriftError = Baseline::from_json("{").expect_err("not JSON");
    let message = drift.to_string();
    assert!(message.starts_with("drift baseline: "), "{message}");
    reads_as_its_message(drift, &message);
    let experiment: ExperimentError = Experiment::builder("x").build().expect_err("no variants");
    let message = experiment.to_string();
    reads_as_its_message(experiment, &message);
    reads_as_its_message(
        inferwatch::cost::Prices::from_json("{").expect_err("not JSON"),
        &inferwatch::cost::Prices::from_json("{")
            .expect_err("not JSON")
            .to_string(),
    );
    let slo = inferwatch::slo::SloRules::new()
        .availability(1.5)
        .to_yaml()
        .expect_err("target");
    reads_as_its_message(slo, "objective target 1.5 is not between 0 and 1 (exclusive)");
    let prometheus = inferwatch::prometheus::PrometheusBuilder::new()
        .buckets("latency_seconds", &[])
        .build()
        .expect_err("no bounds");
    let message = prometheus.to_string();
    assert!(message.starts_with("prometheus exporter: "), "{message}");
    reads_as_its_message(prometheus, &message);
    let descriptors = inferwatch::InferenceLayer::builder()
        .grpc_descriptors([&b"not a descriptor set"[..]])
        .expect_err("junk");
    let message = descriptors.to_string();
    reads_as_its_message(descriptors, &message);
    let rejected = inferwatch::RequestHandle::detached()
        .record_score("judge", 2.0)
        .expect_err("outside [0, 1]");
    let message = rejected.to_string();
    reads_as_its_message(rejected, &message);
    reads_as_its_message(
        inferwatch::resources::GpuError::Lost,
        &inferwatch::resources::GpuError::Lost.to_string(),
    );
    // A `main` returning the error prints exactly this after "Error: ".
    let from_main = format!("Error: {:?}", TelemetryError::OtlpNotEnabled);
    assert!(!from_main.contains("OtlpNotEnabled"), "{from_main}");
}
