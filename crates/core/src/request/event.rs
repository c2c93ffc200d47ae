//! [`Event`]: what a handler reports during a request, as observers are told; [`LayerEvent`]: what happens to a
//! layer outside any request.

use super::quality::{FeedbackEvent, Score};
use super::report::{ContentKind, FeatureValue, KnownLabels, QueueEvent, StageId, StageSummary};
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
    StageEnd(&'a StageSummary<'a>),
    /// The handler reported prompt or completion text. Nothing inferwatch ships keeps it unless asked to.
    Content {
        /// Prompt or completion.
        kind: ContentKind,
        /// The text, as reported.
        text: &'a str,
    },
    /// The request entered the engine's admission queue, or left it (scheduled or abandoned), under `model` (the
    /// one named when it entered). Every `Entered` is followed by exactly one of the others.
    Queue {
        /// The model named when the request entered the queue.
        model: Option<&'a LabelValue>,
        /// Entered, scheduled or abandoned.
        event: QueueEvent,
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
