//! What inference costs: prices per model (per million input and output tokens) and per GPU-hour, in one
//! currency, turned into exact running totals.
//!
//! Give the same [`Prices`] to a [`CostObserver`] on the layer (which prices each inference request from its token
//! counts) and to the Prometheus exporter (`inferwatch_prometheus::PrometheusBuilder::prices`, which renders the
//! totals):
//!
//! ```
//! use inferwatch_core::InferenceLayer;
//! use inferwatch_model::cost::{CostObserver, Prices};
//!
//! let prices = Prices::builder("USD").model("llama-3-8b", 0.05, 0.25).build().expect("valid prices");
//! let layer = InferenceLayer::builder().with(CostObserver::new(&prices)).build();
//! # let _ = layer;
//! ```
//!
//! `inferwatch_cost_total{gen_ai_request_model}` and `inferwatch_experiment_cost_total{experiment, variant}` are
//! exact: a price is a whole number of micro-units per million tokens, so a token costs a whole number of
//! picounits (10⁻¹² of the currency), and totals are integers, rendered as decimals. A billion requests add up to
//! exactly the sum of their costs. `inferwatch_request_cost` is a histogram of each request's cost. With a price
//! per GPU-hour, the GPU sampler (`inferwatch_operations::resources::ResourceSamplerBuilder::prices`) adds GPUs × time to
//! `inferwatch_gpu_cost_total`. Models without a price cost nothing and are not counted.

mod ledger;
mod money;
mod observer;
mod prices;
mod spend;

pub(crate) use money::Money;
pub use observer::CostObserver;
pub(crate) use prices::ModelPrice;
pub use prices::{PriceError, Prices, PricesBuilder};
pub(crate) use spend::ModelSpend;
