//! The per-request handle through which a handler tells the layer what the request was about.

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::classify::Protocol;
use crate::label_sets::LabelSets;
use crate::labels::{BoundedLabels, LabelValue};
use crate::observer::RequestInfo;
use crate::stage::Stage;

/// Well-known `gen_ai.operation.name` values (OpenTelemetry GenAI conventions).
pub mod operation {
    /// Chat completion.
    pub const CHAT: &str = "chat";
    /// Text completion.
    pub const TEXT_COMPLETION: &str = "text_completion";
    /// Embeddings.
    pub const EMBEDDINGS: &str = "embeddings";
    /// Multimodal content generation.
    pub const GENERATE_CONTENT: &str = "generate_content";
    /// Every well-known value; always admitted as labels.
    pub const WELL_KNOWN: &[&str] = &[CHAT, TEXT_COMPLETION, EMBEDDINGS, GENERATE_CONTENT];
}

/// Why generation stopped (`gen_ai.response.finish_reasons`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// A natural stop or a stop sequence.
    Stop,
    /// The token limit was reached.
    Length,
    /// Content was filtered.
    ContentFilter,
    /// The model called tools.
    ToolCalls,
    /// Generation failed.
    Error,
    /// Anything else.
    Other,
}

impl FinishReason {
    /// Parses the OpenAI / OpenTelemetry spelling; unknown text is [`FinishReason::Other`].
    pub fn parse(reason: &str) -> Self {
        match reason {
            "stop" | "end_turn" | "stop_sequence" => FinishReason::Stop,
            "length" | "max_tokens" => FinishReason::Length,
            "content_filter" => FinishReason::ContentFilter,
            "tool_calls" | "tool_use" | "function_call" => FinishReason::ToolCalls,
            "error" => FinishReason::Error,
            _ => FinishReason::Other,
        }
    }

    /// The value as written in spans and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::Error => "error",
            FinishReason::Other => crate::contract::OTHER,
        }
    }
}

/// Token counts a non-streaming handler may put into the response extensions instead of using the handle.
///
/// A count left at zero on the [`RequestHandle`] is taken from here.
///
/// ```
/// use inferwatch::TokenUsage;
/// let mut response = http::Response::new(());
/// response.extensions_mut().insert(TokenUsage { input_tokens: 12, output_tokens: 40 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Billable input (prompt) tokens.
    pub input_tokens: u64,
    /// Billable output (completion) tokens.
    pub output_tokens: u64,
}

/// What the handler reported, read once when the request finishes.
#[derive(Clone, Debug, Default)]
pub struct Reported<'a> {
    /// The bounded model label, if the handler named a model.
    pub model: Option<&'a LabelValue>,
    /// The bounded operation label, if the handler named one.
    pub operation: Option<&'a LabelValue>,
    /// The finish reason, if set.
    pub finish_reason: Option<FinishReason>,
    /// When the handler marked the first token.
    pub first_token: Option<Instant>,
    /// Whether the handler declared the response streamed.
    pub stream: Option<bool>,
    /// Tokens reported through the handle.
    pub usage: TokenUsage,
}

const UNSET: u32 = u32::MAX;
const FINISH_REASONS: [FinishReason; 6] = [
    FinishReason::Stop,
    FinishReason::Length,
    FinishReason::ContentFilter,
    FinishReason::ToolCalls,
    FinishReason::Error,
    FinishReason::Other,
];

/// Plain atomics, no lock: handlers call these on every token, and the layer reads them once at the end.
struct HandleState {
    info: RequestInfo,
    labels: Arc<LabelSets>,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    /// Label ids, `UNSET` until named.
    model: AtomicU32,
    operation: AtomicU32,
    /// Nanoseconds from the start, plus one; 0 until marked.
    first_token: AtomicU64,
    /// Index into `FINISH_REASONS`, plus one; 0 until set.
    finish_reason: AtomicU8,
    /// 0 undeclared, 1 not streamed, 2 streamed.
    stream: AtomicU8,
    /// The request span, from the tracing observer until the request finishes.
    #[cfg(feature = "tracing")]
    span: std::sync::Mutex<Option<tracing::Span>>,
}

