//! The [`Observer`] trait, and how observers compose: tuples, `Option`, `()`.

use http::HeaderMap;

use crate::labels::LabelValue;
use crate::request::{
    ContentKind, FeatureValue, FeedbackEvent, KnownLabels, QueueEvent, RequestInfo, RequestSummary, Score,
    StageSummary, TraceIds,
};

/// Callbacks for the request lifecycle. Only [`on_request`](Self::on_request),
/// [`on_stage_start`](Self::on_stage_start) and [`on_finish`](Self::on_finish) must be written; the rest do nothing
/// by default.
pub trait Observer: Send + Sync + 'static {
    /// Per-request state, created at the start. It lives as long as the request's handle, shared with its
    /// stages; [`on_finish`](Self::on_finish) marks the end.
    type RequestData: Send + Sync + 'static;
    /// Per-stage state, created when a stage starts and handed back when it ends.
    type StageData: Send + 'static;

    /// The layer was built; `known` holds the label values known now (to create series at zero).
    fn on_start(&self, _known: &KnownLabels) {}

    /// A request arrived; runs before the inner service is called.
    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Self::RequestData;

    /// The inner service's future or the response body is about to be polled (so the handler's logs can nest
    /// under the request). Paired with [`exit`](Self::exit), on the same thread.
    fn enter(&self, _request: &Self::RequestData) {}

    /// The poll that [`enter`](Self::enter) announced is over.
    fn exit(&self, _request: &Self::RequestData) {}

    /// The handler started serving the request: it named the model or started a stage, whichever came first
    /// (before that it may still be reading a request body from a slow client). At most once per request; never
    /// for requests whose handler does neither.
    fn on_serving(&self, _request: &Self::RequestData) {}

    /// The inner service produced a response; `headers` are about to be sent. Observers must leave them alone
    /// unless the user asked for a change (e.g. `traceparent` in responses).
    fn on_response_headers(&self, _request: &Self::RequestData, _headers: &mut HeaderMap) {}

    /// The handler started a stage named `name`.
    fn on_stage_start(&self, request: &Self::RequestData, name: &LabelValue) -> Self::StageData;

    /// Code of the stage is about to run on this thread; paired with [`exit_stage`](Self::exit_stage).
    fn enter_stage(&self, _stage: &Self::StageData) {}

    /// The code that [`enter_stage`](Self::enter_stage) announced is over.
    fn exit_stage(&self, _stage: &Self::StageData) {}

    /// A stage ended (dropped, ended, or its future completed).
    fn on_stage_end(&self, _stage: Self::StageData, _summary: &StageSummary<'_>) {}

    /// The handler reported prompt or completion text. Nothing inferwatch ships keeps it unless asked to.
    fn on_content(&self, _request: &Self::RequestData, _kind: ContentKind, _text: &str) {}

    /// The request entered the engine's admission queue, or left it (scheduled or abandoned), under `model`
    /// (the one named when it entered). Every `Entered` is followed by exactly one of the others.
    fn on_queue(&self, _request: &Self::RequestData, _model: Option<&LabelValue>, _event: QueueEvent) {}

    /// The handler observed a drift feature (`RequestHandle::observe`, `observe_category`) under `model` (the one
    /// named so far).
    fn on_observe(
        &self,
        _request: &Self::RequestData,
        _model: Option<&LabelValue>,
        _feature: &str,
        _value: FeatureValue<'_>,
    ) {
    }

    /// The handler recorded a quality score (accepted or rejected; see [`Score::accepted`]).
    fn on_score(&self, _request: &Self::RequestData, _score: &Score<'_>) {}

    /// The ids of the request's span, if this observer made one: they go into response ids, so that feedback
    /// can link to the request.
    fn trace_ids(&self, _request: &Self::RequestData) -> Option<TraceIds> {
        None
    }

    /// A user's feedback on an earlier answer arrived (through `feedback::Feedback`, feature `feedback`); not
    /// tied to a request of this layer.
    fn on_feedback(&self, _feedback: &FeedbackEvent<'_>) {}

    /// The request finished. Called exactly once per request, on every path, inside the request's scope (between
    /// [`enter`](Self::enter) and [`exit`](Self::exit)).
    fn on_finish(&self, request: &Self::RequestData, summary: &RequestSummary<'_>);
}

impl<A: Observer, B: Observer> Observer for (A, B) {
    type RequestData = (A::RequestData, B::RequestData);
    type StageData = (A::StageData, B::StageData);

    fn on_start(&self, known: &KnownLabels) {
        self.0.on_start(known);
        self.1.on_start(known);
    }

    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Self::RequestData {
        (self.0.on_request(info, headers), self.1.on_request(info, headers))
    }

    fn enter(&self, (a, b): &Self::RequestData) {
        self.0.enter(a);
        self.1.enter(b);
    }

    fn exit(&self, (a, b): &Self::RequestData) {
        self.1.exit(b);
        self.0.exit(a);
    }

    fn on_serving(&self, (a, b): &Self::RequestData) {
        self.0.on_serving(a);
        self.1.on_serving(b);
    }

    fn on_response_headers(&self, (a, b): &Self::RequestData, headers: &mut HeaderMap) {
        self.0.on_response_headers(a, headers);
        self.1.on_response_headers(b, headers);
    }

    fn on_stage_start(&self, (a, b): &Self::RequestData, name: &LabelValue) -> Self::StageData {
        (self.0.on_stage_start(a, name), self.1.on_stage_start(b, name))
    }

    fn enter_stage(&self, (a, b): &Self::StageData) {
        self.0.enter_stage(a);
        self.1.enter_stage(b);
    }

    fn exit_stage(&self, (a, b): &Self::StageData) {
        self.1.exit_stage(b);
        self.0.exit_stage(a);
    }

    fn on_stage_end(&self, (a, b): Self::StageData, summary: &StageSummary<'_>) {
        self.0.on_stage_end(a, summary);
        self.1.on_stage_end(b, summary);
    }

    fn on_content(&self, (a, b): &Self::RequestData, kind: ContentKind, text: &str) {
        self.0.on_content(a, kind, text);
        self.1.on_content(b, kind, text);
    }

    fn on_queue(&self, (a, b): &Self::RequestData, model: Option<&LabelValue>, event: QueueEvent) {
        self.0.on_queue(a, model, event);
        self.1.on_queue(b, model, event);
    }

    fn on_observe(
        &self,
        (a, b): &Self::RequestData,
        model: Option<&LabelValue>,
        feature: &str,
        value: FeatureValue<'_>,
    ) {
        self.0.on_observe(a, model, feature, value);
        self.1.on_observe(b, model, feature, value);
    }

    fn on_score(&self, (a, b): &Self::RequestData, score: &Score<'_>) {
        self.0.on_score(a, score);
        self.1.on_score(b, score);
    }

    fn trace_ids(&self, (a, b): &Self::RequestData) -> Option<TraceIds> {
        self.0.trace_ids(a).or_else(|| self.1.trace_ids(b))
    }

    fn on_feedback(&self, feedback: &FeedbackEvent<'_>) {
        self.0.on_feedback(feedback);
        self.1.on_feedback(feedback);
    }

    fn on_finish(&self, (a, b): &Self::RequestData, summary: &RequestSummary<'_>) {
        self.0.on_finish(a, summary);
        self.1.on_finish(b, summary);
    }
}

/// Calls the observer when it is `Some`: an observer switched on or off at run time, with one layer type.
impl<O: Observer> Observer for Option<O> {
    type RequestData = Option<O::RequestData>;
    type StageData = Option<O::StageData>;

    fn on_start(&self, known: &KnownLabels) {
        if let Some(o) = self {
            o.on_start(known);
        }
    }

    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Self::RequestData {
        self.as_ref().map(|o| o.on_request(info, headers))
    }

    fn enter(&self, request: &Self::RequestData) {
        if let (Some(o), Some(r)) = (self, request) {
            o.enter(r);
        }
    }

    fn exit(&self, request: &Self::RequestData) {
        if let (Some(o), Some(r)) = (self, request) {
            o.exit(r);
        }
    }

    fn on_serving(&self, request: &Self::RequestData) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_serving(r);
        }
    }

    fn on_response_headers(&self, request: &Self::RequestData, headers: &mut HeaderMap) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_response_headers(r, headers);
        }
    }

    fn on_stage_start(&self, request: &Self::RequestData, name: &LabelValue) -> Self::StageData {
        match (self, request) {
            (Some(o), Some(r)) => Some(o.on_stage_start(r, name)),
            _ => None,
        }
    }

    fn enter_stage(&self, stage: &Self::StageData) {
        if let (Some(o), Some(s)) = (self, stage) {
            o.enter_stage(s);
        }
    }

    fn exit_stage(&self, stage: &Self::StageData) {
        if let (Some(o), Some(s)) = (self, stage) {
            o.exit_stage(s);
        }
    }

    fn on_stage_end(&self, stage: Self::StageData, summary: &StageSummary<'_>) {
        if let (Some(o), Some(s)) = (self, stage) {
            o.on_stage_end(s, summary);
        }
    }

    fn on_content(&self, request: &Self::RequestData, kind: ContentKind, text: &str) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_content(r, kind, text);
        }
    }

    fn on_queue(&self, request: &Self::RequestData, model: Option<&LabelValue>, event: QueueEvent) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_queue(r, model, event);
        }
    }

    fn on_observe(
        &self,
        request: &Self::RequestData,
        model: Option<&LabelValue>,
        feature: &str,
        value: FeatureValue<'_>,
    ) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_observe(r, model, feature, value);
        }
    }

    fn on_score(&self, request: &Self::RequestData, score: &Score<'_>) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_score(r, score);
        }
    }

    fn trace_ids(&self, request: &Self::RequestData) -> Option<TraceIds> {
        match (self, request) {
            (Some(o), Some(r)) => o.trace_ids(r),
            _ => None,
        }
    }

    fn on_feedback(&self, feedback: &FeedbackEvent<'_>) {
        if let Some(o) = self {
            o.on_feedback(feedback);
        }
    }

    fn on_finish(&self, request: &Self::RequestData, summary: &RequestSummary<'_>) {
        if let (Some(o), Some(r)) = (self, request) {
            o.on_finish(r, summary);
        }
    }
}

