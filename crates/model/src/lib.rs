//! # inferwatch-model
//!
//! The model half of [inferwatch](https://docs.rs/inferwatch), as observers and layers you compose into an
//! `inferwatch_core::InferenceLayer`: A/B [`experiment`]s (deterministic assignment, declared labels), [`cost`]
//! (price tables, exact spend per model, variant and GPU-hour, a `CostObserver` per layer), and `drift` (feature
//! `drift`: PSI, KS and chi-square of what requests bring and get, against a baseline; the monitor is an observer).
//!
//! ```
//! use inferwatch_core::InferenceLayer;
//! use inferwatch_model::cost::{CostObserver, Prices};
//! use inferwatch_model::experiment::Experiment;
//!
//! let rollout = Experiment::builder("model-rollout")
//!     .variant("control", 0.9)
//!     .variant("treatment", 0.1)
//!     .build()
//!     .expect("valid experiment");
//! let prices = Prices::builder("USD").model("llama-3-8b", 0.05, 0.25).build().expect("valid prices");
//! let layer = InferenceLayer::builder()
//!     .experiment(&rollout)
//!     .with(CostObserver::new(&prices))
//!     .build();
//! # let _ = layer;
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod cost;
#[cfg(feature = "drift")]
pub mod drift;
pub mod experiment;
