//! What every service's `main` otherwise repeats: logs and traces in one call (feature `otlp`).
//!
//! - JSON log lines on stdout (timestamp, level, target, message, fields, and `trace_id` / `span_id` inside a
//!   request), filtered by `RUST_LOG` (default `info`); or a human-readable format for development.
//! - OTLP span export, over gRPC (4317) or HTTP/protobuf (4318), only when an endpoint is configured:
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` or [`TelemetryBuilder::otlp_endpoint`].
//!   `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and
//!   `OTEL_TRACES_SAMPLER_ARG` are honoured. Spans are batched in a bounded queue and dropped when it is full, so a
//!   slow or absent collector never holds a request up. Without an endpoint nothing tries to connect.
//!
//! ```no_run
//! # fn main() -> Result<(), inferwatch::telemetry::TelemetryError> {
//! let _telemetry = inferwatch::telemetry::init()?; // flushes pending spans when dropped
//! tracing::info!("serving");
//! # Ok(())
//! # }
//! ```

mod json;

pub use json::JsonFormat;

use std::fmt;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// Sets up JSON logs and, where an endpoint is configured, OTLP export, with defaults and `OTEL_*` variables.
pub fn init() -> Result<TelemetryGuard, TelemetryError> {
    TelemetryBuilder::new().init()
}

/// The tracing-opentelemetry layer as [`init`] configures it: spans up to `span_level`; no source locations,
/// thread ids or busy/idle times on spans; and inferwatch's own summary lines kept out of spans (they repeat the
/// span's attributes, and would be exported as span events).
pub fn opentelemetry_layer<S>(tracer: opentelemetry_sdk::trace::Tracer, span_level: LevelFilter) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let not_summaries = filter_fn(|meta| !(meta.is_event() && meta.target() == crate::trace::TARGET));
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_filter(span_level.and(not_summaries))
}

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default).
    #[default]
    Json,
    /// Human-readable lines, for development.
    Pretty,
}

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC, port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318 (OpenTelemetry's default).
    HttpProtobuf,
}

