//! # inferwatch-core
//!
//! The core of [inferwatch](https://docs.rs/inferwatch): the tower layer that measures every request of an
//! inference service, the handle its handlers report through, and the observers every signal goes to. Most
//! applications depend on `inferwatch`, which re-exports this crate with the exporter, telemetry and operations
//! crates behind features; depend on this one alone for the layer, its metrics (through the `metrics` facade, any
//! recorder) and its spans (through `tracing`, any subscriber).
//!
//! - [`InferenceLayer`] wraps a service; each request gets a [`RequestHandle`] in its extensions, through which
//!   the handler reports model, tokens, finish reason and [`Stage`]s.
//! - Everything the layer learns goes to its [observers](observe): [`observe::MetricsObserver`] records the
//!   [contract] into a [`SharedRecorder`], [`observe::TracingObserver`] makes spans and the summary log line, and
//!   your own observers see the same lifecycle.
//! - Quality scores, and `feedback` on earlier answers through signed response ids (feature `feedback`); the
//!   rest of the model half (experiments, cost, drift) is in `inferwatch-model`, observers you compose in.
//!
//! The layer itself needs no feature: it wraps any `Service<http::Request<B>>` returning `http::Response`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod classify;
pub mod contract;
#[cfg(feature = "feedback")]
pub mod feedback;
pub mod labels;
mod layer;
pub mod observe;
mod request;
mod shared_recorder;
#[cfg(test)]
mod test_edits;

#[cfg(feature = "tonic")]
pub use layer::GrpcDescriptorError;
pub use layer::{
    DefaultObserver, InferenceLayer, InferenceLayerBuilder, InferenceService, ResponseBody, ResponseFuture,
};
pub use request::{
    EnteredStage, ExperimentDeclaration, FinishReason, InferenceRequestExt, QueueWait, RejectedScore, RequestHandle,
    Stage, StageFuture, TokenUsage, operation, stage_name,
};
pub use shared_recorder::SharedRecorder;
