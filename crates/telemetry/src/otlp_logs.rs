//! OTLP log export (feature `otlp`): the log lines of `tracing` events as OpenTelemetry log records, with the
//! trace and span ids of the span they were written in, behind a bounded batch queue that drops rather than
//! blocks (`OTEL_LOGS_EXPORTER=otlp`, or [`TelemetryBuilder::otlp_logs`]). The JSON lines on stdout stay as they
//! are.

use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{BatchConfigBuilder, BatchLogProcessor, SdkLoggerProvider};
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use super::export::{CountingLogExporter, Failures};
use super::transport::{self, ExportRuntime, LOGS};
use super::{OtlpProtocol, TelemetryBuilder, TelemetryError};

/// Crates whose own events never become exported records: the exporter's stack, which would otherwise log about
/// exporting logs.
const QUIET_TARGETS: &[&str] = &["opentelemetry", "hyper", "h2", "tonic", "tower", "reqwest"];

/// Whether log records are exported: the builder's choice, else `OTEL_LOGS_EXPORTER` (`otlp` or `none`; unset
/// means none, since the JSON lines are the default log path).
pub(super) fn enabled(config: &TelemetryBuilder) -> Result<bool, TelemetryError> {
    if let Some(on) = config.otlp_logs {
        return Ok(on);
    }
    match std::env::var("OTEL_LOGS_EXPORTER").ok().as_deref().map(str::trim) {
        None | Some("") | Some("none") => Ok(false),
        Some("otlp") => Ok(true),
        Some(other) => Err(TelemetryError::UnsupportedLogsExporter(other.to_owned())),
    }
}

/// The logger provider exporting to the configured endpoint.
pub(super) fn provider(
    config: &TelemetryBuilder,
    resource: Resource,
    runtime: &mut ExportRuntime,
) -> Result<SdkLoggerProvider, TelemetryError> {
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(config.max_queue_size)
        .build();
    let exporter = CountingLogExporter {
        inner: exporter(config, runtime)?,
        failures: Failures::logs(&config.recorder),
    };
    let processor = BatchLogProcessor::builder(exporter).with_batch_config(batch).build();
    Ok(SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_log_processor(processor)
        .build())
}

/// The `tracing` layer that turns events into records for `provider`.
pub(super) fn layer<S>(provider: &SdkLoggerProvider) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let quiet = tracing_subscriber::filter::filter_fn(|metadata| {
        let target = metadata.target();
        !QUIET_TARGETS.iter().any(|q| target.starts_with(q))
    });
    OpenTelemetryTracingBridge::new(provider).with_filter(quiet)
}

fn exporter(
    config: &TelemetryBuilder,
    runtime: &mut ExportRuntime,
) -> Result<opentelemetry_otlp::LogExporter, TelemetryError> {
    let (protocol, ca) = transport::prepare(config, LOGS)?;
    let builder = opentelemetry_otlp::LogExporter::builder();
    let exporter = match protocol {
        OtlpProtocol::Grpc => {
            runtime.build(|| transport::grpc(builder.with_tonic(), config, LOGS, ca.as_deref()).build())?
        }
        OtlpProtocol::HttpProtobuf => transport::http(builder.with_http(), config, LOGS, ca.as_deref())?.build(),
    };
    exporter.map_err(|e| TelemetryError::Exporter(e.to_string()))
}
