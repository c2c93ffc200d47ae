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
//!
//! ## The crates
//!
//! This crate is the one dependency for the common case: it re-exports the crates that hold each product, at
//! the paths below, behind features.
//!
//! | path | crate | what |
//! |---|---|---|
//! | the root, [`observe`], [`contract`], [`classify`], [`labels`], `feedback` | `inferwatch-core` | the layer, the request handle and stages, the observers, bounded labels, the metric contract, signed feedback |
//! | [`experiment`], [`cost`], `drift` | `inferwatch-model` | A/B experiments, exact cost, drift against a baseline |
//! | [`prometheus`] (feature `prometheus`) | `inferwatch-prometheus` | the exporter: recorder, `/metrics`, standalone listener |
//! | [`telemetry`] (feature `telemetry`) | `inferwatch-telemetry` | `init()`: JSON logs, log queue, head sampling, OTLP |
//! | [`health`] (feature `health`), [`resources`], [`engine`] | `inferwatch-operations` | health routes, the GPU and host sampler, engine metrics |
//! | [`slo`] | `inferwatch-rules` | Prometheus rules: SLO burn rates, experiments, anomalies, cost |
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
//! - `gpu`, `host`: what the [`resources`] sampler reads (NVML; process and system).
//! - `tonic`: [`InferenceRequestExt`] for `tonic::Request`.
//! - `feedback`: signed response ids and `POST /v1/feedback`; `cost`: price tables from JSON
//!   (`cost::Prices::from_json`); `drift`: the drift monitor (`drift::Drift`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

/// The README's examples that are not marked `ignore`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use inferwatch_core::*;
#[cfg(feature = "drift")]
pub use inferwatch_model::drift;
pub use inferwatch_model::{cost, experiment};
#[cfg(feature = "health")]
pub use inferwatch_operations::health;
pub use inferwatch_operations::{engine, resources};
#[cfg(feature = "prometheus")]
pub use inferwatch_prometheus as prometheus;
pub use inferwatch_rules as slo;
#[cfg(feature = "telemetry")]
pub use inferwatch_telemetry as telemetry;

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