/// The per-request handle: the layer puts one into each request's extensions.
///
/// Handlers reach it as an axum extractor, from `http::Request::extensions()`, or from a `tonic::Request` (see
/// [`InferenceRequestExt`](crate::InferenceRequestExt) with the `tonic` feature). It is cheap to clone and can be
/// moved into the task that streams the response. Every method is safe to call any number of times from any thread.
///
/// ```
/// use inferwatch::{FinishReason, RequestHandle};
/// let handle = RequestHandle::detached();
/// handle.set_model("llama-3-8b");
/// handle.set_operation(inferwatch::operation::CHAT);
/// handle.add_input_tokens(12);
/// handle.mark_first_token();
/// handle.add_output_tokens(1);
/// handle.set_finish_reason(FinishReason::Stop);
/// assert_eq!(handle.output_tokens(), 1);
/// ```
#[derive(Clone)]
pub struct RequestHandle {
    state: Arc<HandleState>,
}

impl fmt::Debug for RequestHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHandle")
            .field("input_tokens", &self.input_tokens())
            .field("output_tokens", &self.output_tokens())
            .finish_non_exhaustive()
    }
}

impl RequestHandle {
    pub(crate) fn new(labels: Arc<LabelSets>, info: RequestInfo) -> Self {
        let state = HandleState {
            info,
            labels,
            input_tokens: AtomicU64::new(0),
            output_tokens: AtomicU64::new(0),
            model: AtomicU32::new(UNSET),
            operation: AtomicU32::new(UNSET),
            first_token: AtomicU64::new(0),
            finish_reason: AtomicU8::new(0),
            stream: AtomicU8::new(0),
            #[cfg(feature = "tracing")]
            span: std::sync::Mutex::new(None),
        };
        Self { state: Arc::new(state) }
    }

    /// A handle attached to no layer: what the axum extractor gives when the layer is missing. Calls on it are
    /// accepted and recorded nowhere.
    pub fn detached() -> Self {
        static LABELS: OnceLock<Arc<LabelSets>> = OnceLock::new();
        let labels = LABELS.get_or_init(|| Arc::new(LabelSets::default())).clone();
        let info = RequestInfo {
            method: http::Method::GET,
            protocol: Protocol::Http,
            route: labels.routes.other(),
            start: Instant::now(),
        };
        Self::new(labels, info)
    }

    /// What the layer knew when the request arrived.
    pub fn info(&self) -> &RequestInfo {
        &self.state.info
    }

    /// Fills token counts still at zero (from a [`TokenUsage`] response extension).
    pub(crate) fn fill_usage(&self, usage: TokenUsage) {
        let fill = |counter: &AtomicU64, n: u64| {
            let _ = counter.compare_exchange(0, n, Ordering::Relaxed, Ordering::Relaxed);
        };
        fill(&self.state.input_tokens, usage.input_tokens);
        fill(&self.state.output_tokens, usage.output_tokens);
    }

    /// Names the model (`gen_ai.request.model`). Names beyond the layer's cap or allow-list, empty names, names
    /// with control characters and names over 128 bytes become `_OTHER`.
    pub fn set_model(&self, model: &str) {
        let id = self.state.labels.models.get_ref(model).id();
        self.state.model.store(id, Ordering::Relaxed);
    }

    /// Like [`set_model`](Self::set_model) for raw bytes (a header, gRPC metadata); invalid UTF-8 is `_OTHER`.
    pub fn set_model_bytes(&self, model: &[u8]) {
        let id = self.state.labels.models.get_bytes(model).id();
        self.state.model.store(id, Ordering::Relaxed);
    }

    /// Names the operation (`gen_ai.operation.name`); see [`operation`](crate::operation) for well-known values.
    pub fn set_operation(&self, operation: &str) {
        let id = self.state.labels.operations.get_ref(operation).id();
        self.state.operation.store(id, Ordering::Relaxed);
    }

