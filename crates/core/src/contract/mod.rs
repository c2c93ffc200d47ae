//! The metric contract: every metric inferwatch records, with its name, type, unit, labels, buckets and meaning.
//!
//! Names are the Prometheus names that the standard OpenTelemetry → Prometheus translation gives (dots become
//! underscores, the unit becomes a suffix, counters end in `_total`), so dashboards and alert rules work whether
//! the numbers were scraped directly or went through an OpenTelemetry Collector. This module is the only place
//! where names, labels and buckets are spelled; `docs/METRICS.md` is generated from it and a test keeps the two
//! identical.

use metrics::{Key, Label, Level, Metadata, Recorder};

/// The value used for anything outside a bounded label set.
pub const OTHER: &str = "_OTHER";

/// The `tracing` target of every span and log line inferwatch writes (`RUST_LOG=inferwatch=debug`).
pub const LOG_TARGET: &str = "inferwatch";

mod buckets;
mod cost;
mod def;
mod drift;
mod engine;
mod host;
pub mod label;
mod quality;

use buckets::*;
pub(crate) use cost::*;
pub use def::{MetricDef, MetricKind};
pub(crate) use drift::*;
pub(crate) use engine::*;
pub(crate) use host::*;
pub(crate) use quality::*;

/// Requests seen by the layer, by how they ended.
pub(crate) const REQUESTS_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_requests_total",
    otel_name: Some("inferwatch.requests"),
    kind: MetricKind::Counter,
    unit: "{request}",
    labels: &[label::ROUTE, label::GEN_AI_REQUEST_MODEL, label::OUTCOME],
    buckets: &[],
    description: "Requests finished, by route, model and outcome (ok, client_error, server_error, cancelled).",
};

/// Requests a handler asked the handle of with no layer in front.
pub(crate) const REQUESTS_UNMEASURED: MetricDef = MetricDef {
    name: "inferwatch_requests_unmeasured_total",
    otel_name: Some("inferwatch.requests.unmeasured"),
    kind: MetricKind::Counter,
    unit: "{request}",
    labels: &[label::ROUTE],
    buckets: &[],
    description: "Requests whose handler asked for its RequestHandle with no InferenceLayer in front (a route added after .layer(), say), by route: measured nowhere else. Recorded in the global recorder.",
};

/// Requests whose response has not reached its end yet.
pub(crate) const REQUESTS_IN_FLIGHT: MetricDef = MetricDef {
    name: "inferwatch_requests_in_flight",
    otel_name: Some("inferwatch.requests.in_flight"),
    kind: MetricKind::Gauge,
    unit: "{request}",
    labels: &[label::ROUTE],
    buckets: &[],
    description: "Requests in progress: received and whose response body has not ended yet.",
};

