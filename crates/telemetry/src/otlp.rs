//! OTLP span export (feature `otlp`): the exporter for the configured transport, behind a bounded batch queue.

use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, TracerProviderBuilder};

use super::export::{BoundedProcessor, CountingExporter, ExportStats};
use super::transport::{self, ExportRuntime, TRACES};
use super::{OtlpProtocol, TelemetryBuilder, TelemetryError};

/// `provider` with a batch processor exporting to the configured endpoint, counting what it loses.
pub(super) fn with_exporter(
    provider: TracerProviderBuilder,
    config: &TelemetryBuilder,
    runtime: &mut ExportRuntime,
) -> Result<SdkTracerProvider, TelemetryError> {
    let stats = ExportStats::new(config.max_queue_size, &config.recorder);
    let exporter = CountingExporter {
        inner: exporter(config, runtime)?,
        stats: stats.clone(),
    };
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(config.max_queue_size)
        .build();
    let processor = BoundedProcessor {
        inner: BatchSpanProcessor::builder(exporter).with_batch_config(batch).build(),
        stats,
    };
    Ok(provider.with_span_processor(processor).build())
}

fn exporter(
    config: &TelemetryBuilder,
    runtime: &mut ExportRuntime,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    let (protocol, ca) = transport::prepare(config, TRACES)?;
    let builder = opentelemetry_otlp::SpanExporter::builder();
    let exporter = match protocol {
        OtlpProtocol::Grpc => {
            runtime.build(|| transport::grpc(builder.with_tonic(), config, TRACES, ca.as_deref()).build())?
        }
        OtlpProtocol::HttpProtobuf => transport::http(builder.with_http(), config, TRACES, ca.as_deref())?.build(),
    };
    exporter.map_err(|e| TelemetryError::Exporter(e.to_string()))
}
