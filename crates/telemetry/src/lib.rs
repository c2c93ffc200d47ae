//! What every service's `main` otherwise repeats: logs and traces in one call (feature `telemetry`).
//!
//! - JSON log lines on stdout (timestamp, level, target, message, fields, and `trace_id` / `span_id` inside a
//!   request), filtered by `RUST_LOG` (default `info`); or a human-readable format for development.
//! - Trace context in and out through OpenTelemetry's global propagator, set from `OTEL_PROPAGATORS`
//!   (`tracecontext`, `baggage`, `none`; default `tracecontext,baggage`) or [`TelemetryBuilder::propagator`].
//! - With feature `otlp`, OTLP span export over gRPC (4317) or HTTP/protobuf (4318), only when an endpoint is
//!   configured: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   [`TelemetryBuilder::otlp_endpoint`]. `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`,
//!   `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` are honoured. Spans are batched
//!   in a bounded queue and dropped when it is full, so a slow or absent collector never holds a request up.
//!   Without an endpoint nothing tries to connect. A gRPC exporter's connection runs on a thread of its own
//!   (`inferwatch-otlp`), never on the application's runtime, so telemetry can be set up outside one.
//! - Sampling decided when a request arrives: the sampler `OTEL_TRACES_SAMPLER` names (or
//!   [`TelemetryBuilder::sampling_ratio`]) is given to the tracer provider and to the request observer
//!   [`TelemetryGuard::tracing_observer`] returns (give that one to the layer), which asks it before building the
//!   request span. A request it drops gets no `tracing` span at all; its trace and span
//!   ids are made anyway and are the current OpenTelemetry context while the request is polled, so its log lines
//!   (`"span":"request"`, `span_id`, `trace_id`), the spans nested in it and the context it propagates (flags `00`)
//!   are what they would have been. Inside such a request `tracing::Span::current()` is not the request's span: take
//!   the context to propagate from `opentelemetry::Context::current()`.
//!
//! ```no_run
//! # fn main() -> Result<(), inferwatch_telemetry::TelemetryError> {
//! let _telemetry = inferwatch_telemetry::init()?; // flushes pending spans when dropped
//! tracing::info!("serving");
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

#[cfg(feature = "otlp")]
mod export;
mod filter;
mod json;
mod logs;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
mod otlp_logs;
mod propagators;
mod queue;
#[cfg(test)]
mod tests;
#[cfg(feature = "otlp")]
mod tls;
mod trace_sampler;
#[cfg(feature = "otlp")]
mod transport;

pub use logs::JsonLayer;

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
#[cfg(feature = "otlp")]
use std::time::Duration;
use std::time::SystemTime;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Dispatch, Level};
use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use filter::LogFilter;
use inferwatch_core::SharedRecorder;
use inferwatch_core::contract::{self as c, LOG_TARGET};
use inferwatch_core::observe::{HeadSampler, SummaryLine, SummaryWriter, TracingObserver};
use queue::{LogQueue, LogWriterGuard};

/// Log lines waiting for the writer at most, by default.
const DEFAULT_LOG_QUEUE: usize = 8192;

/// Sets up JSON logs, trace context propagation and, where an endpoint is configured, OTLP export, with defaults
/// and `OTEL_*` variables.
pub fn init() -> Result<TelemetryGuard, TelemetryError> {
    TelemetryBuilder::new().init()
}

