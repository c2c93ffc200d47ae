//! # inferwatch
//!
//! Observability for inference services, as tower layers: request counts, in-flight requests, latency to the
//! **end** of the response (streams included), outcomes for HTTP and gRPC alike, time to first token, time per
//! output token and token accounting per model, all under the standard OpenTelemetry / Prometheus names of the
//! [metric contract](contract); spans per request and stage, and one summary log line per request.
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
//! ## How it fits together
//!
//! - [`InferenceLayer`] wraps a service; each request gets a [`RequestHandle`] in its extensions, through which
//!   the handler reports model, tokens, finish reason and [`Stage`]s.
//! - Everything the layer learns goes to its [observers](observe): [`observe::MetricsObserver`] records the
//!   [contract] into a [`SharedRecorder`], `observe::TracingObserver` makes spans and log lines, and your
//!   own observers see the same lifecycle.
//! - Around it: the [`prometheus`] exporter, [`telemetry`] set-up (logs, trace export), the background
//!   [`sampler`] (GPUs, host), [`health`] routes, and [`slo`] rules for Prometheus.
//! - What the model half adds: [`experiment`]s and quality scores, [`cost`] (prices, exact spend), and the
//!   [`engine`]'s own state (KV cache, batch size, preemptions).
//!
//! ## Features
//!
//! Default: `axum`, `prometheus`, `telemetry`, `health`; `full` turns on everything. The layer, the metrics
//! observer and the tracing observer (request and stage spans, trace context, the summary line) need no feature.
//!
//! - `axum`: routes from axum's `MatchedPath`, [`RequestHandle`] as an extractor.
//! - `prometheus`: [`prometheus::PrometheusBuilder`], the `/metrics` route and standalone listener.
//! - `telemetry`: `telemetry::init`, JSON logs with trace ids, and `TelemetryGuard::tracing_observer` (head
//!   sampling, summary lines straight to the log queue); `otlp` adds OTLP span export (gRPC, HTTP).
//! - `health`: the [`health`] registry and routes; `grpc-health` adds `grpc.health.v1`.
//! - `gpu`, `host`: what the [`sampler`] reads (NVML; process and system).
//! - `tonic`: [`InferenceRequestExt`] for `tonic::Request`.
//! - `feedback`: signed response ids and `POST /v1/feedback`; `cost`: price tables from JSON
//!   (`cost::Prices::from_json`); `drift`: the drift monitor (`drift::Drift`).
//!
//! The layer itself needs no feature: it wraps any `Service<http::Request<B>>` returning `http::Response`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

#[macro_use]
mod macros;

/// The README's examples that are not marked `ignore`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod classify;
pub mod contract;
pub mod cost;
#[cfg(feature = "drift")]
pub mod drift;
pub mod engine;
pub mod experiment;
#[cfg(feature = "feedback")]
pub mod feedback;
#[cfg(feature = "health")]
pub mod health;
mod labels;
mod layer;
pub mod observe;
#[cfg(feature = "prometheus")]
pub mod prometheus;
mod request;
pub mod sampler;
mod shared_recorder;
pub mod slo;
#[cfg(feature = "telemetry")]
pub mod telemetry;
#[cfg(test)]
mod test_edits;

#[cfg(feature = "tonic")]
pub use layer::GrpcDescriptorError;
pub use layer::{
    DefaultObserver, InferenceLayer, InferenceLayerBuilder, InferenceService, ResponseBody, ResponseFuture,
};
pub use request::{
    EnteredStage, FinishReason, InferenceRequestExt, QueueWait, Rating, RejectedScore, RequestHandle, Stage,
    StageFuture, TokenUsage, operation, stage_name,
};
pub use shared_recorder::SharedRecorder;

#[cfg(test)]
mod readme {
    /// The README's quick start is `examples/minimal.rs` (less its opening comment), which CI builds and runs.
    #[test]
    fn the_quick_start_is_the_minimal_example() {
        let readme = include_str!("../README.md");
        let example = include_str!("../examples/minimal.rs");
        let code: String = example
            .lines()
            .skip_while(|l| l.starts_with("//!"))
            .skip_while(|l| l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        let start = readme.find("```rust,no_run\n").expect("the quick start block") + "```rust,no_run\n".len();
        let end = start + readme[start..].find("```\n").expect("its end");
        assert_eq!(
            &readme[start..end],
            code,
            "README.md's quick start differs from examples/minimal.rs"
        );
    }
}
