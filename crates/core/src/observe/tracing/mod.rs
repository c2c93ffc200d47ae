//! [`TracingObserver`]: the request span, its stage spans, trace context in and out, and the summary log line.
//! The request span lives in one place: this observer's per-request data.
//!
//! Spans are `tracing` spans; with `tracing-opentelemetry` in the subscriber (as
//! `telemetry::init` sets up) they become OpenTelemetry spans and carry trace ids.

#[cfg(feature = "feedback")]
mod feedback;
mod propagation;
mod sampling;
mod span;
mod summary;

pub use sampling::HeadSampler;
pub use span::REQUEST_SPAN_NAME;
pub use summary::{SUMMARY_MESSAGE, SummaryLine, SummaryWriter};
#[cfg(feature = "test-util")]
pub use summary::{emit as log_visited, route_shared, test_values};

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, SpanRef, TraceContextExt as _, TraceId};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use sampling::Decision;

#[cfg(feature = "feedback")]
use super::LayerEvent;
use super::{Event, Observer, RequestInfo, RequestSummary, StageId};
use crate::labels::LabelValue;

/// Creates a server span per request and a child span per stage, ends the request span at the end of the
/// response body, and logs one summary line per request.
///
/// Given a [`HeadSampler`] the tracer's sampler is asked first, and a request it does not sample gets no span, only
/// its ids (see [`RequestSpan`]); otherwise every request gets its span and the sampler decides when the span is
/// built. Telemetry's `TelemetryGuard::tracing_observer` gives one configured for the subscriber it installed
/// (head sampler, and its log queue as the [`SummaryWriter`]).
///
/// Incoming trace context is read through OpenTelemetry's global propagator (W3C trace context and baggage
/// unless `telemetry::init` or the application installed another); a malformed `traceparent`
/// starts a new trace.
///
/// ```
/// use inferwatch_core::InferenceLayer;
/// use inferwatch_core::observe::TracingObserver;
///
/// // Spans and log lines only, no metrics; caller trace ids ignored (a public endpoint).
/// let layer = InferenceLayer::builder().observer(TracingObserver::new().accept_trace_context(false)).build();
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct TracingObserver {
    accept_trace_context: bool,
    trace_context_in_response: bool,
    capture_content: Option<usize>,
    head: Option<HeadSampler>,
    summaries: Option<Arc<dyn SummaryWriter>>,
}

impl fmt::Debug for TracingObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingObserver")
            .field("accept_trace_context", &self.accept_trace_context)
            .field("trace_context_in_response", &self.trace_context_in_response)
            .field("capture_content", &self.capture_content)
            .field("head", &self.head)
            .field("summary_writer", &self.summaries.is_some())
            .finish()
    }
}

impl Default for TracingObserver {
    fn default() -> Self {
        Self {
            accept_trace_context: true,
            trace_context_in_response: false,
            capture_content: None,
            head: None,
            summaries: None,
        }
    }
}

impl TracingObserver {
    /// Spans that continue incoming traces, nothing added to responses, no content captured.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the request span continues a trace from incoming headers (the default), or always starts a new one
    /// (for public endpoints whose callers' trace ids should not be trusted).
    pub fn accept_trace_context(mut self, accept: bool) -> Self {
        self.accept_trace_context = accept;
        self
    }

    /// Writes the request's trace context (`traceparent`, with the default propagator) into response headers so
    /// that a client can find its trace. Off by default: it is the one change the layer can make to a response,
    /// and only when asked.
    pub fn trace_context_in_response(mut self, enabled: bool) -> Self {
        self.trace_context_in_response = enabled;
        self
    }

    /// Lets the request span carry prompt and completion text (`gen_ai.input.messages`,
    /// `gen_ai.output.messages`), each cut to `max_chars` characters, when handlers report it with
    /// [`RequestHandle::record_prompt`](crate::RequestHandle::record_prompt) /
    /// [`record_completion`](crate::RequestHandle::record_completion). Off by default; never in logs.
    pub fn capture_content(mut self, max_chars: usize) -> Self {
        self.capture_content = Some(max_chars);
        self
    }

    /// Asks `head` whether a request is sampled before building its span (a request it drops gets none). Use it
    /// under a subscriber whose OpenTelemetry layer makes an entered span's context the current one, with a tracer
    /// provider that has `head`'s sampler and generates ids with [`HeadSampler::id_generator`], as telemetry's does.
    pub fn head_sampler(mut self, head: HeadSampler) -> Self {
        self.head = Some(head);
        self
    }