/// The tracing-opentelemetry layer as [`init`] configures it: spans up to `span_level`; no source locations,
/// thread ids, `tracing` targets or busy/idle times on spans (none is a registry attribute); and inferwatch's own
/// summary lines kept out of spans (they repeat the span's attributes, and would be exported as span events).
pub fn opentelemetry_layer<S>(tracer: opentelemetry_sdk::trace::Tracer, span_level: LevelFilter) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let not_summaries = filter_fn(|meta| !(meta.is_event() && meta.target() == LOG_TARGET));
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_target(false)
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
#[non_exhaustive]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    Exporter(String),
    /// A global `tracing` subscriber is already installed.
    SubscriberInstalled(String),
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` names a protocol this build does not speak.
    UnsupportedProtocol(String),
    /// OTLP export is configured (an endpoint, or `OTEL_LOGS_EXPORTER=otlp`), but this build has no exporter (feature
    /// `otlp`).
    OtlpNotEnabled,
    /// The thread that writes log lines could not be started.
    LogWriter(String),
    /// `OTEL_LOGS_EXPORTER` names an exporter this build does not have (`otlp` and `none` are known).
    UnsupportedLogsExporter(String),
    /// The CA bundle (`OTEL_EXPORTER_OTLP_CERTIFICATE`) could not be read or parsed.
    Certificate(String),
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
            TelemetryError::OtlpNotEnabled => {
                f.write_str("OTLP export is configured (an endpoint, or OTEL_LOGS_EXPORTER=otlp), but inferwatch was built without its `otlp` feature")
            }
            TelemetryError::LogWriter(e) => write!(f, "starting the log writer thread: {e}"),
            TelemetryError::Certificate(e) => write!(f, "OTLP CA certificate: {e}"),
            TelemetryError::UnsupportedLogsExporter(e) => {
                write!(f, "OTEL_LOGS_EXPORTER={e:?} is not supported (use otlp or none)")
            }
        }
    }
}

inferwatch_core::debug_is_display!(TelemetryError);

impl std::error::Error for TelemetryError {}

/// Configures [`init`]; settings made in code win over `OTEL_*` variables, except the service name, which
/// `OTEL_SERVICE_NAME` overrides.
pub struct TelemetryBuilder {
    service_name: Option<String>,
    format: LogFormat,
    default_filter: String,
    span_level: LevelFilter,
    sampling_ratio: Option<f64>,
    endpoint: Option<String>,
    protocol: Option<OtlpProtocol>,
    max_queue_size: usize,
    #[cfg(feature = "otlp")]
    export_timeout: Duration,
    writer: Option<Box<dyn Write + Send>>,
    log_queue: usize,
    recorder: SharedRecorder,
    propagator: Option<Box<dyn TextMapPropagator + Send + Sync>>,
    #[cfg(feature = "otlp")]
    otlp_logs: Option<bool>,
    #[cfg(feature = "otlp")]
    certificate: Option<std::path::PathBuf>,
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
            sampling_ratio: None,
            endpoint: None,
            protocol: None,
            max_queue_size: 2048,
            #[cfg(feature = "otlp")]
            export_timeout: Duration::from_secs(5),
            writer: None,
            log_queue: DEFAULT_LOG_QUEUE,
            recorder: SharedRecorder::global(),
            propagator: None,
            #[cfg(feature = "otlp")]
            otlp_logs: None,
            #[cfg(feature = "otlp")]
            certificate: None,
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

    /// Samples this share of new traces (0 to 1) and follows an incoming parent's decision, instead of what
    /// `OTEL_TRACES_SAMPLER` names: `parentbased_traceidratio`. A request not sampled costs little more than its
    /// metrics and its log line, which keeps its trace id.
    pub fn sampling_ratio(mut self, ratio: f64) -> Self {
        self.sampling_ratio = Some(if ratio.is_nan() { 1.0 } else { ratio.clamp(0.0, 1.0) });
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
    #[cfg(feature = "otlp")]
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// Exports log records over OTLP too (to the same endpoint as spans, or `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`),
    /// instead of `OTEL_LOGS_EXPORTER` (`otlp` or `none`; unset: none). Each record carries the trace and span ids
    /// of the span it was written in; records wait in a bounded queue and are dropped, never waited for, when it
    /// is full. The lines on the writer stay as they are.
    #[cfg(feature = "otlp")]
    pub fn otlp_logs(mut self, export: bool) -> Self {
        self.otlp_logs = Some(export);
        self
    }

    /// A PEM bundle of CA certificates to trust for an `https://` endpoint, besides the platform's roots, instead
    /// of `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    #[cfg(feature = "otlp")]
    pub fn otlp_certificate(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.certificate = Some(path.into());
        self
    }

    /// Where log lines go (default stdout).
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.writer = Some(Box::new(writer));
        self
    }

    /// Log lines waiting for the writer at most (default 8192). Lines are written on a thread of their own, off
    /// the request's path; when the queue is full they are dropped, counted in
    /// `inferwatch_telemetry_log_lines_dropped_total` and reported once in the log. 0 writes each line on the
    /// thread that logs it, blocking it as long as the writer does. The queue is allocated whole at `init`, about
    /// 300 bytes a line (a request's summary line waits in it as its values), 2.4 MB at the default.
    pub fn log_queue(mut self, lines: usize) -> Self {
        self.log_queue = lines;
        self
    }

    /// Where inferwatch's own telemetry metrics (log lines and spans lost, failed exports) are recorded (default:
    /// the global recorder, installed before or after `init`: each count finds the recorder in place when it is
    /// made).
    pub fn recorder(mut self, recorder: SharedRecorder) -> Self {
        self.recorder = recorder;
        self
    }

    /// The propagator installed globally, instead of what `OTEL_PROPAGATORS` names (e.g. B3 for an older mesh).
    pub fn propagator(mut self, propagator: impl TextMapPropagator + Send + Sync + 'static) -> Self {
        self.propagator = Some(Box::new(propagator));
        self
    }

    /// Installs the global `tracing` subscriber, and OpenTelemetry's global tracer provider and propagator.
    pub fn init(mut self) -> Result<TelemetryGuard, TelemetryError> {
        let propagator = self.propagator.take();
        let (dispatch, mut guard) = self.dispatch()?;
        dispatch
            .try_init()
            .map_err(|e| TelemetryError::SubscriberInstalled(e.to_string()))?;
        if let Some(warning) = guard.sampler_warning.take() {
            tracing::warn!(target: LOG_TARGET, "{warning}");
        }
        match propagator {
            Some(propagator) => {
                let one = opentelemetry::propagation::TextMapCompositePropagator::new(vec![propagator]);
                opentelemetry::global::set_text_map_propagator(one);
            }
            None => {
                let configured = std::env::var("OTEL_PROPAGATORS").ok();
                let (propagator, ignored) = propagators::from_env(configured.as_deref());
                for name in ignored {
                    tracing::warn!(target: LOG_TARGET, propagator = %name, "OTEL_PROPAGATORS names a propagator inferwatch does not have; ignored");
                }
                opentelemetry::global::set_text_map_propagator(propagator);
            }
        }
        // The SDK says at INFO that it did this, a line at every start that tells the user nothing.
        let provider = guard.provider.clone();
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            opentelemetry::global::set_tracer_provider(provider);
        });
        Ok(guard)
    }

    /// The subscriber [`init`](Self::init) installs, without installing it or any global: to run it as a scoped
    /// default (`tracing::dispatcher::with_default`), or to install it yourself.
    pub fn dispatch(self) -> Result<(Dispatch, TelemetryGuard), TelemetryError> {
        let configured = match self.sampling_ratio {
            Some(ratio) => trace_sampler::Configured::parent_based_ratio(ratio),
            None => trace_sampler::from_env(
                std::env::var("OTEL_TRACES_SAMPLER").ok().as_deref(),
                std::env::var("OTEL_TRACES_SAMPLER_ARG").ok().as_deref(),
            ),
        };
        #[cfg(feature = "otlp")]
        let mut export_runtime = transport::ExportRuntime::default();
        let provider = self.tracer_provider(
            configured.head.sampler().clone(),
            #[cfg(feature = "otlp")]
            &mut export_runtime,
        )?;
        #[cfg(feature = "otlp")]
        let logger = match otlp_logs::enabled(&self)? {
            true => Some(otlp_logs::provider(&self, self.resource(), &mut export_runtime)?),
            false => None,
        };
        #[cfg(feature = "otlp")]
        let exported = logger
            .as_ref()
            .map(|l| otlp_logs::layer(l).with_filter(LogFilter::from_env(&self.default_filter).boxed()));
        #[cfg(not(feature = "otlp"))]
        let exported: Option<tracing_subscriber::layer::Identity> = None;
        // Asked for log records this build cannot export: said at start, not silently ignored.
        #[cfg(not(feature = "otlp"))]
        if std::env::var("OTEL_LOGS_EXPORTER").is_ok_and(|v| v.trim() == "otlp") {
            return Err(TelemetryError::OtlpNotEnabled);
        }

        let filter = LogFilter::from_env(&self.default_filter);
        let writer = self.writer.unwrap_or_else(|| Box::new(std::io::stdout()));
        let mut direct = None;
        let (logs, worker) = match (self.format, self.log_queue) {
            (LogFormat::Json, 0) => (JsonLayer::new(Mutex::new(writer)).boxed(), None),
            (LogFormat::Pretty, 0) => (
                tracing_subscriber::fmt::layer().with_writer(Mutex::new(writer)).boxed(),
                None,
            ),
            (format, lines) => {
                let dropped = self
                    .recorder
                    .late_counter(c::Metric::TelemetryLogLinesDropped.def(), &[]);
                let (queue, worker) =
                    LogQueue::start(lines, writer, dropped).map_err(|e| TelemetryError::LogWriter(e.to_string()))?;
                // The JSON writer is the only reader of summary lines (the OpenTelemetry layer keeps them out of
                // spans), and which of them it writes does not depend on spans.
                let known = filter.passes_anywhere(LOG_TARGET, Level::INFO).is_some();
                if format == LogFormat::Json && exported.is_none() && known {
                    let passes = |level| filter.passes_anywhere(LOG_TARGET, level) == Some(true);
                    let queue = queue.clone();
                    direct = Some(QueuedSummaries {
                        passes: [passes(Level::ERROR), passes(Level::WARN), passes(Level::INFO)],
                        queue,
                    });
                }
                let layer = match format {
                    LogFormat::Json => JsonLayer::new(queue).boxed(),
                    LogFormat::Pretty => tracing_subscriber::fmt::layer().with_writer(queue).boxed(),
                };
                (layer, Some(worker))
            }
        };
        // Request spans are INFO: below that level no request has a span to sample.
        let head = (self.span_level >= LevelFilter::INFO).then_some(configured.head);
        let otel = opentelemetry_layer(provider.tracer("inferwatch"), self.span_level);
        let layers = Registry::default()
            .with(otel)
            .with(logs.with_filter(filter.boxed()))
            .with(exported);
        let guard = TelemetryGuard {
            head,
            summaries: direct,
            provider,
            sampler_warning: configured.warning,
            #[cfg(feature = "otlp")]
            logger,
            #[cfg(feature = "otlp")]
            export_timeout: self.export_timeout,
            #[cfg(feature = "otlp")]
            _export_runtime: export_runtime,
            _logs: worker,
        };
        Ok((Dispatch::new(layers), guard))
    }

    /// The resource of spans and log records: the service name (unless `OTEL_SERVICE_NAME` says otherwise) and
    /// what the `OTEL_RESOURCE_ATTRIBUTES` variables add.
    fn resource(&self) -> Resource {
        let mut resource = Resource::builder();
        if let Some(name) = &self.service_name
            && std::env::var_os("OTEL_SERVICE_NAME").is_none()
        {
            resource = resource.with_service_name(name.clone());
        }
        resource.build()
    }

    fn tracer_provider(
        &self,
        sampler: opentelemetry_sdk::trace::Sampler,
        #[cfg(feature = "otlp")] runtime: &mut transport::ExportRuntime,
    ) -> Result<SdkTracerProvider, TelemetryError> {
        let provider = SdkTracerProvider::builder()
            .with_resource(self.resource())
            .with_sampler(sampler)
            .with_id_generator(HeadSampler::id_generator());
        let endpoint_in_env = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        if self.endpoint.is_none() && !endpoint_in_env {
            return Ok(provider.build());
        }
        #[cfg(feature = "otlp")]
        return otlp::with_exporter(provider, self, runtime);
        #[cfg(not(feature = "otlp"))]
        Err(TelemetryError::OtlpNotEnabled)
    }
}

