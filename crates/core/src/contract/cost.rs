//! What inference cost, at the configured prices. The totals are exact: kept in integer picounits and rendered as
//! decimals by the Prometheus exporter (`PrometheusBuilder::prices`),
//! since the `metrics` facade's counters count whole numbers.

use super::buckets::REQUEST_COST_BUCKETS;
use super::def::{MetricDef, MetricKind};
use super::label;

/// Spend per model.
pub(crate) const COST_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_cost_total",
    otel_name: Some("inferwatch.cost"),
    kind: MetricKind::Counter,
    unit: "{currency}",
    labels: &[label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "Spend on inference requests at the configured prices per million input and output tokens, by model.",
};

/// Cost of each request.
pub(crate) const REQUEST_COST: MetricDef = MetricDef {
    name: "inferwatch_request_cost",
    otel_name: Some("inferwatch.request.cost"),
    kind: MetricKind::Histogram,
    unit: "{currency}",
    labels: &[label::GEN_AI_REQUEST_MODEL],
    buckets: REQUEST_COST_BUCKETS,
    description: "Cost of each inference request at the configured prices, by model.",
};

/// Spend per experiment variant.
pub(crate) const EXPERIMENT_COST_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_experiment_cost_total",
    otel_name: Some("inferwatch.experiment.cost"),
    kind: MetricKind::Counter,
    unit: "{currency}",
    labels: &[label::EXPERIMENT, label::VARIANT],
    buckets: &[],
    description: "Spend on an experiment's requests at the configured prices, by variant.",
};

/// Spend on GPUs by the hour.
pub(crate) const GPU_COST_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_gpu_cost_total",
    otel_name: Some("inferwatch.gpu.cost"),
    kind: MetricKind::Counter,
    unit: "{currency}",
    labels: &[],
    buckets: &[],
    description: "Spend on the GPUs the sampler sees, at the configured price per GPU-hour.",
};

/// The currency of the cost metrics.
pub(crate) const COST_INFO: MetricDef = MetricDef {
    name: "inferwatch_cost_info",
    otel_name: None,
    kind: MetricKind::Gauge,
    unit: "1",
    labels: &[label::CURRENCY],
    buckets: &[],
    description: "Always 1; the currency label names the currency of inferwatch's cost metrics.",
};