/// Why telemetry could not be set up.
#[derive(Debug)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    Exporter(String),
    /// A global `tracing` subscriber is already installed.
    SubscriberInstalled(String),
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` names a protocol this build does not speak.
    UnsupportedProtocol(String),
}

impl fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TelemetryError::Exporter(e) => write!(f, "building the OTLP exporter: {e}"),
            TelemetryError::SubscriberInstalled(e) => write!(f, "installing the tracing subscriber: {e}"),
            TelemetryError::UnsupportedProtocol(p) => {
                write!(
                    f,
                    "OTEL_EXPORTER_OTLP_PROTOCOL={p:?} is not supported (use grpc or http/protobuf)"
                )
            }
        }
    }
}

impl std::error::Error for TelemetryError {}

/// Configures [`init`]; settings made in code win over `OTEL_*` variables, except the service name, which
/// `OTEL_SERVICE_NAME` overrides.
pub struct TelemetryBuilder {
    service_name: Option<String>,
    format: LogFormat,
    default_filter: String,
    span_level: LevelFilter,
    endpoint: Option<String>,
    protocol: Option<OtlpProtocol>,
    max_queue_size: usize,
    export_timeout: Duration,
    writer: Option<BoxMakeWriter>,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("service_name", &self.service_name)
            .field("format", &self.format)
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Default for TelemetryBuilder {
    fn default() -> Self {
        Self {
            service_name: None,
            format: LogFormat::Json,
            default_filter: "info".into(),
            span_level: LevelFilter::INFO,
            endpoint: None,
            protocol: None,
            max_queue_size: 2048,
            export_timeout: Duration::from_secs(5),
            writer: None,
        }
    }
}

impl TelemetryBuilder {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The service name spans carry, unless `OTEL_SERVICE_NAME` is set.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// JSON (default) or human-readable logs.
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    /// The log filter used when `RUST_LOG` is unset (default `info`).
    pub fn default_log_filter(mut self, filter: impl Into<String>) -> Self {
        self.default_filter = filter.into();
        self
    }

    /// The most verbose spans exported (default INFO, which includes request and stage spans).
    pub fn span_level(mut self, level: LevelFilter) -> Self {
        self.span_level = level;
        self
    }

    /// The collector's base URL (e.g. `http://localhost:4317`), like `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The transport, instead of `OTEL_EXPORTER_OTLP_PROTOCOL` (default HTTP/protobuf).
    pub fn otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Spans waiting for export at most (default 2048); more are dropped.
    pub fn max_queue_size(mut self, spans: usize) -> Self {
        self.max_queue_size = spans.max(1);
        self
    }

    /// How long one export may take (default 5 s), which also bounds shutdown.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// Where log lines go (default stdout).
    pub fn writer<W>(mut self, writer: W) -> Self
    where
        W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
    {
        self.writer = Some(BoxMakeWriter::new(writer));
        self
    }

    /// Installs the global `tracing` subscriber (and OpenTelemetry's global tracer provider and W3C propagator).
    pub fn init(self) -> Result<TelemetryGuard, TelemetryError> {
        let provider = self.tracer_provider()?;
        let otel = opentelemetry_layer(provider.tracer("inferwatch"), self.span_level);
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&self.default_filter));
        let writer = self.writer.unwrap_or_else(|| BoxMakeWriter::new(std::io::stdout));
        let logs = match self.format {
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .event_format(JsonFormat)
                .with_writer(writer)
                .boxed(),
            LogFormat::Pretty => tracing_subscriber::fmt::layer().with_writer(writer).boxed(),
        };
        Registry::default()
            .with(otel)
            .with(logs.with_filter(filter))
            .try_init()
            .map_err(|e| TelemetryError::SubscriberInstalled(e.to_string()))?;
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        opentelemetry::global::set_tracer_provider(provider.clone());
        Ok(TelemetryGuard { provider })
    }

    fn tracer_provider(&self) -> Result<SdkTracerProvider, TelemetryError> {
        let mut resource = Resource::builder();
        if let Some(name) = &self.service_name
            && std::env::var_os("OTEL_SERVICE_NAME").is_none()
        {
            resource = resource.with_service_name(name.clone());
        }
        let mut provider = SdkTracerProvider::builder().with_resource(resource.build());
        if let Some(exporter) = self.exporter()? {
            let batch = BatchConfigBuilder::default()
                .with_max_queue_size(self.max_queue_size)
                .build();
            provider =
                provider.with_span_processor(BatchSpanProcessor::builder(exporter).with_batch_config(batch).build());
        }
        Ok(provider.build())
    }

    /// The exporter, or `None` when no endpoint is configured anywhere.
    fn exporter(&self) -> Result<Option<opentelemetry_otlp::SpanExporter>, TelemetryError> {
        let from_env = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        if self.endpoint.is_none() && !from_env {
            return Ok(None);
        }
        let protocol = match self.protocol {
            Some(p) => p,
            None => match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").ok().as_deref() {
                None | Some("") | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
                Some("grpc") => OtlpProtocol::Grpc,
                Some(other) => return Err(TelemetryError::UnsupportedProtocol(other.to_owned())),
            },
        };
        let builder = opentelemetry_otlp::SpanExporter::builder();
        let exporter = match protocol {
            OtlpProtocol::Grpc => {
                let mut b = builder.with_tonic().with_timeout(self.export_timeout);
                if let Some(endpoint) = &self.endpoint {
                    b = b.with_endpoint(endpoint.clone());
                }
                b.build()
            }
            OtlpProtocol::HttpProtobuf => {
                let mut b = builder
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_timeout(self.export_timeout);
                if let Some(endpoint) = &self.endpoint {
                    // A base URL, as in OTEL_EXPORTER_OTLP_ENDPOINT: the signal path is appended.
                    b = b.with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')));
                }
                b.build()
            }
        };
        exporter.map(Some).map_err(|e| TelemetryError::Exporter(e.to_string()))
    }
}

/// Keeps telemetry running; dropping it flushes pending spans and shuts the exporter down (bounded by the
/// export timeout). Drop it at the end of `main`.
#[must_use = "dropping the guard shuts telemetry down"]
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Exports every finished span now.
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}