    /// Hands each summary line that has its span's ids to `writer` instead of logging it as a `tracing` event
    /// (lines without ids, from requests with no span, are still events).
    pub fn summary_writer(mut self, writer: impl SummaryWriter) -> Self {
        self.summaries = Some(Arc::new(writer));
        self
    }

    /// `key`: `gen_ai.input.messages` or `gen_ai.output.messages`.
    fn record_content(&self, request: &RequestSpan, key: &'static str, text: &str) {
        let Some(max_chars) = self.capture_content else { return };
        let Some(span) = request.span().filter(|s| !s.is_disabled()) else {
            return;
        };
        let cut: String = text.chars().take(max_chars).collect();
        span.set_attribute(key, cut);
    }
}

/// A request as [`TracingObserver`] follows it: its `tracing` span, or, when the tracer's sampler dropped the request
/// before a span was built (see `telemetry`), only its trace context, which is the current
/// OpenTelemetry context while the request is polled.
#[derive(Debug)]
pub struct RequestSpan {
    tracked: Tracked,
    /// The spans of the stages started and not yet ended.
    stages: Mutex<Vec<(StageId, Span)>>,
}

#[derive(Debug)]
enum Tracked {
    /// `activated`: the subscriber is telemetry's, whose OpenTelemetry layer makes an entered span's context the
    /// current one, so that code running inside the request finds the span there without looking it up.
    Span {
        span: Span,
        activated: bool,
    },
    Unsampled(Context),
}

impl RequestSpan {
    /// The request's `tracing` span; `None` for a request not sampled (its log lines still carry its trace id).
    pub fn span(&self) -> Option<&Span> {
        match &self.tracked {
            Tracked::Span { span, .. } => Some(span),
            Tracked::Unsampled(_) => None,
        }
    }

    fn new(tracked: Tracked) -> Self {
        Self {
            tracked,
            stages: Mutex::new(Vec::new()),
        }
    }

    /// The stage spans; a panic while they were held leaves them usable (they are only spans).
    fn stages(&self) -> MutexGuard<'_, Vec<(StageId, Span)>> {
        self.stages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with_stage(&self, id: StageId, f: impl FnOnce(&Span)) {
        if let Some((_, span)) = self.stages().iter().find(|(i, _)| *i == id) {
            f(span);
        }
    }

    fn start_stage(&self, id: StageId, name: &str) {
        // Nothing of an unsampled request is exported; its stages' lines carry the request's ids.
        let Tracked::Span { span, .. } = &self.tracked else {
            return;
        };
        let stage = span::stage_span(span, name);
        if !stage.is_disabled() {
            self.stages().push((id, stage));
        }
    }

    fn end_stage(&self, id: StageId) {
        let mut stages = self.stages();
        let Some(i) = stages.iter().position(|(i, _)| *i == id) else {
            return;
        };
        let (_, span) = stages.swap_remove(i);
        drop(stages);
        // Dropping the span closes it; its end time is its last exit.
        drop(span);
    }
}

fn enter(span: &Span) {
    span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
}

fn exit(span: &Span) {
    span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
}

impl Observer for TracingObserver {
    /// The request span, or the context of a request not sampled.
    type RequestData = RequestSpan;

    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> RequestSpan {
        if !tracing::dispatcher::has_been_set() {
            return RequestSpan::new(Tracked::Span {
                span: Span::none(),
                activated: false,
            });
        }
        let extract = || {
            self.accept_trace_context
                .then(|| propagation::extract(headers))
                .flatten()
        };
        let mut parent = None;
        let decision = self.head.as_ref().map(|head| {
            parent = extract();
            head.decide(parent.as_ref(), info.route.as_str())
        });
        let preset = match decision {
            Some(Decision::Drop(cx)) => return RequestSpan::new(Tracked::Unsampled(cx)),
            Some(Decision::Sample { preset }) => preset,
            None => None,
        };
        let span = span::request_span(info);
        if !span.is_disabled() {
            // Without a head sampler the headers are read only now, for a span that exists.
            let parent = if decision.is_some() { parent } else { extract() };
            if let Some(parent) = parent {
                let _ = span.set_parent(parent);
            }
            if let Some(trace_id) = preset {
                // Starting the OpenTelemetry span now, on this thread, hands it the id the sampler judged.
                sampling::with_trace_id(trace_id, || drop(span.context()));
            }
        }
        RequestSpan::new(Tracked::Span {
            span,
            activated: decision.is_some(),
        })
    }

