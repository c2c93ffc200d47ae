//! Experiments (A/B tests, canaries, model versions): each request of an experiment gets a variant, the same one
//! for the same user on every replica and after every restart, and the variant's requests, latency, tokens,
//! quality scores and feedback are recorded in a family of metrics of their own
//! (`inferwatch_experiment_*`), so the main metrics keep their labels.
//!
//! Declare the experiment once; tell the [`InferenceLayer`](inferwatch_core::InferenceLayer) about it (its names become
//! the only admitted label values) and put its [`ExperimentLayer`] inside:
//!
//! ```
//! use inferwatch_core::InferenceLayer;
//! use inferwatch_model::experiment::Experiment;
//! use tower::ServiceBuilder;
//!
//! let rollout = Experiment::builder("model-rollout")
//!     .variant("control", 0.9)
//!     .variant("treatment", 0.1)
//!     .key_header("x-user-id")
//!     .build()
//!     .expect("a valid experiment");
//! let layers = ServiceBuilder::new()
//!     .layer(InferenceLayer::builder().experiment(&rollout).build())
//!     .layer(rollout.layer());
//! # let _ = layers;
//! // In the handler: `handle.variant()`, or the `Assignment` in the request's extensions.
//! assert_eq!(rollout.assign(Some(b"user-42")).unwrap().variant(), "control");
//! ```
//!
//! Assignment is `xxh3_64(key, xxh3_64(experiment name)) mod 10000` against the variants' cumulative shares, in
//! declaration order (see [`BUCKETS`]); another service reproduces it with any xxHash implementation.

mod assign;
mod definition;
mod layer;

pub use assign::BUCKETS;
pub use definition::{Assignment, Experiment, ExperimentBuilder, ExperimentError, WithoutKey};
pub use layer::{ExperimentLayer, ExperimentService};
