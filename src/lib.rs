//! # inferwatch
//!
//! Observability for inference services, as tower layers: request counts, in-flight requests, latency to the
//! **end** of the response (streams included), outcomes for HTTP and gRPC alike, time to first token, time per
//! output token and token accounting per model, all under the standard OpenTelemetry / Prometheus names of the
//! [metric contract](contract).
//!
//! ```
//! use axum::{Router, routing::post};
//! use inferwatch::{InferenceLayer, RequestHandle, prometheus::PrometheusBuilder};
//! use tower::ServiceBuilder;
//!
//! async fn complete(handle: RequestHandle, prompt: String) -> String {
//!     handle.set_model("toy");
//!     handle.set_operation(inferwatch::operation::TEXT_COMPLETION);
//!     handle.add_input_tokens(prompt.split_whitespace().count() as u64);
//!     let answer = "hello world".to_string();
//!     handle.add_output_tokens(2);
//!     answer
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Installs the global recorder: nothing is installed unless you call this.
//! # let (recorder, exporter) = PrometheusBuilder::new().build()?;
//! # let _ = recorder;
//! # /*
//! let exporter = PrometheusBuilder::new().install()?;
//! # */
//! let app: Router = Router::new()
//!     .route("/v1/completions", post(complete))
//!     .layer(ServiceBuilder::new().layer(InferenceLayer::new()))
//!     .merge(exporter.router());
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! - `axum` (default): routes from axum's `MatchedPath`, [`RequestHandle`] as an extractor.
//! - `prometheus` (default): [`prometheus::PrometheusBuilder`], the `/metrics` route and standalone listener.
//! - `tracing` (default): request and stage spans, W3C trace context, a summary log line per request.
//! - `otlp` (default): `telemetry::init`, JSON logs with trace ids and OTLP span export.
//! - `gpu`, `host` (default): the background [`sampler`] (NVML, process, system).
//! - `health` (default): the [`health`] registry and routes; `grpc-health` (default) adds `grpc.health.v1`.
//! - `tonic`: [`InferenceRequestExt`] for `tonic::Request` (brought in by `grpc-health`).
//!
//! The layer itself needs no feature: it wraps any `Service<http::Request<B>>` returning `http::Response`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

/// The `tracing` target of every log line inferwatch writes.
#[allow(dead_code)]
pub(crate) const LOG_TARGET: &str = "inferwatch";

pub mod classify;
pub mod contract;
#[cfg(feature = "health")]
pub mod health;
pub mod labels;
pub mod observer;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod sampler;
pub mod slo;

#[cfg(feature = "axum")]
mod axum_ext;
mod body;
mod ext;
mod future;
mod handle;
mod in_flight;
mod instruments;
mod label_sets;
mod layer;
mod service;
pub mod stage;
#[cfg(feature = "otlp")]
pub mod telemetry;
#[cfg(feature = "tracing")]
pub mod trace;

pub use body::ResponseBody;
pub use classify::{ErrorType, GrpcCode, Outcome, Protocol};
pub use ext::InferenceRequestExt;
pub use future::ResponseFuture;
pub use handle::{FinishReason, Reported, RequestHandle, TokenUsage, operation};
pub use instruments::MetricsObserver;
pub use label_sets::{DEFAULT_MAX_MODELS, DEFAULT_MAX_OPERATIONS, DEFAULT_MAX_ROUTES};
pub use layer::{DefaultObserver, InferenceLayer, InferenceLayerBuilder};
pub use observer::{Observer, RequestInfo, RequestSummary};
pub use service::InferenceService;
pub use stage::{EnteredStage, Stage, StageFuture, stage_name};
#[cfg(feature = "tracing")]
pub use trace::TracingObserver;