    fn enter(&self, request: &RequestSpan) {
        match &request.tracked {
            Tracked::Span { span, .. } => enter(span),
            Tracked::Unsampled(cx) => sampling::attach(cx),
        }
    }

    fn exit(&self, request: &RequestSpan) {
        match &request.tracked {
            Tracked::Span { span, .. } => exit(span),
            Tracked::Unsampled(_) => sampling::detach(),
        }
    }

    fn on_response_headers(&self, request: &RequestSpan, headers: &mut HeaderMap) {
        if !self.trace_context_in_response {
            return;
        }
        let cx = match &request.tracked {
            Tracked::Span { span, .. } if span.is_disabled() => return,
            Tracked::Span { span, .. } => span.context(),
            Tracked::Unsampled(cx) => cx.clone(),
        };
        if cx.span().span_context().is_valid() {
            propagation::inject(&cx, headers);
        }
    }

    fn on_event(&self, request: &RequestSpan, event: &Event<'_>) {
        match *event {
            Event::StageStart { id, name } => request.start_stage(id, name.as_str()),
            Event::StageEnter(id) => request.with_stage(id, enter),
            Event::StageExit(id) => request.with_stage(id, exit),
            Event::StageEnd { id, .. } => request.end_stage(id),
            Event::Prompt(text) => self.record_content(request, "gen_ai.input.messages", text),
            Event::Completion(text) => self.record_content(request, "gen_ai.output.messages", text),
            Event::Score {
                evaluator,
                value,
                label,
                accepted: true,
                ..
            } => record_score(request, evaluator, value, label),
            _ => {}
        }
    }

    fn span_context(&self, request: &RequestSpan) -> Option<SpanContext> {
        let ids = match &request.tracked {
            Tracked::Span { span, .. } if span.is_disabled() => return None,
            Tracked::Span { span, .. } => span.context().span().span_context().clone(),
            Tracked::Unsampled(cx) => cx.span().span_context().clone(),
        };
        ids.is_valid().then_some(ids)
    }

    #[cfg(feature = "feedback")]
    fn on_layer_event(&self, event: &LayerEvent<'_>) {
        // Each ignores the other layer events.
        feedback::span(event);
        feedback::log(event);
    }

    fn on_finish(&self, request: &RequestSpan, summary: &RequestSummary<'_>) {
        // The lifecycle finishes a request inside its scope: the line is the span's, and the span's end time, its
        // last exit, comes right after it.
        let (span, activated) = match &request.tracked {
            Tracked::Span { span, .. } if span.is_disabled() => return self.log_summary(summary, None),
            Tracked::Span { span, activated } => (span, *activated),
            Tracked::Unsampled(cx) => return self.log_summary(summary, valid_ids(&cx.span())),
        };
        // Entered, the span's context is the current one: read in place, rather than looked up and cloned. Nothing
        // in `finish` calls back into code that could attach a context while the current one is borrowed.
        let current = activated
            .then(|| Context::map_current(|cx| cx.has_active_span().then(|| finish(&cx.span(), summary))))
            .flatten();
        let ids = current.unwrap_or_else(|| finish(&span.context().span(), summary));
        self.log_summary(summary, ids);
    }
}

/// An accepted score, on the request span.
fn record_score(request: &RequestSpan, evaluator: &LabelValue, value: f64, label: Option<&str>) {
    let Some(span) = request.span().filter(|s| !s.is_disabled()) else {
        return;
    };
    let cx = span.context();
    let otel = cx.span();
    if otel.is_recording() {
        span::record_score(&otel, evaluator, value, label);
    }
}

impl TracingObserver {
    /// Logs the summary line: to the summary writer if there is one and the line has ids, else as an event.
    fn log_summary(&self, summary: &RequestSummary<'_>, ids: Option<(TraceId, SpanId)>) {
        match (&self.summaries, ids) {
            (Some(writer), Some(_)) => summary::write(&**writer, summary, ids),
            _ => summary::log(summary, ids),
        }
    }
}

/// Sets what the request ended with on its OpenTelemetry span (only if recording: an unsampled span is never
/// exported), and returns the span's ids for the summary line.
fn finish(otel: &SpanRef<'_>, summary: &RequestSummary<'_>) -> Option<(TraceId, SpanId)> {
    if otel.is_recording() {
        span::record_finish(otel, summary);
    }
    valid_ids(otel)
}

fn valid_ids(otel: &SpanRef<'_>) -> Option<(TraceId, SpanId)> {
    let ids = otel.span_context();
    ids.is_valid().then(|| (ids.trace_id(), ids.span_id()))
}