/// An observer that does nothing.
impl Observer for () {
    type RequestData = ();
    type StageData = ();

    fn on_request(&self, _: &RequestInfo, _: &HeaderMap) {}

    fn on_stage_start(&self, _: &(), _: &LabelValue) {}

    fn on_finish(&self, _: &(), _: &RequestSummary<'_>) {}
}

/// An observer the application keeps a handle to (to read what it gathered), shared with the layer.
impl<O: Observer> Observer for std::sync::Arc<O> {
    type RequestData = O::RequestData;
    type StageData = O::StageData;

    fn on_start(&self, known: &KnownLabels) {
        (**self).on_start(known);
    }

    fn on_request(&self, info: &RequestInfo, headers: &HeaderMap) -> Self::RequestData {
        (**self).on_request(info, headers)
    }

    fn enter(&self, request: &Self::RequestData) {
        (**self).enter(request);
    }

    fn exit(&self, request: &Self::RequestData) {
        (**self).exit(request);
    }

    fn on_serving(&self, request: &Self::RequestData) {
        (**self).on_serving(request);
    }

    fn on_response_headers(&self, request: &Self::RequestData, headers: &mut HeaderMap) {
        (**self).on_response_headers(request, headers);
    }

    fn on_stage_start(&self, request: &Self::RequestData, name: &LabelValue) -> Self::StageData {
        (**self).on_stage_start(request, name)
    }

