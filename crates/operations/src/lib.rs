//! # inferwatch-operations
//!
//! What an inference server's operators need besides its request signals: [`health`] routes (liveness, readiness,
//! `grpc.health.v1`) fed by checks on the GPU, the host and the engine; the background [`resources`] sampler of GPUs (NVML)
//! and the host; and the [`engine`]'s own state (KV cache, batch size, preemptions). Everything records through
//! an `inferwatch_core::SharedRecorder`, by the metric contract's definitions.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod engine;
#[cfg(feature = "health")]
pub mod health;
pub mod resources;
