//! Drift: is today's traffic the traffic the model was validated on? Distributions of what requests bring and
//! get, per model, compared in process with a baseline, off the request path.
//!
//! - **Features.** Built in, with no handler work: `input_tokens` and `output_tokens` of every inference request
//!   (numeric, bins learned from the warm-up) and `finish_reason` (categorical). Declared ones
//!   ([`Feature::numeric`], [`Feature::numeric_quantiles`], [`Feature::categorical`]) are observed from the
//!   handler: [`RequestHandle::record_feature`](inferwatch_core::RequestHandle::record_feature) for numbers,
//!   [`record_category`](inferwatch_core::RequestHandle::record_category) for categories. An observation is a few relaxed
//!   atomic increments (`cargo bench --features drift --bench drift`); undeclared names and categories are
//!   `_OTHER`, never new series.
//! - **Baseline.** Per feature and model: the first observations (a [`Warmup`] of 1,000 by default, or a
//!   duration), or a [`Baseline`] document loaded at start-up, so that restarts and replicas judge against the same
//!   reference. [`Drift::window_as_baseline`] (and the opt-in route `GET /v1/drift/baseline`) turn a known-good
//!   window into such a document.
//! - **Window.** The last hour by default, a ring of 12 sub-windows: memory is fixed whatever the traffic.
//! - **Statistics**, every 10 s on a thread of the monitor's own: `inferwatch_drift_psi` (all features),
//!   `inferwatch_drift_ks_statistic` (numeric; from the binned distributions, so a lower bound of the exact
//!   statistic), `inferwatch_drift_chi_square_p_value` (categorical), `inferwatch_drift_window_observations` and
//!   `inferwatch_drift_baseline_info{source}`. Shares are smoothed as [`stats`] documents ([`stats::EPSILON`]).
//!
//! ```
//! use inferwatch_core::InferenceLayer;
//! use inferwatch_model::drift::{Drift, Feature};
//!
//! let drift = Drift::builder()
//!     .feature(Feature::categorical("language", ["en", "fr", "de"]))
//!     .feature(Feature::numeric("retrieval_score", [0.2, 0.4, 0.6, 0.8]))
//!     .build()
//!     .expect("valid features");
//! // An observer: it sees the handlers' features and every finished inference request.
//! let layer = InferenceLayer::builder().with(drift.clone()).build();
//! // In the handler, after naming the model: handle.record_category("language", "fr");
//! # let _ = layer;
//! ```

mod baseline;
mod feature;
mod monitor;
mod observer;
#[cfg(feature = "axum")]
mod route;
mod series;
pub mod stats;

pub use baseline::{Baseline, FORMAT, MAX_DOCUMENT_BYTES, MAX_SERIES};
pub use feature::{DEFAULT_QUANTILE_BINS, DriftError, FINISH_REASON, Feature, INPUT_TOKENS, MAX_BINS, OUTPUT_TOKENS};
pub use monitor::{Drift, DriftBuilder};
pub use series::Warmup;
