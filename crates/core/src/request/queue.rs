//! [`QueueWait`]: a request waiting in the engine's admission queue, measured from the handle.

use std::fmt;
use std::time::{Duration, Instant};

use super::event::Event;

use super::handle::RequestHandle;
use super::stage::Stage;
use super::vocabulary::stage_name;
use crate::labels::LabelValue;

/// A request waiting in the engine's admission queue: `inferwatch_requests_waiting{gen_ai_request_model}` counts
/// it until [`scheduled`](Self::scheduled) is called or the guard is dropped, whichever comes first, so the gauge
/// stays exact on every path (a client that hangs up, a handler that returns early or panics). Scheduling records
/// the wait in `inferwatch_request_queue_duration_seconds`; the wait is also the request's `queue` stage (a span).
///
/// ```
/// # async fn engine_slot() {}
/// # async fn handler(handle: inferwatch_core::RequestHandle) {
/// handle.set_model("llama-3-8b");
/// let waiting = handle.enter_queue();
/// engine_slot().await; // the engine admits the request into its batch
/// let waited = waiting.scheduled();
/// # let _ = waited; }
/// ```
#[must_use = "the wait ends when the guard is scheduled or dropped"]
pub struct QueueWait {
    handle: RequestHandle,
    model: Option<LabelValue>,
    start: Instant,
    stage: Option<Stage>,
}

impl fmt::Debug for QueueWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueWait")
            .field("model", &self.model)
            .field("waited", &self.start.elapsed())
            .finish()
    }
}

impl RequestHandle {
    /// The request joins the engine's admission queue now, under the model named so far (name it first).
    pub fn enter_queue(&self) -> QueueWait {
        let model = self.state.model().cloned();
        self.state.hooks.event(&Event::QueueEntered { model: model.as_ref() });
        QueueWait {
            stage: Some(self.stage(stage_name::QUEUE)),
            handle: self.clone(),
            model,
            start: Instant::now(),
        }
    }
}

impl QueueWait {
    /// The engine took the request: its wait ends now. Returns how long it waited.
    pub fn scheduled(mut self) -> Duration {
        let waited = self.start.elapsed();
        self.leave(|model| Event::QueueScheduled { model, waited });
        waited
    }

    fn leave(&mut self, event: impl for<'a> FnOnce(Option<&'a LabelValue>) -> Event<'a>) {
        if let Some(stage) = self.stage.take() {
            stage.end();
            self.handle.state.hooks.event(&event(self.model.as_ref()));
        }
    }
}

impl Drop for QueueWait {
    fn drop(&mut self) {
        let waited = self.start.elapsed();
        self.leave(|model| Event::QueueAbandoned { model, waited });
    }
}
