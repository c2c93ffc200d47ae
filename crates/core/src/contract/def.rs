//! [`MetricDef`]: how one metric of the contract is described (name, type, unit, labels, buckets, meaning).

use metrics::Unit;

/// What kind of instrument a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution, rendered with the metric's buckets.
    Histogram,
}

impl MetricKind {
    /// The Prometheus type name.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric of the contract.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    /// The Prometheus name, exactly as exposed.
    pub name: &'static str,
    /// The OpenTelemetry name it translates from, where one exists.
    pub otel_name: Option<&'static str>,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The unit, in UCUM as OpenTelemetry writes it (`s`, `{token}`, `{request}`, `1`).
    pub unit: &'static str,
    /// The label names, in the order inferwatch sets them.
    pub labels: &'static [&'static str],
    /// Default bucket upper bounds (histograms only).
    pub buckets: &'static [f64],
    /// The HELP text.
    pub description: &'static str,
}

impl MetricDef {
    pub(super) fn metrics_unit(&self) -> Option<Unit> {
        match self.unit {
            "s" => Some(Unit::Seconds),
            "By" => Some(Unit::Bytes),
            "1" => None,
            _ => Some(Unit::Count),
        }
    }
}
