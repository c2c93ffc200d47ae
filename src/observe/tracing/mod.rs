//! [`TracingObserver`]: the request span, its stage spans, trace context in and out, and the summary log line
//! (feature `tracing`). The request span lives in one place: this observer's per-request data.
//!
//! Spans are `tracing` spans; with `tracing-opentelemetry` in the subscriber (as
//! [`telemetry::init`](crate::telemetry) sets up) they become OpenTelemetry spans and carry trace ids.

mod propagation;
mod span;
mod summary;

use http::HeaderMap;
use opentelemetry::trace::TraceContextExt as _;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{
    ContentKind, FeedbackEvent, LabelValue, Observer, RequestInfo, RequestSummary, Score, StageSummary, TraceIds,
};

/// Creates a server span per request and a child span per stage, ends the request span at the end of the
/// response body, and logs one summary line per request.
///
/// Incoming trace context is read through OpenTelemetry's global propagator (W3C trace context and baggage
/// unless [`telemetry::init`](crate::telemetry) or the application installed another); a malformed `traceparent`
/// starts a new trace.
///
/// ```
/// use inferwatch::InferenceLayer;
/// use inferwatch::observe::TracingObserver;
///
/// // Spans and log lines only, no metrics; caller trace ids ignored (a public endpoint).
/// let layer = InferenceLayer::builder().build_observer(TracingObserver::new().accept_trace_context(false));
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct TracingObserver {
    accept_trace_context: bool,
    trace_context_in_response: bool,
    capture_content: Option<usize>,
}

impl Default for TracingObserver {
    fn default() -> Self {
        Self {
            accept_trace_context: true,
            trace_context_in_response: false,
            capture_content: None,
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
}

fn enter(span: &Span) {
    span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
}

fn exit(span: &Span) {
    span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
}

impl Observer for TracingObserver {
    /// The request span (`Span::none()` when no subscriber wants it).
    type RequestData = Span;
    /// The stage span.
    type StageData = Span;

    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Span {
        let span = span::request_span(info);
        if self.accept_trace_context
            && !span.is_disabled()
            && let Some(parent) = propagation::extract(headers)
        {
            let _ = span.set_parent(parent);
        }
        span
    }

    fn enter(&self, span: &Span) {
        enter(span);
    }

    fn exit(&self, span: &Span) {
        exit(span);
    }

    fn on_response_headers(&self, span: &Span, headers: &mut HeaderMap) {
        if self.trace_context_in_response && !span.is_disabled() {
            let cx = span.context();
            if cx.span().span_context().is_valid() {
                propagation::inject(&cx, headers);
            }
        }
    }

    fn on_stage_start(&self, request: &Span, name: &LabelValue) -> Span {
        span::stage_span(request, name.as_str())
    }

    fn enter_stage(&self, stage: &Span) {
        enter(stage);
    }

    fn exit_stage(&self, stage: &Span) {
        exit(stage);
    }

    fn on_stage_end(&self, _stage: Span, _summary: &StageSummary<'_>) {
        // Dropping the span closes it; its end time is its last exit.
    }

    fn on_content(&self, span: &Span, kind: ContentKind, text: &str) {
        let Some(max_chars) = self.capture_content else { return };
        if span.is_disabled() {
            return;
        }
        let key = match kind {
            ContentKind::Prompt => "gen_ai.input.messages",
            ContentKind::Completion => "gen_ai.output.messages",
        };
        let cut: String = text.chars().take(max_chars).collect();
        span.set_attribute(key, cut);
    }

    fn on_score(&self, span: &Span, score: &Score<'_>) {
        if !score.accepted || span.is_disabled() {
            return;
        }
        let cx = span.context();
        let otel = cx.span();
        if otel.is_recording() {
            span::record_score(&otel, score);
        }
    }

    fn trace_ids(&self, span: &Span) -> Option<TraceIds> {
        if span.is_disabled() {
            return None;
        }
        let cx = span.context();
        let ids = cx.span().span_context().clone();
        ids.is_valid().then(|| TraceIds {
            trace_id: ids.trace_id().to_bytes(),
            span_id: ids.span_id().to_bytes(),
        })
    }

    fn on_feedback(&self, feedback: &FeedbackEvent<'_>) {
        span::feedback_span(feedback);
        summary::log_feedback(feedback);
    }

    fn on_finish(&self, span: &Span, summary: &RequestSummary<'_>) {
        // The lifecycle finishes a request inside its scope: the line is the span's, and the span's end time, its
        // last exit, comes right after it.
        if span.is_disabled() {
            summary::log(summary, None);
            return;
        }
        let cx = span.context();
        let otel = cx.span();
        // An unsampled span is never exported: what it ended with would be built only to be dropped.
        if otel.is_recording() {
            span::record_finish(&otel, summary);
        }
        let ids = otel.span_context();
        summary::log(summary, ids.is_valid().then_some(ids));
    }
}
