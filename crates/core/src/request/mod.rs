//! The request as handlers see it: the [`RequestHandle`], its [`Stage`]s, the words they report in, and what
//! observers are told about it.

mod event;
mod experiment_labels;
mod ext;
mod handle;
mod handle_drift;
mod handle_quality;
pub(crate) mod hooks;
pub(crate) mod quality;
mod queue;
mod report;
#[cfg(feature = "feedback")]
pub(crate) mod response_id;
mod stage;
pub(crate) mod state;
mod vocabulary;

pub use event::{Event, FeatureValue, LayerEvent, StageId};
pub use experiment_labels::ExperimentDeclaration;
pub(crate) use experiment_labels::{Declared, ExperimentLabels};
pub use ext::InferenceRequestExt;
pub use handle::RequestHandle;
pub use handle_quality::RejectedScore;
pub(crate) use hooks::Observers;
pub(crate) use quality::Rating;
pub use queue::QueueWait;
pub use report::{RequestInfo, RequestSummary};
pub use stage::{EnteredStage, Stage, StageFuture};
pub use vocabulary::{FinishReason, TokenUsage, operation, stage_name};