    /// Adds billable input tokens.
    pub fn add_input_tokens(&self, n: u64) {
        self.state.input_tokens.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds billable output tokens; call it as tokens are produced while streaming.
    pub fn add_output_tokens(&self, n: u64) {
        self.state.output_tokens.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks the first output token now. The first mark wins; without one, the first body frame of a streamed
    /// response counts.
    pub fn mark_first_token(&self) {
        if self.state.first_token.load(Ordering::Relaxed) != 0 {
            return;
        }
        let since_start = self.state.info.start.elapsed().as_nanos();
        let mark = u64::try_from(since_start).unwrap_or(u64::MAX - 1) + 1;
        let _ = self
            .state
            .first_token
            .compare_exchange(0, mark, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Sets why generation stopped.
    pub fn set_finish_reason(&self, reason: FinishReason) {
        let index = FINISH_REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(FINISH_REASONS.len() - 1);
        self.state.finish_reason.store(index as u8 + 1, Ordering::Relaxed);
    }

    /// Declares whether the response is streamed. Without it, a response whose body has more than one data
    /// frame counts as streamed; time to first token from body frames is only measured for streamed responses.
    pub fn set_stream(&self, stream: bool) {
        self.state.stream.store(if stream { 2 } else { 1 }, Ordering::Relaxed);
    }

    /// Input tokens reported so far.
    pub fn input_tokens(&self) -> u64 {
        self.state.input_tokens.load(Ordering::Relaxed)
    }

    /// Output tokens reported so far.
    pub fn output_tokens(&self) -> u64 {
        self.state.output_tokens.load(Ordering::Relaxed)
    }

    /// Starts a stage of this request (`tokenize`, `generate`, `decode`, or a name of the application's): a child
    /// span of the request span and an `inferwatch_stage_duration_seconds` observation when it ends.
    pub fn stage(&self, name: &str) -> Stage {
        Stage::start(self, name)
    }

    pub(crate) fn stage_label(&self, name: &str) -> LabelValue {
        self.state.labels.stages.get(name)
    }

    pub(crate) fn record_stage(&self, stage: &LabelValue, seconds: f64) {
        if let Some(sink) = &self.state.labels.stage_sink {
            let model = label(self.state.model.load(Ordering::Relaxed), &self.state.labels.models);
            sink.record(stage, model, seconds);
        }
    }

    /// Reports the prompt text. It goes onto the request span (`gen_ai.input.messages`), cut to the configured
    /// length, only when the layer was built with
    /// [`capture_content`](crate::InferenceLayerBuilder::capture_content); otherwise it is dropped here. Never
    /// logged.
    pub fn record_prompt(&self, text: &str) {
        self.capture("gen_ai.input.messages", text);
    }

    /// Reports the completion text; see [`record_prompt`](Self::record_prompt).
    pub fn record_completion(&self, text: &str) {
        self.capture("gen_ai.output.messages", text);
    }

    fn capture(&self, key: &'static str, text: &str) {
        #[cfg(feature = "tracing")]
        if let Some(max) = self.state.labels.capture_content {
            crate::trace::capture(self, key, text, max);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (key, text);
    }

    /// Everything reported so far.
    pub fn reported(&self) -> Reported<'_> {
        let state = &*self.state;
        let model = label(state.model.load(Ordering::Relaxed), &state.labels.models);
        let operation = label(state.operation.load(Ordering::Relaxed), &state.labels.operations);
        // The layer's default applies where the handler named no operation.
        let operation = operation.or(state.labels.default_operation.as_ref());
        let first_token = match state.first_token.load(Ordering::Relaxed) {
            0 => None,
            mark => state.info.start.checked_add(std::time::Duration::from_nanos(mark - 1)),
        };
        let finish = state.finish_reason.load(Ordering::Relaxed);
        Reported {
            model,
            operation,
            finish_reason: usize::from(finish)
                .checked_sub(1)
                .and_then(|i| FINISH_REASONS.get(i))
                .copied(),
            first_token,
            stream: match state.stream.load(Ordering::Relaxed) {
                0 => None,
                s => Some(s == 2),
            },
            usage: TokenUsage {
                input_tokens: self.input_tokens(),
                output_tokens: self.output_tokens(),
            },
        }
    }
}

#[cfg(feature = "tracing")]
impl RequestHandle {
    pub(crate) fn attach_span(&self, span: tracing::Span) {
        *self
            .state
            .span
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(span);
    }

    /// The request span (`Span::none()` when no tracing observer runs, or once the request has finished).
    pub fn span(&self) -> tracing::Span {
        // No span can have been attached before any subscriber exists.
        if !tracing::dispatcher::has_been_set() {
            return tracing::Span::none();
        }
        let span = self
            .state
            .span
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        span.clone().unwrap_or_else(tracing::Span::none)
    }

    pub(crate) fn detach_span(&self) {
        self.state
            .span
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

fn label(id: u32, set: &BoundedLabels) -> Option<&LabelValue> {
    (id != UNSET).then(|| set.by_id(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_mark_wins_and_tokens_accumulate() {
        let h = RequestHandle::detached();
        h.mark_first_token();
        let first = h.reported().first_token;
        std::thread::sleep(std::time::Duration::from_millis(2));
        h.mark_first_token();
        assert_eq!(h.reported().first_token, first);
        h.add_output_tokens(2);
        h.clone().add_output_tokens(3);
        assert_eq!(
            h.reported().usage,
            TokenUsage {
                input_tokens: 0,
                output_tokens: 5
            }
        );
    }

    #[test]
    fn finish_reasons_parse() {
        assert_eq!(FinishReason::parse("length"), FinishReason::Length);
        assert_eq!(FinishReason::parse("whatever").as_str(), "_OTHER");
    }
}
