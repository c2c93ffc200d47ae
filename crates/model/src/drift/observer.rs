//! [`Drift`] as an observer: composed into a layer, it sees the features handlers record and the built-in
//! features of every finished inference request.

use http::HeaderMap;

use super::monitor::Drift;
use inferwatch_core::observe::{Event, Observer, RequestInfo, RequestSummary};

/// The model key of an observation made before any model was named (label value empty).
const NO_MODEL: (u32, &str) = (u32::MAX, "");

/// Feeds the monitor: the handler's features as they are recorded, and input tokens, output tokens and finish
/// reason when an inference request finishes. Add it with `InferenceLayer::builder().with(drift.clone())`.
impl Observer for Drift {
    type RequestData = ();

    fn on_request(&self, _: &RequestInfo, _: &HeaderMap) {}

    fn on_event(&self, _: &(), event: &Event<'_>) {
        if let Event::Feature { model, name, value, .. } = *event {
            let model = model.map_or(NO_MODEL, |m| (m.id(), m.as_str()));
            self.observe(model, name, value);
        }
    }

    fn on_finish(&self, _: &(), summary: &RequestSummary<'_>) {
        if let Some(model) = summary.inference_model() {
            self.record_finish(model, summary);
        }
    }
}