    fn enter_stage(&self, stage: &Self::StageData) {
        (**self).enter_stage(stage);
    }

    fn exit_stage(&self, stage: &Self::StageData) {
        (**self).exit_stage(stage);
    }

    fn on_stage_end(&self, stage: Self::StageData, summary: &StageSummary<'_>) {
        (**self).on_stage_end(stage, summary);
    }

    fn on_content(&self, request: &Self::RequestData, kind: ContentKind, text: &str) {
        (**self).on_content(request, kind, text);
    }

    fn on_queue(&self, request: &Self::RequestData, model: Option<&LabelValue>, event: QueueEvent) {
        (**self).on_queue(request, model, event);
    }

    fn on_observe(
        &self,
        request: &Self::RequestData,
        model: Option<&LabelValue>,
        feature: &str,
        value: FeatureValue<'_>,
    ) {
        (**self).on_observe(request, model, feature, value);
    }

    fn on_score(&self, request: &Self::RequestData, score: &Score<'_>) {
        (**self).on_score(request, score);
    }

    fn trace_ids(&self, request: &Self::RequestData) -> Option<TraceIds> {
        (**self).trace_ids(request)
    }

    fn on_feedback(&self, feedback: &FeedbackEvent<'_>) {
        (**self).on_feedback(feedback);
    }

    fn on_finish(&self, request: &Self::RequestData, summary: &RequestSummary<'_>) {
        (**self).on_finish(request, summary);
    }
}