/// Summary lines straight into the log queue, as their values, for the JSON writer on the queue's thread.
#[derive(Clone)]
struct QueuedSummaries {
    /// Whether a line at ERROR, WARN or INFO passes the log filter.
    passes: [bool; 3],
    queue: LogQueue,
}

impl SummaryWriter for QueuedSummaries {
    fn enabled(&self, level: Level) -> bool {
        match level {
            Level::ERROR => self.passes[0],
            Level::WARN => self.passes[1],
            _ => self.passes[2],
        }
    }

    fn write(&self, line: SummaryLine) {
        self.queue.push_summary_values(line, SystemTime::now());
        #[cfg(test)]
        tests::DIRECT_LINES.set(tests::DIRECT_LINES.get() + 1);
    }
}

/// Keeps telemetry running; dropping it flushes pending spans and log records and shuts the exporters down, both
/// at once (bounded by the export timeout). Drop it at the end of `main`.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    head: Option<HeadSampler>,
    summaries: Option<QueuedSummaries>,
    provider: SdkTracerProvider,
    /// What was wrong with `OTEL_TRACES_SAMPLER`, logged once the subscriber is installed.
    sampler_warning: Option<String>,
    #[cfg(feature = "otlp")]
    logger: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
    /// Bounds the shutdown of the providers together.
    #[cfg(feature = "otlp")]
    export_timeout: Duration,
    /// Where gRPC exporters' connections run; stopped after the providers' shutdown has sent what was left.
    #[cfg(feature = "otlp")]
    _export_runtime: transport::ExportRuntime,
    /// Dropped after the provider (fields drop in order): writes the log lines still queued.
    _logs: Option<LogWriterGuard>,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard").finish_non_exhaustive()
    }
}