/// HTTP server duration, to the end of the response body.
pub(crate) const HTTP_SERVER_REQUEST_DURATION: MetricDef = MetricDef {
    name: "http_server_request_duration_seconds",
    otel_name: Some("http.server.request.duration"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: &[
        label::HTTP_REQUEST_METHOD,
        label::HTTP_ROUTE,
        label::HTTP_RESPONSE_STATUS_CODE,
    ],
    buckets: HTTP_DURATION_BUCKETS,
    description: "Duration of HTTP requests (not gRPC), from receipt to the end of the response body.",
};

/// gRPC call duration, to the end of the response stream.
pub(crate) const RPC_SERVER_CALL_DURATION: MetricDef = MetricDef {
    name: "rpc_server_call_duration_seconds",
    otel_name: Some("rpc.server.call.duration"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: &[
        label::RPC_SYSTEM_NAME,
        label::RPC_METHOD,
        label::RPC_RESPONSE_STATUS_CODE,
    ],
    buckets: HTTP_DURATION_BUCKETS,
    description: "Duration of gRPC calls, from receipt to the end of the response stream (trailers).",
};

/// End-to-end duration of inference requests.
pub(crate) const GEN_AI_SERVER_REQUEST_DURATION: MetricDef = MetricDef {
    name: "gen_ai_server_request_duration_seconds",
    otel_name: Some("gen_ai.server.request.duration"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: &[
        label::GEN_AI_OPERATION_NAME,
        label::GEN_AI_REQUEST_MODEL,
        label::ERROR_TYPE,
    ],
    buckets: GEN_AI_DURATION_BUCKETS,
    description: "Duration of inference requests (handler named a model or reported tokens), to the last byte.",
};

/// Time to the first output token.
pub(crate) const GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: MetricDef = MetricDef {
    name: "gen_ai_server_time_to_first_token_seconds",
    otel_name: Some("gen_ai.server.time_to_first_token"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: &[label::GEN_AI_OPERATION_NAME, label::GEN_AI_REQUEST_MODEL],
    buckets: TIME_TO_FIRST_TOKEN_BUCKETS,
    description: "Time from receipt to the first output token (first body frame of a stream, or the handler's mark).",
};

/// Time per output token after the first.
pub(crate) const GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN: MetricDef = MetricDef {
    name: "gen_ai_server_time_per_output_token_seconds",
    otel_name: Some("gen_ai.server.time_per_output_token"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: &[label::GEN_AI_OPERATION_NAME, label::GEN_AI_REQUEST_MODEL],
    buckets: TIME_PER_OUTPUT_TOKEN_BUCKETS,
    description: "(end - first token) / (output tokens - 1), for requests with at least 2 output tokens.",
};

/// Tokens processed, summed.
pub(crate) const TOKENS_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_tokens_total",
    otel_name: Some("inferwatch.tokens"),
    kind: MetricKind::Counter,
    unit: "{token}",
    labels: &[label::GEN_AI_REQUEST_MODEL, label::GEN_AI_TOKEN_TYPE],
    buckets: &[],
    description: "Input and output tokens of finished requests, by model.",
};

/// Tokens per request.
pub(crate) const REQUEST_TOKENS: MetricDef = MetricDef {
    name: "inferwatch_request_tokens",
    otel_name: Some("inferwatch.request.tokens"),
    kind: MetricKind::Histogram,
    unit: "{token}",
    labels: &[label::GEN_AI_REQUEST_MODEL, label::GEN_AI_TOKEN_TYPE],
    buckets: TOKEN_COUNT_BUCKETS,
    description: "Input and output tokens per request, by model.",
};

/// Time spent in one stage (tokenize, generate, decode, …) of a request.
pub(crate) const STAGE_DURATION: MetricDef = MetricDef {
    name: "inferwatch_stage_duration_seconds",
    otel_name: Some("inferwatch.stage.duration"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: &[label::STAGE, label::GEN_AI_REQUEST_MODEL],
    buckets: STAGE_DURATION_BUCKETS,
    description: "Duration of request stages (tokenize, generate, decode, ...) started through the request handle.",
};

/// Always 1; the label says which inferwatch version records.
pub(crate) const BUILD_INFO: MetricDef = MetricDef {
    name: "inferwatch_build_info",
    otel_name: None,
    kind: MetricKind::Gauge,
    unit: "1",
    labels: &[label::VERSION],
    buckets: &[],
    description: "Always 1; the version label names the inferwatch release recording these metrics.",
};

/// The latest result of each health check.
pub(crate) const HEALTH_STATUS: MetricDef = MetricDef {
    name: "inferwatch_health_status",
    otel_name: Some("inferwatch.health.status"),
    kind: MetricKind::Gauge,
    unit: "1",
    labels: &[label::CHECK],
    buckets: &[],
    description: "Latest result of each health check: 1 pass, 0.5 warn, 0 fail.",
};

/// Log lines the non-blocking log writer dropped because its queue was full.
pub(crate) const TELEMETRY_LOG_LINES_DROPPED: MetricDef = MetricDef {
    name: "inferwatch_telemetry_log_lines_dropped_total",
    otel_name: Some("inferwatch.telemetry.log_lines.dropped"),
    kind: MetricKind::Counter,
    unit: "{line}",
    labels: &[],
    buckets: &[],
    description: "Log lines dropped because the log writer's queue was full (telemetry::init writes logs off the request's thread, lossy under pressure).",
};

/// Spans the OTLP exporter sent.
pub(crate) const TELEMETRY_SPANS_EXPORTED: MetricDef = MetricDef {
    name: "inferwatch_telemetry_spans_exported_total",
    otel_name: Some("inferwatch.telemetry.spans.exported"),
    kind: MetricKind::Counter,
    unit: "{span}",
    labels: &[],
    buckets: &[],
    description: "Spans the OTLP exporter sent to the collector.",
};

/// Spans lost before they reached the collector.
pub(crate) const TELEMETRY_SPANS_DROPPED: MetricDef = MetricDef {
    name: "inferwatch_telemetry_spans_dropped_total",
    otel_name: Some("inferwatch.telemetry.spans.dropped"),
    kind: MetricKind::Counter,
    unit: "{span}",
    labels: &[label::REASON],
    buckets: &[],
    description: "Sampled spans lost before the collector: queue_full (the export queue was full) or export_failed (their batch failed).",
};

/// Exports that failed.
pub(crate) const TELEMETRY_EXPORT_ERRORS: MetricDef = MetricDef {
    name: "inferwatch_telemetry_export_errors_total",
    otel_name: Some("inferwatch.telemetry.export.errors"),
    kind: MetricKind::Counter,
    unit: "{export}",
    labels: &[label::SIGNAL],
    buckets: &[],
    description: "OTLP exports that failed (collector down, unreachable, refusing, timing out), by signal: traces or logs.",
};

/// Declares [`Metric`] and [`ALL`] from one list, so that the keys and the table cannot disagree.
macro_rules! metrics {
    ($($metric:ident = $def:ident,)*) => {
        /// A metric of the contract, as a key: [`def`](Self::def) gives its name, type, unit, labels, buckets and
        /// meaning (in `description`); [`ALL`](Self::ALL) lists them in documentation order, and [`find`] looks
        /// one up by its Prometheus name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[allow(missing_docs, reason = "a variant's meaning is its definition's description")]
        pub enum Metric {
            $($metric,)*
        }

        impl Metric {
            /// Every metric, in documentation order.
            pub const ALL: &'static [Metric] = &[$(Metric::$metric,)*];

            /// The metric's definition.
            pub const fn def(self) -> &'static MetricDef {
                match self {
                    $(Metric::$metric => &$def,)*
                }
            }
        }

        /// Every metric's definition, in documentation order: the contract as a table.
        pub const ALL: &[MetricDef] = &[$($def,)*];
    };
}

metrics! {
    RequestsTotal = REQUESTS_TOTAL,
    RequestsInFlight = REQUESTS_IN_FLIGHT,
    RequestsUnmeasured = REQUESTS_UNMEASURED,
    HttpServerRequestDuration = HTTP_SERVER_REQUEST_DURATION,
    RpcServerCallDuration = RPC_SERVER_CALL_DURATION,
    GenAiServerRequestDuration = GEN_AI_SERVER_REQUEST_DURATION,
    GenAiServerTimeToFirstToken = GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
    GenAiServerTimePerOutputToken = GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
    TokensTotal = TOKENS_TOTAL,
    RequestTokens = REQUEST_TOKENS,
    StageDuration = STAGE_DURATION,
    FinishReasonsTotal = FINISH_REASONS_TOTAL,
    EmptyResponsesTotal = EMPTY_RESPONSES_TOTAL,
    QualityScore = QUALITY_SCORE,
    QualityScoreRejected = QUALITY_SCORE_REJECTED,
    FeedbackTotal = FEEDBACK_TOTAL,
    FeedbackRepeats = FEEDBACK_REPEATS,
    ExperimentRequestsTotal = EXPERIMENT_REQUESTS_TOTAL,
    ExperimentRequestDuration = EXPERIMENT_REQUEST_DURATION,
    ExperimentTimeToFirstToken = EXPERIMENT_TIME_TO_FIRST_TOKEN,
    ExperimentTokensTotal = EXPERIMENT_TOKENS_TOTAL,
    ExperimentQualityScore = EXPERIMENT_QUALITY_SCORE,
    ExperimentFeedbackTotal = EXPERIMENT_FEEDBACK_TOTAL,
    RequestQueueDuration = REQUEST_QUEUE_DURATION,
    RequestsWaiting = REQUESTS_WAITING,
    EngineKvCacheUsage = ENGINE_KV_CACHE_USAGE,
    EngineBatchSize = ENGINE_BATCH_SIZE,
    EnginePreemptions = ENGINE_PREEMPTIONS,
    CostTotal = COST_TOTAL,
    RequestCost = REQUEST_COST,
    ExperimentCostTotal = EXPERIMENT_COST_TOTAL,
    GpuCostTotal = GPU_COST_TOTAL,
    CostInfo = COST_INFO,
    DriftPsi = DRIFT_PSI,
    DriftKsStatistic = DRIFT_KS_STATISTIC,
    DriftChiSquarePValue = DRIFT_CHI_SQUARE_P_VALUE,
    DriftWindowObservations = DRIFT_WINDOW_OBSERVATIONS,
    DriftBaselineInfo = DRIFT_BASELINE_INFO,
    BuildInfo = BUILD_INFO,
    HealthStatus = HEALTH_STATUS,
    TelemetryLogLinesDropped = TELEMETRY_LOG_LINES_DROPPED,
    TelemetrySpansExported = TELEMETRY_SPANS_EXPORTED,
    TelemetrySpansDropped = TELEMETRY_SPANS_DROPPED,
    TelemetryExportErrors = TELEMETRY_EXPORT_ERRORS,
    HwGpuUtilization = HW_GPU_UTILIZATION,
    HwGpuMemoryUsage = HW_GPU_MEMORY_USAGE,
    HwGpuMemoryLimit = HW_GPU_MEMORY_LIMIT,
    HwPower = HW_POWER,
    HwEnergy = HW_ENERGY,
    HwTemperature = HW_TEMPERATURE,
    GpuSmClock = GPU_SM_CLOCK,
    GpuDeviceUp = GPU_DEVICE_UP,
    GpuSamplerUp = GPU_SAMPLER_UP,
    GpuSampleErrors = GPU_SAMPLE_ERRORS,
    SystemCpuUtilization = SYSTEM_CPU_UTILIZATION,
    SystemMemoryUsage = SYSTEM_MEMORY_USAGE,
    SystemMemoryLimit = SYSTEM_MEMORY_LIMIT,
    SystemFilesystemUtilization = SYSTEM_FILESYSTEM_UTILIZATION,
    ProcessCpuSeconds = PROCESS_CPU_SECONDS,
    ProcessOpenFds = PROCESS_OPEN_FDS,
    ProcessMaxFds = PROCESS_MAX_FDS,
    ProcessVirtualMemory = PROCESS_VIRTUAL_MEMORY,
    ProcessVirtualMemoryMax = PROCESS_VIRTUAL_MEMORY_MAX,
    ProcessResidentMemory = PROCESS_RESIDENT_MEMORY,
    ProcessStartTime = PROCESS_START_TIME,
    ProcessThreads = PROCESS_THREADS,
}

/// Looks a metric up by its Prometheus name.
pub fn find(name: &str) -> Option<&'static MetricDef> {
    ALL.iter().find(|m| m.name == name)
}

/// Prepares `recorder` for the contract: every metric's HELP text and unit, and `inferwatch_build_info{version} 1`,
/// so that an exposition names the version before any traffic.
/// `PrometheusBuilder` calls it; call it for any other recorder.
pub fn describe(recorder: &dyn Recorder) {
    for m in ALL {
        let (name, unit, help) = (m.name.into(), m.metrics_unit(), m.description.into());
        match m.kind {
            MetricKind::Counter => recorder.describe_counter(name, unit, help),
            MetricKind::Gauge => recorder.describe_gauge(name, unit, help),
            MetricKind::Histogram => recorder.describe_histogram(name, unit, help),
        }
    }
    static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));
    let key = Key::from_parts(
        BUILD_INFO.name,
        vec![Label::new(label::VERSION, env!("CARGO_PKG_VERSION"))],
    );
    recorder.register_gauge(&key, &METADATA).set(1.0);
}

#[cfg(test)]
/// The contract as a Markdown table; `docs/METRICS.md` embeds exactly this.
pub(crate) fn markdown_table() -> String {
    let mut out = String::from(
        "| name | OpenTelemetry name | type | unit | labels | buckets | meaning |\n|---|---|---|---|---|---|---|\n",
    );
    for m in ALL {
        let labels: Vec<String> = m.labels.iter().map(|l| format!("`{l}`")).collect();
        let buckets: Vec<String> = m.buckets.iter().map(f64::to_string).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | `{}` | {} | {} | {} |\n",
            m.name,
            m.otel_name.map(|n| format!("`{n}`")).unwrap_or_default(),
            m.kind.as_str(),
            m.unit,
            labels.join(", "),
            buckets.join(", "),
            m.description,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_defaults_are_sorted_and_reach_minutes() {
        for m in ALL.iter().filter(|m| m.kind == MetricKind::Histogram) {
            assert!(m.buckets.windows(2).all(|w| w[0] < w[1]), "{} buckets unsorted", m.name);
        }
        assert_eq!(HTTP_DURATION_BUCKETS.last(), Some(&300.0));
        assert_eq!(GEN_AI_DURATION_BUCKETS.len(), 16);
        assert_eq!(GEN_AI_DURATION_BUCKETS.last(), Some(&327.68));
        assert_eq!(TOKEN_COUNT_BUCKETS.last(), Some(&(4f64.powi(12))));
        assert_eq!(TIME_TO_FIRST_TOKEN_BUCKETS.last(), Some(&80.0));
        assert_eq!(TIME_PER_OUTPUT_TOKEN_BUCKETS.last(), Some(&10.0));
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for m in ALL {
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            assert_eq!(m.kind == MetricKind::Counter, m.name.ends_with("_total"), "{}", m.name);
            assert_eq!(m.unit == "s", m.name.contains("_seconds"), "{}", m.name);
            assert_eq!(m.unit == "By", m.name.ends_with("_bytes"), "{}", m.name);
            if m.name.ends_with("_ratio") {
                assert_eq!(m.unit, "1", "{}", m.name);
            }
        }
    }

    /// `INFERWATCH_BLESS=1 cargo test -p inferwatch-core docs_metrics_md` rewrites the table between the markers.
    #[test]
    fn docs_metrics_md_embeds_the_contract() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/METRICS.md");
        let doc = std::fs::read_to_string(path).expect("docs/METRICS.md exists");
        let (begin, end) = ("<!-- contract:begin -->\n", "<!-- contract:end -->");
        let start = doc.find(begin).expect("begin marker") + begin.len();
        let stop = doc.find(end).expect("end marker");
        if std::env::var_os("INFERWATCH_BLESS").is_some() {
            let updated = format!("{}{}{}", &doc[..start], markdown_table(), &doc[stop..]);
            std::fs::write(path, updated).expect("write docs/METRICS.md");
            return;
        }
        assert_eq!(
            &doc[start..stop],
            markdown_table(),
            "docs/METRICS.md is stale: run with INFERWATCH_BLESS=1"
        );
    }
}
