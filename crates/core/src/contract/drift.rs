//! Drift of the inputs and outputs against their baseline, per feature and model: computed by the drift monitor's
//! background evaluation over its sliding window (see `inferwatch_model::drift`).

use super::def::{MetricDef, MetricKind};
use super::label;

/// Population Stability Index of the window against the baseline.
pub(crate) const DRIFT_PSI: MetricDef = MetricDef {
    name: "inferwatch_drift_psi",
    otel_name: Some("inferwatch.drift.psi"),
    kind: MetricKind::Gauge,
    unit: "1",
    labels: &[label::FEATURE, label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "Population Stability Index of the feature's window against its baseline (0.1 shifting, 0.25 drifted; NaN without data).",
};

/// Kolmogorov–Smirnov statistic of the binned distributions.
pub(crate) const DRIFT_KS_STATISTIC: MetricDef = MetricDef {
    name: "inferwatch_drift_ks_statistic",
    otel_name: Some("inferwatch.drift.ks_statistic"),
    kind: MetricKind::Gauge,
    unit: "1",
    labels: &[label::FEATURE, label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "Largest distance between the window's and the baseline's cumulative distributions at the bin edges (numeric features).",
};

/// Chi-square test p-value.
pub(crate) const DRIFT_CHI_SQUARE_P_VALUE: MetricDef = MetricDef {
    name: "inferwatch_drift_chi_square_p_value",
    otel_name: Some("inferwatch.drift.chi_square.p_value"),
    kind: MetricKind::Gauge,
    unit: "1",
    labels: &[label::FEATURE, label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "p-value of Pearson's chi-square test of the window's counts against the baseline's shares (categorical features).",
};

/// Observations in the window.
pub(crate) const DRIFT_WINDOW_OBSERVATIONS: MetricDef = MetricDef {
    name: "inferwatch_drift_window_observations",
    otel_name: Some("inferwatch.drift.window.observations"),
    kind: MetricKind::Gauge,
    unit: "{observation}",
    labels: &[label::FEATURE, label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "Observations of the feature in the sliding window (feature _OTHER: observations of undeclared features).",
};

/// Where a baseline came from.
pub(crate) const DRIFT_BASELINE_INFO: MetricDef = MetricDef {
    name: "inferwatch_drift_baseline_info",
    otel_name: None,
    kind: MetricKind::Gauge,
    unit: "1",
    labels: &[label::FEATURE, label::GEN_AI_REQUEST_MODEL, label::SOURCE],
    buckets: &[],
    description: "1 once the feature has a baseline; source is warm-up or file.",
};