impl TelemetryGuard {
    /// The tracing observer for this subscriber: it asks the tracer's sampler before building a request span (a
    /// request not sampled gets none, only its ids), and hands summary lines to the log queue as their values
    /// when the JSON writer is their only reader (no OTLP log records, a log filter that does not look at spans).
    /// Give it to the layer with [`InferenceLayerBuilder::tracing`](inferwatch_core::InferenceLayerBuilder::tracing); a
    /// plain `TracingObserver` works under this subscriber too, building a span for every request.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), inferwatch_telemetry::TelemetryError> {
    /// let telemetry = inferwatch_telemetry::init()?;
    /// let layer = inferwatch_core::InferenceLayer::builder().tracing(telemetry.tracing_observer()).build();
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub fn tracing_observer(&self) -> TracingObserver {
        let mut observer = TracingObserver::new();
        if let Some(head) = &self.head {
            observer = observer.head_sampler(head.clone());
        }
        if let Some(summaries) = &self.summaries {
            observer = observer.summary_writer(summaries.clone());
        }
        observer
    }

    /// Exports every finished span now.
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
        #[cfg(feature = "otlp")]
        if let Some(logger) = &self.logger {
            let _ = logger.force_flush();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        {
            let timeout = self.export_timeout;
            let Some(logger) = &self.logger else {
                let _ = self.provider.shutdown_with_timeout(timeout);
                return;
            };
            // Both at once: against a collector that does not answer, each waits out the export timeout, and one
            // after the other would take twice what the timeout promises.
            std::thread::scope(|scope| {
                let logs = std::thread::Builder::new().spawn_scoped(scope, || logger.shutdown_with_timeout(timeout));
                let _ = self.provider.shutdown_with_timeout(timeout);
                if logs.is_err() {
                    let _ = logger.shutdown_with_timeout(timeout);
                }
            });
        }
        #[cfg(not(feature = "otlp"))]
        let _ = self.provider.shutdown();
    }
}
