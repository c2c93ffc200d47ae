//! The summary log line: one per finished request, server errors at ERROR, client errors at WARN, the rest at
//! INFO. Its fields are the log contract that tests and CI parse; prompt text is never among them. Its times
//! (`duration_ms`, `ttft_ms`) are milliseconds to the microsecond.
use std::time::Duration;

use http::{Method, StatusCode};
use opentelemetry::trace::{SpanId, TraceId};
use tracing::Level;

use crate::classify::{ErrorType, GrpcCode, Outcome};
use crate::contract::LOG_TARGET;
use crate::labels::LabelValue;
use crate::request::{FinishReason, RequestSummary};

/// What a request's summary line says, field by field: the `tracing` event's fields and a
/// [`SummaryWriter`]'s line both come from here, so that they say the same.
#[derive(Clone)]
pub struct SummaryLine {
    duration_us: u64,
    error_type: Option<ErrorType>,
    experiment: Option<(LabelValue, LabelValue)>,
    finish_reason: Option<FinishReason>,
    input_tokens: u64,
    method: Method,
    model: Option<LabelValue>,
    outcome: Outcome,
    output_tokens: u64,
    response_model: Option<LabelValue>,
    route: LabelValue,
    status: Option<StatusCode>,
    grpc_code: Option<GrpcCode>,
    ttft_us: Option<u64>,
    /// The span's trace and span ids, hex-encoded only where a line is written: by the log writer's thread for a
    /// queued line.
    ids: Option<(TraceId, SpanId)>,
}

/// Whole microseconds: a log line's times are milliseconds to the microsecond, which writers print from the integer.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl SummaryLine {
    /// `micros` microseconds in milliseconds: the number `duration_ms` and `ttft_ms` carry. A writer that prints
    /// them from the integer must print the digits of this number.
    pub fn ms_from_micros(micros: u64) -> f64 {
        micros as f64 / 1000.0
    }

    /// The line of `summary`, with the ids of the request's span.
    pub fn new(s: &RequestSummary<'_>, ids: Option<(TraceId, SpanId)>) -> Self {
        Self {
            duration_us: micros(s.duration),
            error_type: s.error_type,
            experiment: s.experiment.map(|(e, v)| (e.clone(), v.clone())),
            finish_reason: s.finish_reason,
            input_tokens: s.usage.input_tokens,
            method: s.info.method.clone(),
            model: s.model.cloned(),
            outcome: s.outcome,
            output_tokens: s.usage.output_tokens,
            response_model: s.response_model.cloned(),
            route: s.info.route.clone(),
            status: s.status,
            grpc_code: s.grpc_code,
            ttft_us: s.time_to_first_token.map(micros),
            ids,
        }
    }

    /// `duration_ms`: to the end of the response, in milliseconds (to the microsecond).
    pub fn duration_ms(&self) -> f64 {
        Self::ms_from_micros(self.duration_us())
    }
    /// The duration in whole microseconds.
    pub fn duration_us(&self) -> u64 {
        self.duration_us
    }
    /// `error_type`, empty when the request did not fail.
    pub fn error_type(&self) -> &str {
        self.error_type.as_ref().map_or("", ErrorType::as_str)
    }
    /// `experiment`, empty when none was assigned.
    pub fn experiment(&self) -> &str {
        self.experiment.as_ref().map_or("", |(e, _)| e.as_str())
    }
    /// `finish_reason`, empty when the handler set none.
    pub fn finish_reason(&self) -> &str {
        self.finish_reason.map_or("", FinishReason::as_str)
    }
    /// `input_tokens`.
    pub fn input_tokens(&self) -> u64 {
        self.input_tokens
    }
    /// `method`: the HTTP method as received.
    pub fn method(&self) -> &str {
        self.method.as_str()
    }
    /// `model`: the bounded model label, empty when none was named.
    pub fn model(&self) -> &str {
        self.model.as_ref().map_or("", LabelValue::as_str)
    }
    /// `outcome`: ok, client_error, server_error or cancelled.
    pub fn outcome(&self) -> &str {
        self.outcome.as_str()
    }
    /// `output_tokens`.
    pub fn output_tokens(&self) -> u64 {
        self.output_tokens
    }
    /// `response_model`, empty unless the handler named one.
    pub fn response_model(&self) -> &str {
        self.response_model.as_ref().map_or("", LabelValue::as_str)
    }
    /// `route`: the bounded route label.
    pub fn route(&self) -> &str {
        self.route.as_str()
    }
    /// The request span's trace and span ids, when it has valid ones.
    pub fn ids(&self) -> Option<(TraceId, SpanId)> {
        self.ids
    }
    /// `span_id`: the request span's id.
    pub fn span_id(&self) -> Option<SpanId> {
        self.ids.map(|(_, span)| span)
    }
    /// `status`: the gRPC status name for gRPC, else the HTTP status code; empty without a response.
    pub fn status(&self) -> &str {
        match (self.grpc_code, &self.status) {
            (Some(code), _) => code.as_str(),
            (None, Some(status)) => status.as_str(),
            (None, None) => "",
        }
    }
    /// `trace_id`: the request span's trace id.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.ids.map(|(trace, _)| trace)
    }
    /// `ttft_ms`: time to first token in milliseconds; NaN without a first token (JSON writers print null).
    pub fn ttft_ms(&self) -> f64 {
        self.ttft_us().map_or(f64::NAN, Self::ms_from_micros)
    }
    /// Time to first token in whole microseconds.
    pub fn ttft_us(&self) -> Option<u64> {
        self.ttft_us
    }
    /// `variant`, empty when no experiment was assigned.
    pub fn variant(&self) -> &str {
        self.experiment.as_ref().map_or("", |(_, v)| v.as_str())
    }
    /// The level the line is logged at: ERROR for server errors, WARN for client errors, else INFO.
    pub fn level(&self) -> Level {
        level_of(self.outcome)
    }
}

