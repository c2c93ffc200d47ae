//! The summary log line: one per finished request, server errors at ERROR, client errors at WARN, the rest at
//! INFO. Its fields are the log contract that tests and CI parse; prompt text is never among them. Its times
//! (`duration_ms`, `ttft_ms`) are milliseconds to the microsecond.
// Half of what is here serves telemetry's subscriber and JSON lines (feature `telemetry`).
#![cfg_attr(not(feature = "telemetry"), allow(dead_code))]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{Method, StatusCode};
use opentelemetry::trace::{SpanId, TraceId};
use tracing::{Level, Metadata};

use crate::classify::{ErrorType, GrpcCode, Outcome};
use crate::contract::LOG_TARGET;
use crate::labels::LabelValue;
use crate::request::{FeedbackEvent, FinishReason, RequestSummary};

/// Whether a writer that renders [`SummaryValues`] itself exists (telemetry's JSON lines): only then are they
/// handed over.
static RENDERER: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The values of the summary line being logged on this thread, while it is.
    static PENDING: RefCell<Option<SummaryValues>> = const { RefCell::new(None) };
    /// Summary lines being logged on this thread: more than one only if a layer finished a request while writing
    /// a line; such a nested line never takes the outer one's values.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// A writer that renders summary lines from their values is installed (see [`with_pending`]).
pub(crate) fn renderer_installed() {
    RENDERER.store(true, Ordering::Relaxed);
}

/// Runs `render` on the values of the summary line being logged on this thread, if `meta` is its event and a
/// renderer was installed: the same fields the event carries, without visiting them one by one through
/// `dyn Value` (about half of a line's cost).
pub(crate) fn with_pending<R>(meta: &Metadata<'_>, render: impl FnOnce(&SummaryValues) -> R) -> Option<R> {
    // The summary's first field tells its event from another of inferwatch's logged while it is written.
    let first_field = meta.fields().iter().next();
    if DEPTH.get() != 1 || meta.target() != LOG_TARGET || first_field.is_none_or(|f| f.name() != "duration_ms") {
        return None;
    }
    PENDING.with(|pending| pending.try_borrow().ok()?.as_ref().map(render))
}

/// What the summary line says, field by field; the event's fields and a renderer's both come from here.
#[derive(Clone)]
pub(crate) struct SummaryValues {
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

/// What `micros` microseconds are in milliseconds, as the event carries it.
pub(crate) fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

impl SummaryValues {
    fn new(s: &RequestSummary<'_>, ids: Option<(TraceId, SpanId)>) -> Self {
        let r = &s.reported;
        Self {
            duration_us: micros(s.duration),
            error_type: s.error_type,
            experiment: r.experiment.map(|(e, v)| (e.clone(), v.clone())),
            finish_reason: r.finish_reason,
            input_tokens: r.usage.input_tokens,
            method: s.info.method.clone(),
            model: r.model.cloned(),
            outcome: s.outcome,
            output_tokens: r.usage.output_tokens,
            response_model: r.response_model.cloned(),
            route: s.info.route.clone(),
            status: s.status,
            grpc_code: s.grpc_code,
            ttft_us: s.time_to_first_token.map(micros),
            ids,
        }
    }

