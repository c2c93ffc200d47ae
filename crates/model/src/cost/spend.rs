//! [`ModelSpend`]: one model's spend, as an exact total and a histogram of each request's cost, recorded with
//! three relaxed atomic additions and rendered by the exporter.
//!
//! The request-cost histogram is kept here rather than in the `metrics` recorder: its sum is the model's exact
//! total (`inferwatch_cost_total` and `inferwatch_request_cost_sum` are the same number), and a recorder's histogram
//! costs several times more per observation than a bucket counter.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::money::{Money, decimal};
use inferwatch_core::contract as c;

/// The contract's request-cost bucket bounds in picounits: 10⁻⁶ of the currency, × 4 each (a test checks them
/// against the contract).
const BOUNDS: [u64; 12] = {
    let mut bounds = [1_000_000u64; 12];
    let mut i = 1;
    while i < bounds.len() {
        bounds[i] = bounds[i - 1] * 4;
        i += 1;
    }
    bounds
};

/// Requests per cost bucket (the last one above every bound), and their exact total: one allocation, so that an
/// observation touches two cache lines at most.
#[derive(Debug, Default)]
pub(crate) struct ModelSpend {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    total: Money,
}

impl ModelSpend {
    /// One request that cost `picos`.
    pub(crate) fn record(&self, picos: u128) {
        let clamped = u64::try_from(picos).unwrap_or(u64::MAX);
        let bucket = BOUNDS.partition_point(|&bound| bound < clamped);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.total.add(picos);
    }

    pub(crate) fn total(&self) -> &Money {
        &self.total
    }

    /// The histogram's lines for the series labelled `labels` (already rendered, without braces).
    pub(crate) fn render_histogram(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        let les = c::Metric::RequestCost
            .def()
            .buckets
            .iter()
            .map(|b| b.to_string())
            .chain(["+Inf".to_owned()]);
        for (bucket, le) in self.buckets.iter().zip(les) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", decimal(self.total.picos()));
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::money::PICOS_PER_UNIT;

    #[test]
    fn bounds_are_the_contracts() {
        let contract: Vec<u64> = c::Metric::RequestCost
            .def()
            .buckets
            .iter()
            .map(|b| (b * PICOS_PER_UNIT as f64).round() as u64)
            .collect();
        assert_eq!(BOUNDS.to_vec(), contract);
    }

    #[test]
    fn buckets_are_inclusive_upper_bounds() {
        let spend = ModelSpend::default();
        spend.record(1_000_000); // exactly 1e-6: the first bucket
        spend.record(1_000_001);
        spend.record(5 * PICOS_PER_UNIT); // above every bound
        spend.record(0);
        let mut out = String::new();
        spend.render_histogram(&mut out, "cost", "m=\"a\"");
        assert!(
            out.starts_with("cost_bucket{m=\"a\",le=\"0.000001\"} 2\ncost_bucket{m=\"a\",le=\"0.000004\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("cost_bucket{m=\"a\",le=\"4.194304\"} 3\ncost_bucket{m=\"a\",le=\"+Inf\"} 4\n"),
            "{out}"
        );
        assert!(
            out.ends_with("cost_sum{m=\"a\"} 5.000002000001\ncost_count{m=\"a\"} 4\n"),
            "{out}"
        );
    }
}
