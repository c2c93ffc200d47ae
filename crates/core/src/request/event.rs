//! [`Event`]: what a handler reports during a request, as observers are told; [`LayerEvent`]: what happens to a
//! layer outside any request.

use std::time::Duration;

#[cfg(feature = "feedback")]
use opentelemetry::trace::{SpanId, TraceId};

#[cfg(feature = "feedback")]
use super::quality::{Rating, Unattributed};
use crate::labels::LabelValue;

/// Something a handler reported during a request, in the order it happened. Observers match the variants they
/// need and ignore the rest.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The handler started serving the request: it named the model or started a stage, whichever came first
    /// (before that it may still be reading a request body from a slow client). At most once per request; never
    /// for requests whose handler does neither.
    Serving,
    /// The handler started a stage named `name`.
    #[non_exhaustive]
    StageStart {
        /// The stage, until its [`StageEnd`](Self::StageEnd).
        id: StageId,
        /// The bounded stage name.
        name: &'a LabelValue,
    },
    /// Code of the stage is about to run on this thread; paired with [`StageExit`](Self::StageExit).
    StageEnter(StageId),
    /// The code that [`StageEnter`](Self::StageEnter) announced is over.
    StageExit(StageId),
    /// A stage ended (dropped, ended, or its future completed).
    #[non_exhaustive]
    StageEnd {
        /// The stage, as [`StageStart`](Self::StageStart) named it.
        id: StageId,
        /// The bounded stage name.
        name: &'a LabelValue,
        /// The model the handler had named when the stage ended.
        model: Option<&'a LabelValue>,
        /// From the stage's start to its end.
        duration: Duration,
    },
    /// The handler reported the prompt's text ([`RequestHandle::record_prompt`](crate::RequestHandle::record_prompt),
    /// `gen_ai.input.messages`). Nothing inferwatch ships keeps it unless asked to.
    Prompt(&'a str),
    /// The handler reported the completion's text
    /// ([`RequestHandle::record_completion`](crate::RequestHandle::record_completion), `gen_ai.output.messages`).
    /// Nothing inferwatch ships keeps it unless asked to.
    Completion(&'a str),
    /// The request entered the engine's admission queue
    /// ([`RequestHandle::enter_queue`](crate::RequestHandle::enter_queue)). Exactly one
    /// [`QueueScheduled`](Self::QueueScheduled) or [`QueueAbandoned`](Self::QueueAbandoned) follows, with the same
    /// model.
    #[non_exhaustive]
    QueueEntered {
        /// The model named when the request entered the queue.
        model: Option<&'a LabelValue>,
    },
    /// The engine took the request from the queue.
    #[non_exhaustive]
    QueueScheduled {
        /// The model named when the request entered the queue.
        model: Option<&'a LabelValue>,
        /// How long it waited.
        waited: Duration,
    },
    /// The request left the queue without being served (the client hung up, the handler failed or panicked).
    #[non_exhaustive]
    QueueAbandoned {
        /// The model named when the request entered the queue.
        model: Option<&'a LabelValue>,
        /// How long it waited.
        waited: Duration,
    },
    /// The handler recorded a drift feature (`RequestHandle::record_feature`, `record_category`) under `model`
    /// (the one named so far).
    Feature {
        /// The model named so far.
        model: Option<&'a LabelValue>,
        /// The feature's name, as the handler wrote it (not bounded: observers look it up in what they declared).
        name: &'a str,
        /// A number or a category.
        value: FeatureValue<'a>,
    },
    /// The handler recorded a quality score
    /// ([`RequestHandle::record_score`](crate::RequestHandle::record_score)), accepted or rejected.
    #[non_exhaustive]
    Score {
        /// The bounded evaluator name.
        evaluator: &'a LabelValue,
        /// The score, in [0, 1] when `accepted`.
        value: f64,
        /// The evaluator's verdict in words (`gen_ai.evaluation.score.label`), if it gave one.
        label: Option<&'a str>,
        /// False for a value outside [0, 1] or NaN: counted as rejected, recorded nowhere.
        accepted: bool,
        /// The model named when the score was recorded.
        model: Option<&'a LabelValue>,
        /// The experiment and variant of the request, when it is in one.
        experiment: Option<(&'a LabelValue, &'a LabelValue)>,
    },
}

/// Something that happens to a layer outside any request.
#[derive(Debug)]
#[non_exhaustive]
pub enum LayerEvent<'a> {
    /// The layer was built. These are the label values known now: observers that export series create them now,
    /// at zero, so that a rate over the first burst of traffic counts all of it.
    #[non_exhaustive]
    Start {
        /// Declared routes: served gRPC methods and declared HTTP route templates.
        routes: &'a [LabelValue],
        /// The declared routes that can carry a model: all but the gRPC methods whose request message, as their
        /// descriptor describes it, has no `model`, `model_name`, `model_id` or `model_spec` field.
        model_routes: &'a [LabelValue],
        /// The allowed models (empty when the layer admits the first models it sees).
        models: &'a [LabelValue],
        /// The declared operations; without a declaration, the default operation or else the well-known ones.
        operations: &'a [LabelValue],
        /// The declared experiments, each with its declared variants.
        experiments: &'a [(LabelValue, Vec<LabelValue>)],
        /// The declared quality evaluators.
        evaluators: &'a [LabelValue],
    },
    /// A user's feedback on an earlier answer arrived (through [`Feedback`](crate::feedback::Feedback); feature
    /// `feedback`), possibly about an answer another replica served.
    #[cfg(feature = "feedback")]
    #[non_exhaustive]
    Feedback {
        /// The verdict.
        rating: Rating,
        /// The score given, if the user gave a number rather than a rating.
        score: Option<f64>,
        /// The bounded model that answered; `_OTHER` when the feedback could not be attributed.
        model: &'a LabelValue,
        /// The experiment and variant of the answer, when it was in one.
        experiment: Option<(&'a LabelValue, &'a LabelValue)>,
        /// The answer's request span, to link to.
        trace: Option<(TraceId, SpanId)>,
        /// How long after the answer the feedback came.
        age: Option<Duration>,
        /// Why it could not be attributed, if it could not.
        unattributed: Option<Unattributed>,
        /// The answer's feedback was counted already (a second post of the same response id, whatever its
        /// rating): counted as a repeat, not as a rating.
        repeated: bool,
    },
}

/// One stage of a request, among the stages of that request: the key under which an observer keeps a stage's
/// state (its span, say) from [`Event::StageStart`] to [`Event::StageEnd`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StageId(pub(crate) u32);

/// An observation of a drift feature, as the handler reported it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FeatureValue<'a> {
    /// A number (`RequestHandle::record_feature`).
    Number(f64),
    /// A category (`RequestHandle::record_category`).
    Category(&'a str),
}
