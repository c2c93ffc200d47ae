//! [`RequestHandle`]: how a handler tells the layer what the request was about.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::event::Event;
use super::hooks::NoHooks;
use super::report::RequestInfo;
use super::stage::Stage;
use super::state::{RequestLabels, RequestState};
use super::vocabulary::FinishReason;
use crate::classify::Protocol;

/// The per-request handle: the layer puts one into each request's extensions.
///
/// Handlers reach it as an axum extractor, from `http::Request::extensions()`, or from a `tonic::Request` (see
/// [`InferenceRequestExt`](crate::InferenceRequestExt)). It is cheap to clone and can be moved into the task that
/// streams the response. Every method is safe to call any number of times from any thread.
///
/// ```
/// use inferwatch_core::{FinishReason, RequestHandle};
/// let handle = RequestHandle::detached();
/// handle.set_model("llama-3-8b");
/// handle.set_operation(inferwatch_core::operation::CHAT);
/// handle.add_input_tokens(12);
/// handle.mark_first_token();
/// handle.add_output_tokens(1);
/// handle.set_finish_reason(FinishReason::Stop);
/// assert_eq!(handle.output_tokens(), 1);
/// ```
#[derive(Clone)]
pub struct RequestHandle {
    pub(super) state: Arc<RequestState>,
}

impl fmt::Debug for RequestHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHandle")
            .field("route", &self.state.info.route)
            .field("input_tokens", &self.input_tokens())
            .field("output_tokens", &self.output_tokens())
            .finish_non_exhaustive()
    }
}

impl RequestHandle {
    pub(crate) fn new(state: Arc<RequestState>) -> Self {
        Self { state }
    }

    /// A handle attached to no layer: what the axum extractor gives when the layer is missing. Calls on it are
    /// accepted and recorded nowhere.
    pub fn detached() -> Self {
        static LABELS: OnceLock<Arc<RequestLabels>> = OnceLock::new();
        let labels = LABELS.get_or_init(Default::default).clone();
        let route = labels.models.other();
        let info = RequestInfo::new(http::Method::GET, Protocol::Http, route, Instant::now());
        Self::new(Arc::new(RequestState::new(info, labels, NoHooks)))
    }

    /// What the layer knew when the request arrived.
    pub fn info(&self) -> &RequestInfo {
        &self.state.info
    }

    /// Names the model (`gen_ai.request.model`). Names beyond the layer's cap or allow-list, empty names, names
    /// with control characters and names over 128 bytes become `_OTHER`. Naming the model (or starting a stage)
    /// tells the observers the handler is serving the request, as opposed to still reading it.
    pub fn set_model(&self, model: &str) {
        self.state.set_model(self.state.labels().models.get_ref(model));
        self.state.serving();
    }

    /// Like [`set_model`](Self::set_model) for raw bytes (a header, gRPC metadata); invalid UTF-8 is `_OTHER`.
    pub fn set_model_bytes(&self, model: &[u8]) {
        self.state.set_model(self.state.labels().models.get_bytes(model));
        self.state.serving();
    }

    /// Names the operation (`gen_ai.operation.name`); see [`operation`](crate::operation) for well-known values.
    pub fn set_operation(&self, operation: &str) {
        self.state
            .set_operation(self.state.labels().operations.get_ref(operation));
    }

    /// Adds billable input tokens.
    pub fn add_input_tokens(&self, n: u64) {
        self.state.add_input_tokens(n);
    }

    /// Adds billable output tokens; call it as tokens are produced while streaming.
    pub fn add_output_tokens(&self, n: u64) {
        self.state.add_output_tokens(n);
    }

    /// Marks the first output token now. The first mark wins; without one, the first body frame of a streamed
    /// response counts.
    pub fn mark_first_token(&self) {
        self.state.mark_first_token();
    }

    /// Sets why generation stopped.
    pub fn set_finish_reason(&self, reason: FinishReason) {
        self.state.set_finish_reason(reason);
    }

    /// Declares whether the response is streamed. Without it, a response whose body has more than one data
    /// frame counts as streamed; time to first token from body frames is only measured for streamed responses.
    pub fn set_stream(&self, stream: bool) {
        self.state.set_stream(stream);
    }

    /// Input tokens reported so far.
    pub fn input_tokens(&self) -> u64 {
        self.state.input_tokens()
    }

    /// Output tokens reported so far.
    pub fn output_tokens(&self) -> u64 {
        self.state.output_tokens()
    }

    /// Starts a stage of this request (`tokenize`, `generate`, `decode`, or a name of the application's). The
    /// layer's observers see it start and end: with the defaults, a child span of the request span and an
    /// `inferwatch_stage_duration_seconds` observation.
    pub fn stage(&self, name: &str) -> Stage {
        self.state.serving();
        let name = self.state.labels().stages.get(name);
        Stage::start(self.state.clone(), name)
    }

    /// Reports the prompt text to the layer's observers. The default tracing observer puts it on the request span
    /// (`gen_ai.input.messages`), cut to the configured length, only when built with
    /// [`capture_content`](crate::observe::TracingObserver::capture_content); otherwise it goes nowhere. Never
    /// logged.
    pub fn record_prompt(&self, text: &str) {
        self.state.hooks.event(&Event::Prompt(text));
    }

    /// Reports the completion text; see [`record_prompt`](Self::record_prompt).
    pub fn record_completion(&self, text: &str) {
        self.state.hooks.event(&Event::Completion(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenUsage;

    #[test]
    fn first_mark_wins_and_tokens_accumulate() {
        let h = RequestHandle::detached();
        h.mark_first_token();
        let first = h.state.reported().first_token;
        std::thread::sleep(std::time::Duration::from_millis(2));
        h.mark_first_token();
        assert_eq!(h.state.reported().first_token, first);
        h.add_output_tokens(2);
        h.clone().add_output_tokens(3);
        assert_eq!(
            h.state.reported().usage,
            TokenUsage {
                input_tokens: 0,
                output_tokens: 5
            }
        );
    }

    #[test]
    fn detached_handles_accept_everything() {
        let h = RequestHandle::detached();
        h.set_model("m");
        h.set_finish_reason(FinishReason::Length);
        h.stage("tokenize").in_scope(|| ());
        h.record_prompt("text");
        assert_eq!(h.state.reported().model.map(|m| m.as_str()), Some("m"));
        assert_eq!(h.state.reported().finish_reason, Some(FinishReason::Length));
        assert!(h.info().route.is_other());
    }
}
