//! Histograms with bucket bounds, counted into their buckets as samples are recorded.
//!
//! metrics-exporter-prometheus keeps each histogram sample, with a timestamp, until a scrape or its upkeep sorts it
//! into buckets: an allocation now and then, a clock read and a lock-free push per sample. A request records six
//! histogram samples, so this was a sixth of the metrics' cost on the request path. Counting a sample into a fixed
//! bucket is a search over the bounds and two updates of the recording thread's own cells, and what a scrape renders
//! is the same exposition.

use std::collections::HashMap;
use std::sync::Arc;

use metrics::{Histogram, HistogramFn, Key};
use metrics_exporter_prometheus::LabelSet;
use metrics_exporter_prometheus::formatting::write_metric_line;

use super::cells::ThreadCells;
use super::registry::SeriesMap;

/// One histogram series: per thread, a count per bucket (the last one above every bound) and the sum of the
/// samples' `f64` bits.
#[derive(Debug)]
pub(super) struct Buckets {
    bounds: Arc<[f64]>,
    cells: ThreadCells,
}

impl Buckets {
    fn new(bounds: Arc<[f64]>) -> Self {
        let cells = ThreadCells::new(bounds.len() + 2);
        Self { bounds, cells }
    }

    fn sum_cell(&self) -> usize {
        self.bounds.len() + 1
    }

    fn add(&self, value: f64, times: u64) {
        // A NaN has no bucket, and would turn the sum into NaN for good.
        if value.is_nan() {
            return;
        }
        let bucket = bucket_of(&self.bounds, value);
        let mine = self.cells.mine();
        mine.add(bucket, times);
        mine.add_f64(self.sum_cell(), value * times as f64);
    }

    /// Cumulative counts, one per bound then the total, and the sum; each thread's row read once, so that the
    /// counts agree with each other.
    fn cumulative(&self) -> (Vec<u64>, f64) {
        let mut counts = vec![0u64; self.sum_cell()];
        let mut sum = 0.0;
        for row in self.cells.rows() {
            for (i, count) in counts.iter_mut().enumerate() {
                *count = count.saturating_add(row.get(i));
            }
            sum += row.get_f64(self.sum_cell());
        }
        let mut total = 0u64;
        for count in &mut counts {
            total = total.saturating_add(*count);
            *count = total;
        }
        (counts, sum)
    }
}

/// The `le` bucket of `value`: the index of the first bound at or above it, as `bounds.len()` when above them all.
fn bucket_of(bounds: &[f64], value: f64) -> usize {
    // Counting the bounds below the value reads them all at once, where a binary search waits for each read before
    // the next: over HTTP the bounds are out of the cache by the next request, and the search's chain of misses was
    // most of a sample's time. Past a few cache lines of bounds, the search reads less.
    if bounds.len() <= 32 {
        bounds.iter().filter(|bound| **bound < value).count()
    } else {
        bounds.partition_point(|bound| *bound < value)
    }
}

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        self.add(value, 1);
    }

    fn record_many(&self, value: f64, count: usize) {
        self.add(value, count as u64);
    }
}

/// Bucket bounds by metric name: sorted, NaNs dropped; a name left without bounds is not bucketed here.
#[derive(Debug, Default)]
pub(super) struct Bounds(HashMap<String, Arc<[f64]>>);

impl Bounds {
    pub(super) fn new<'a>(bounds: impl IntoIterator<Item = (&'a String, &'a Vec<f64>)>) -> Self {
        let bounds = bounds
            .into_iter()
            .filter_map(|(name, bounds)| {
                let mut bounds: Vec<f64> = bounds.iter().copied().filter(|b| !b.is_nan()).collect();
                bounds.sort_by(f64::total_cmp);
                bounds.dedup();
                (!bounds.is_empty()).then(|| (name.clone(), Arc::from(bounds)))
            })
            .collect();
        Self(bounds)
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The series of `key` in `series`, when its metric has bounds.
    pub(super) fn histogram(&self, series: &SeriesMap<Buckets>, key: &Key) -> Option<Histogram> {
        let bounds = self.0.get(key.name())?;
        Some(Histogram::from_arc(
            series.get_or_insert(key, || Buckets::new(bounds.clone())),
        ))
    }
}

/// Appends one histogram series to `text`: its cumulative buckets, sum and count.
pub(super) fn write_series(text: &mut String, name: &str, labels: &LabelSet, buckets: &Buckets) {
    let (cumulative, sum) = buckets.cumulative();
    let total = cumulative.last().copied().unwrap_or(0);
    for (bound, count) in buckets.bounds.iter().zip(&cumulative) {
        write_metric_line(text, name, Some("bucket"), labels, Some(("le", bound)), count, None);
    }
    write_metric_line(text, name, Some("bucket"), labels, Some(("le", "+Inf")), total, None);
    write_metric_line::<&str, f64>(text, name, Some("sum"), labels, None, sum, None);
    write_metric_line::<&str, u64>(text, name, Some("count"), labels, None, total, None);
}

#[cfg(test)]
mod tests {
    use super::bucket_of;

    use proptest::num::f64::{INFINITE, NEGATIVE, POSITIVE, ZERO};

    proptest::proptest! {
        /// Counting and searching agree on sorted bounds, at both sizes and for values on, between and beyond them,
        /// infinities and zeros of either sign included (a flag alone would give only the positive one).
        #[test]
        fn bucket_is_the_first_bound_at_or_above(
            mut bounds in proptest::collection::vec(-1e3f64..1e3, 0..80),
            value in proptest::prop_oneof![-2e3f64..2e3, INFINITE | POSITIVE | NEGATIVE, ZERO | POSITIVE | NEGATIVE],
            on_a_bound in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            bounds.sort_by(f64::total_cmp);
            bounds.dedup();
            let values = [value, if bounds.is_empty() { value } else { bounds[on_a_bound.index(bounds.len())] }];
            for value in values {
                let expected = bounds.iter().position(|bound| *bound >= value).unwrap_or(bounds.len());
                proptest::prop_assert_eq!(bucket_of(&bounds, value), expected);
            }
        }
    }
}
