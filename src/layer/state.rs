//! What the layer's requests share ([`LayerState`]: route labels, the handler's label sets, the observer), and
//! how one request's handle reaches the observer ([`Hooks`]).

use std::sync::Arc;

use crate::labels::{BoundedLabels, LabelValue};
use crate::observe::{ContentKind, FeatureValue, Observer, QueueEvent, RequestInfo, Score, StageSummary, TraceIds};
use crate::request::state::{ObserverHooks, RequestLabels, RequestState, StageData};

/// Shared by every request of one layer.
pub(crate) struct LayerState<O> {
    pub(crate) routes: BoundedLabels,
    /// gRPC methods were declared: other method paths are `_OTHER`, never admitted.
    pub(crate) grpc_methods_declared: bool,
    pub(crate) labels: Arc<RequestLabels>,
    pub(crate) observer: O,
    /// The response ids whose feedback was counted.
    #[cfg(feature = "feedback")]
    pub(crate) rated: crate::feedback::Rated,
}

/// One request's observer state, with the layer it belongs to.
pub(crate) struct Hooks<O: Observer> {
    pub(crate) layer: Arc<LayerState<O>>,
    pub(crate) data: O::RequestData,
}

/// A request's state as the layer holds it; the handle holds the same allocation as `RequestState<dyn ObserverHooks>`.
pub(crate) type ObservedRequest<O> = RequestState<Hooks<O>>;

impl<O: Observer> Hooks<O> {
    fn observer(&self) -> &O {
        &self.layer.observer
    }
}

impl<O: Observer> ObserverHooks for Hooks<O> {
    fn serving(&self) {
        self.observer().on_serving(&self.data);
    }

    fn stage_start(&self, _info: &RequestInfo, name: &LabelValue) -> StageData {
        Box::new(self.observer().on_stage_start(&self.data, name))
    }

    fn stage_enter(&self, stage: &StageData) {
        if let Some(stage) = stage.downcast_ref::<O::StageData>() {
            self.observer().enter_stage(stage);
        }
    }

    fn stage_exit(&self, stage: &StageData) {
        if let Some(stage) = stage.downcast_ref::<O::StageData>() {
            self.observer().exit_stage(stage);
        }
    }

    fn stage_end(&self, stage: StageData, summary: &StageSummary<'_>) {
        if let Ok(stage) = stage.downcast::<O::StageData>() {
            self.observer().on_stage_end(*stage, summary);
        }
    }

    fn content(&self, kind: ContentKind, text: &str) {
        self.observer().on_content(&self.data, kind, text);
    }

    fn score(&self, score: &Score<'_>) {
        self.observer().on_score(&self.data, score);
    }

    fn queue(&self, model: Option<&LabelValue>, event: QueueEvent) {
        self.observer().on_queue(&self.data, model, event);
    }

    fn observe(&self, model: Option<&LabelValue>, feature: &str, value: FeatureValue<'_>) {
        self.observer().on_observe(&self.data, model, feature, value);
    }

    fn trace_ids(&self) -> Option<TraceIds> {
        self.observer().trace_ids(&self.data)
    }
}

#[cfg(feature = "feedback")]
impl<O: Observer> crate::feedback::FeedbackSink for LayerState<O> {
    fn labels(&self) -> &RequestLabels {
        &self.labels
    }

    fn rated(&self) -> &crate::feedback::Rated {
        &self.rated
    }

    fn record(&self, event: &crate::observe::FeedbackEvent<'_>) {
        self.observer.on_feedback(event);
    }
}
