//! OTLP span export (feature `otlp`): the exporter for the configured transport, behind a bounded batch queue.

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, TracerProviderBuilder};

use super::export::{BoundedProcessor, CountingExporter, ExportStats};
use super::{OtlpProtocol, TelemetryBuilder, TelemetryError, tls};

/// `provider` with a batch processor exporting to the configured endpoint, counting what it loses.
pub(super) fn with_exporter(
    provider: TracerProviderBuilder,
    config: &TelemetryBuilder,
) -> Result<SdkTracerProvider, TelemetryError> {
    let stats = ExportStats::new(config.max_queue_size, &config.recorder);
    let exporter = CountingExporter {
        inner: exporter(config)?,
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

/// The transport: the builder's, else `OTEL_EXPORTER_OTLP_PROTOCOL` (default HTTP/protobuf).
pub(super) fn protocol(config: &TelemetryBuilder) -> Result<OtlpProtocol, TelemetryError> {
    Ok(match config.protocol {
        Some(p) => p,
        None => match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").ok().as_deref() {
            None | Some("") | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("grpc") => OtlpProtocol::Grpc,
            Some(other) => return Err(TelemetryError::UnsupportedProtocol(other.to_owned())),
        },
    })
}

fn exporter(config: &TelemetryBuilder) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    let builder = opentelemetry_otlp::SpanExporter::builder();
    tls::install_provider();
    let ca = tls::ca_bundle(config, "TRACES")?;
    let exporter = match protocol(config)? {
        OtlpProtocol::Grpc => {
            let mut b = builder.with_tonic().with_timeout(config.export_timeout);
            if let Some(endpoint) = &config.endpoint {
                b = b.with_endpoint(endpoint.clone());
            }
            if tls::is_https(config, "TRACES") {
                b = b.with_tls_config(tls::grpc(ca.as_deref()));
            }
            b.build()
        }
        OtlpProtocol::HttpProtobuf => {
            let mut b = builder
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_timeout(config.export_timeout);
            if let Some(endpoint) = &config.endpoint {
                // A base URL, as in OTEL_EXPORTER_OTLP_ENDPOINT: the signal path is appended.
                b = b.with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')));
            }
            if let Some(pem) = &ca {
                b = b.with_http_client(tls::http_client(pem, config.export_timeout)?);
            }
            b.build()
        }
    };
    exporter.map_err(|e| TelemetryError::Exporter(e.to_string()))
}