    pub(crate) fn duration_ms(&self) -> f64 {
        ms(self.duration_us())
    }
    pub(crate) fn duration_us(&self) -> u64 {
        self.duration_us
    }
    pub(crate) fn error_type(&self) -> &str {
        self.error_type.as_ref().map_or("", ErrorType::as_str)
    }
    pub(crate) fn experiment(&self) -> &str {
        self.experiment.as_ref().map_or("", |(e, _)| e.as_str())
    }
    pub(crate) fn finish_reason(&self) -> &str {
        self.finish_reason.map_or("", FinishReason::as_str)
    }
    pub(crate) fn input_tokens(&self) -> u64 {
        self.input_tokens
    }
    pub(crate) fn method(&self) -> &str {
        self.method.as_str()
    }
    pub(crate) fn model(&self) -> &str {
        self.model.as_ref().map_or("", LabelValue::as_str)
    }
    pub(crate) fn outcome(&self) -> &str {
        self.outcome.as_str()
    }
    pub(crate) fn output_tokens(&self) -> u64 {
        self.output_tokens
    }
    pub(crate) fn response_model(&self) -> &str {
        self.response_model.as_ref().map_or("", LabelValue::as_str)
    }
    pub(crate) fn route(&self) -> &str {
        self.route.as_str()
    }
    /// The route as the label it was recorded as, to count who holds it.
    #[cfg(test)]
    pub(crate) fn route_label(&self) -> &LabelValue {
        &self.route
    }
    /// The trace and span ids, when the line is the request span's.
    pub(crate) fn ids(&self) -> Option<(TraceId, SpanId)> {
        self.ids
    }
    /// The request span's id, displayed as lowercase hex (as an event field: formatted only by a visitor).
    pub(crate) fn span_id(&self) -> Option<SpanId> {
        self.ids.map(|(_, span)| span)
    }
    pub(crate) fn status(&self) -> &str {
        match (self.grpc_code, &self.status) {
            (Some(code), _) => code.as_str(),
            (None, Some(status)) => status.as_str(),
            (None, None) => "",
        }
    }
    pub(crate) fn trace_id(&self) -> Option<TraceId> {
        self.ids.map(|(trace, _)| trace)
    }
    /// NaN without a first token: JSON writers print null.
    pub(crate) fn ttft_ms(&self) -> f64 {
        self.ttft_us().map_or(f64::NAN, ms)
    }
    pub(crate) fn ttft_us(&self) -> Option<u64> {
        self.ttft_us
    }
    pub(crate) fn variant(&self) -> &str {
        self.experiment.as_ref().map_or("", |(_, v)| v.as_str())
    }
    /// The level the line is logged at.
    pub(crate) fn level(&self) -> Level {
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

/// Where telemetry's subscriber takes a request's summary line straight from the observer, as its values, when its
/// JSON writer is the line's only reader: no OTLP log records, a log filter that does not look at spans, and the
/// OpenTelemetry layer, which keeps summary lines out of spans. The line is then never a `tracing` event: building
/// and dispatching one, to be recognised by the writer and turned back into these values, cost more than the rest
/// of the line on the request's thread. The bytes written are the same.
#[derive(Clone)]
pub(crate) struct DirectSummaries {
    /// Whether a line at ERROR, WARN or INFO passes the log filter.
    passes: [bool; 3],
    write: Arc<dyn Fn(SummaryValues) + Send + Sync>,
}

impl DirectSummaries {
    /// `passes(level)`: whether the log filter lets inferwatch's lines at `level` through.
    pub(crate) fn new(passes: impl Fn(Level) -> bool, write: impl Fn(SummaryValues) + Send + Sync + 'static) -> Self {
        Self {
            passes: [passes(Level::ERROR), passes(Level::WARN), passes(Level::INFO)],
            write: Arc::new(write),
        }
    }

    fn passes(&self, level: Level) -> bool {
        match level {
            Level::ERROR => self.passes[0],
            Level::WARN => self.passes[1],
            _ => self.passes[2],
        }
    }
}

impl fmt::Debug for DirectSummaries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSummaries")
            .field("passes", &self.passes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
thread_local! {
    /// Summary lines handed over directly on this thread, for tests to tell the two ways apart.
    pub(crate) static DIRECT_LINES: Cell<usize> = const { Cell::new(0) };
}

/// The summary line's message.
pub(crate) const SUMMARY_MESSAGE: &str = "request finished";

/// Logs the summary line, with the request span's ids when it has valid ones: then no writer has to look them up.
pub(super) fn log(s: &RequestSummary<'_>, ids: Option<(TraceId, SpanId)>) {
    log_values(|| SummaryValues::new(s, ids));
}

/// Whether a line with `ids` may go to [`DirectSummaries`]: one without ids is written by the layer that looks them
/// up, and one logged while a layer writes another goes the way the outer one went.
pub(super) fn may_go_direct(ids: Option<(TraceId, SpanId)>) -> bool {
    ids.is_some() && DEPTH.get() == 0
}

/// Hands the line to `direct`, if its level passes.
pub(super) fn log_direct(direct: &DirectSummaries, s: &RequestSummary<'_>, ids: Option<(TraceId, SpanId)>) {
    if direct.passes(level_of(s.outcome)) {
        (direct.write)(SummaryValues::new(s, ids));
        #[cfg(test)]
        DIRECT_LINES.set(DIRECT_LINES.get() + 1);
    }
}

fn log_values(values: impl FnOnce() -> SummaryValues) {
    let depth = DEPTH.get();
    let _depth = Nested::enter(depth);
    if depth > 0 || !RENDERER.load(Ordering::Relaxed) {
        return emit(&values());
    }
    // Built where they stay while the line is written, rather than built and then moved there.
    let unplaced = PENDING.with(|pending| match pending.try_borrow_mut() {
        Ok(mut pending) => {
            *pending = Some(values());
            None
        }
        Err(_) => Some(values),
    });
    match unplaced {
        Some(values) => emit(&values()),
        None => PENDING
            .with_borrow(|values| values.as_ref().map(emit))
            .unwrap_or_default(),
    }
}

/// One more summary line in progress on this thread; restores the depth, and clears the pending values of the
/// outermost line, even if a layer panics.
struct Nested(u32);

impl Nested {
    fn enter(depth: u32) -> Self {
        DEPTH.set(depth + 1);
        Self(depth)
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        DEPTH.set(self.0);
        if self.0 == 0 {
            PENDING.with(|pending| {
                if let Ok(mut pending) = pending.try_borrow_mut() {
                    *pending = None;
                }
            });
        }
    }
}

fn emit(v: &SummaryValues) {
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

/// One line per feedback received: what was rated and how, never the user's comment.
pub(super) fn log_feedback(f: &FeedbackEvent<'_>) {
    tracing::info!(
        target: LOG_TARGET,
        age_s = f.age.map_or(f64::NAN, |a| a.as_secs_f64()),
        experiment = f.experiment.map_or("", |(e, _)| e.as_str()),
        model = f.model.as_str(),
        rating = f.rating.as_str(),
        repeated = f.repeated,
        unattributed = f.unattributed.map_or("", |u| u.as_str()),
        variant = f.experiment.map_or("", |(_, v)| v.as_str()),
        message = "feedback received",
    );
}

// What the writer's tests need to log one line both ways: through the renderer and field by field.

/// Values with every kind of field set (`ids`: with span ids; `grpc`: a gRPC failure, no first token).
#[cfg(test)]
pub(crate) fn test_values(route: &str, model: &str, ids: bool, grpc: bool) -> SummaryValues {
    let label = |value: &str| LabelValue::new(0, value);
    SummaryValues {
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

/// Logs the line as the observer does (rendered by a writer that can).
#[cfg(test)]
pub(crate) fn log_rendered(values: SummaryValues) {
    log_values(|| values);
}

/// Logs the line as an event whose fields are visited one by one.
#[cfg(test)]
pub(crate) fn log_visited(values: &SummaryValues) {
    emit(values);
}