/// The level of a request's summary line.
fn level_of(outcome: Outcome) -> Level {
    match outcome {
        Outcome::ServerError => Level::ERROR,
        Outcome::ClientError => Level::WARN,
        Outcome::Ok | Outcome::Cancelled => Level::INFO,
    }
}

/// Where a request's summary line goes without becoming a `tracing` event, given to
/// [`TracingObserver::summary_writer`](super::TracingObserver::summary_writer): for a log writer that is the line's
/// only reader (telemetry's JSON log queue is one), building and dispatching an event only to have the writer
/// turn it back into these values costs more than the rest of the line. The bytes written must be the same.
pub trait SummaryWriter: Send + Sync + 'static {
    /// Whether lines at `level` are written at all (the log filter's answer for inferwatch's target).
    fn enabled(&self, level: Level) -> bool;

    /// Writes the line (or queues it, never waiting).
    fn write(&self, line: SummaryLine);
}

/// The summary line's message.
pub const SUMMARY_MESSAGE: &str = "request finished";

/// Logs the summary line as a `tracing` event, with the request span's ids when it has valid ones: then no writer
/// has to look them up.
pub(super) fn log(s: &RequestSummary<'_>, ids: Option<(TraceId, SpanId)>) {
    emit(&SummaryLine::new(s, ids));
}

/// Hands the line to `writer`, if its level passes.
pub(super) fn write(writer: &dyn SummaryWriter, s: &RequestSummary<'_>, ids: Option<(TraceId, SpanId)>) {
    if writer.enabled(level_of(s.outcome)) {
        writer.write(SummaryLine::new(s, ids));
    }
}

/// Logs the line as an event, whose fields writers visit one by one.
pub fn emit(v: &SummaryLine) {
    macro_rules! summary {
        ($level:expr) => {
            tracing::event!(
                target: LOG_TARGET,
                $level,
                // In the order of their names: JSON lines list them so.
                duration_ms = v.duration_ms(),
                error_type = v.error_type(),
                experiment = v.experiment(),
                finish_reason = v.finish_reason(),
                input_tokens = v.input_tokens(),
                method = v.method(),
                model = v.model(),
                outcome = v.outcome(),
                output_tokens = v.output_tokens(),
                response_model = v.response_model(),
                route = v.route(),
                span_id = v.span_id().map(tracing::field::display),
                status = v.status(),
                trace_id = v.trace_id().map(tracing::field::display),
                ttft_ms = v.ttft_ms(),
                variant = v.variant(),
                // A plain string rather than a format string: writers take it as it is.
                message = SUMMARY_MESSAGE,
            )
        };
    }
    match v.level() {
        Level::ERROR => summary!(Level::ERROR),
        Level::WARN => summary!(Level::WARN),
        _ => summary!(Level::INFO),
    }
}

// What log writers' tests need: lines with every kind of field set, and who holds their route.

/// The route label's shared string, to count who holds it.
#[cfg(feature = "test-util")]
pub fn route_shared(line: &SummaryLine) -> std::sync::Arc<str> {
    line.route.shared()
}

/// Values with every kind of field set (`ids`: with span ids; `grpc`: a gRPC failure, no first token).
#[cfg(feature = "test-util")]
pub fn test_values(route: &str, model: &str, ids: bool, grpc: bool) -> SummaryLine {
    let label = |value: &str| LabelValue::new(0, value);
    SummaryLine {
        duration_us: 12_345,
        error_type: Some(ErrorType::HttpStatus(StatusCode::SERVICE_UNAVAILABLE)),
        experiment: Some((label("exp \"q\""), label("treat\n"))),
        finish_reason: Some(FinishReason::Stop),
        input_tokens: 12,
        method: if grpc {
            Method::POST
        } else {
            Method::from_bytes(b"X-JUNK!#~").expect("token")
        },
        model: Some(label(model)),
        outcome: if grpc {
            Outcome::ClientError
        } else {
            Outcome::ServerError
        },
        output_tokens: u64::MAX,
        response_model: (!grpc).then(|| label("r")),
        route: label(route),
        status: Some(StatusCode::SERVICE_UNAVAILABLE),
        grpc_code: grpc.then_some(GrpcCode::Unavailable),
        ttft_us: (!grpc).then_some(1_501),
        ids: ids.then(|| {
            let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex");
            let span = SpanId::from_hex("00f067aa0ba902b7").expect("hex");
            (trace, span)
        }),
    }
}
