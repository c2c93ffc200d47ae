//! [`Event`]: what a handler reports during a request, as observers are told; [`LayerEvent`]: what happens to a
//! layer outside any request.

use std::time::Duration;

use super::quality::{FeedbackEvent, Score};
use super::report::{FeatureValue, KnownLabels, StageId};
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
    /// ([`RequestHandle::enter_queue`](crate::RequestHandle::enter_queue)). Exactly one [`QueueScheduled`](Self::QueueScheduled) or [`QueueAbandoned`](Self::QueueAbandoned) follows,
    /// with the same model.
    QueueEntered {
        /// The model named when the request entered the queue.
        model: Option<&'a LabelValue>,
    },
    /// The engine took the request from the queue.
    QueueScheduled {
        /// The model named when the request entered the queue.
        model: Option<&'a LabelValue>,
        /// How long it waited.
        waited: Duration,
    },
    /// The request left the queue without being served (the client hung up, the handler failed or panicked).
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
    /// The handler recorded a quality score (accepted or rejected; see [`Score::accepted`]).
    Score(&'a Score<'a>),
}

/// Something that happens to a layer outside any request.
#[derive(Debug)]
#[non_exhaustive]
pub enum LayerEvent<'a> {
    /// The layer was built; these are the label values known now (to create series at zero).
    Start(&'a KnownLabels),
    /// A user's feedback on an earlier answer arrived (through `feedback::Feedback`, feature `feedback`).
    Feedback(&'a FeedbackEvent<'a>),
}
