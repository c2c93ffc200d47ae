//! The request as handlers see it: the [`RequestHandle`], its [`Stage`]s, the words they report in, and what
//! observers are told about it.

mod ext;
mod handle;
mod report;
mod stage;
pub(crate) mod state;
mod vocabulary;

pub use ext::InferenceRequestExt;
pub use handle::RequestHandle;
pub use report::{ContentKind, KnownLabels, Reported, RequestInfo, RequestSummary, StageSummary};
pub use stage::{EnteredStage, Stage, StageFuture};
pub use vocabulary::{FinishReason, TokenUsage, operation, stage_name};
