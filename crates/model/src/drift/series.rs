//! [`Series`]: one feature of one model: the sliding window (a ring of sub-windows of bin counters), the warm-up
//! that becomes its baseline, and the baseline.
//!
//! The request path only increments counters: no lock, no allocation. Everything else (learning edges, freezing
//! the baseline, rotating the ring, reading counts) happens on the drift monitor's background evaluation.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::feature::{Edges, Feature, Kind, numeric_bin, quantile_edges};

/// Sub-windows in the ring.
pub(crate) const SLOTS: usize = 12;
/// Values a learned feature's warm-up keeps to learn its edges from, at most.
pub(crate) const QUANTILE_SAMPLE: usize = 65_536;

pub(crate) use inferwatch_core::observe::FeatureValue as Value;

/// When a warm-up ends and becomes the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warmup {
    /// After this many observations of the series (feature and model).
    Observations(u64),
    /// This long after the series' first observation.
    Duration(Duration),
}

/// Where a baseline came from: the `source` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    WarmUp,
    File,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::WarmUp => "warm-up",
            Source::File => "file",
        }
    }
}

/// A frozen baseline.
#[derive(Clone, Debug)]
pub(crate) struct Reference {
    pub(crate) counts: Vec<u64>,
    pub(crate) source: Source,
}

pub(crate) struct Series {
    pub(crate) feature: Feature,
    capacity: usize,
    /// Numeric edges: given, loaded with a baseline, or learned when the warm-up ends.
    edges: OnceLock<Box<[f64]>>,
    /// `SLOTS × capacity` counters.
    window: Box<[AtomicU64]>,
    warm_seen: AtomicU64,
    warm_counts: Box<[AtomicU64]>,
    /// f64 bits of the first values of a learned feature.
    warm_values: Box<[AtomicU64]>,
    frozen: AtomicBool,
    started: Instant,
    baseline: Mutex<Option<Reference>>,
}

impl Series {
    pub(crate) fn new(feature: Feature, warmup: Warmup) -> Self {
        let capacity = feature.capacity();
        let learned = matches!(feature.kind, Kind::Numeric(Edges::Quantiles(_)));
        let sample = match warmup {
            Warmup::Observations(n) => usize::try_from(n).unwrap_or(usize::MAX).min(QUANTILE_SAMPLE),
            Warmup::Duration(_) => QUANTILE_SAMPLE,
        };
        let edges = OnceLock::new();
        if let Kind::Numeric(Edges::Fixed(fixed)) = &feature.kind {
            let _ = edges.set(fixed.clone().into_boxed_slice());
        }
        Self {
            capacity,
            edges,
            window: (0..SLOTS * capacity).map(|_| AtomicU64::new(0)).collect(),
            warm_seen: AtomicU64::new(0),
            warm_counts: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            warm_values: (0..if learned { sample } else { 0 })
                .map(|_| AtomicU64::new(0))
                .collect(),
            frozen: AtomicBool::new(false),
            started: Instant::now(),
            baseline: Mutex::new(None),
            feature,
        }
    }

    /// A series with a baseline from a file: no warm-up. `edges` replace learned ones.
    pub(crate) fn with_baseline(self, edges: Option<Vec<f64>>, counts: Vec<u64>) -> Self {
        if let Some(edges) = edges {
            let _ = self.edges.set(edges.into_boxed_slice());
        }
        self.freeze(Reference {
            counts,
            source: Source::File,
        });
        self
    }

    fn freeze(&self, reference: Reference) {
        *self.baseline.lock().unwrap_or_else(PoisonError::into_inner) = Some(reference);
        self.frozen.store(true, Ordering::Release);
    }

    /// Records one observation into sub-window `slot`: a few relaxed atomic operations.
    pub(crate) fn observe(&self, value: Value<'_>, slot: usize) {
        let bin = match (value, &self.feature.kind) {
            (Value::Number(v), _) if v.is_nan() => return,
            (Value::Number(v), Kind::Numeric(_)) => self.edges.get().map(|edges| numeric_bin(edges, v)),
            (Value::Category(c), Kind::Categorical(_)) => self.feature.category_bin(c),
            // A number for a categorical feature is the handler's mistake: `_OTHER`. A category for a numeric one
            // has no bin.
            (_, Kind::Categorical(_)) => Some(self.capacity - 1),
            (_, Kind::Numeric(_)) => return,
        };
        if !self.frozen.load(Ordering::Relaxed) {
            let n = usize::try_from(self.warm_seen.fetch_add(1, Ordering::Relaxed)).unwrap_or(usize::MAX);
            match (value, self.warm_values.get(n)) {
                (Value::Number(v), Some(cell)) => cell.store(v.to_bits(), Ordering::Relaxed),
                _ => {
                    if let Some(bin) = bin {
                        self.warm_counts[bin].fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if let Some(bin) = bin {
            self.window[slot * self.capacity + bin].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Ends the warm-up when it is due: learns the edges of a learned feature from its values, and freezes the
    /// counts as the baseline.
    pub(crate) fn end_warmup_if_due(&self, warmup: Warmup) {
        if self.frozen.load(Ordering::Acquire) {
            return;
        }
        let seen = self.warm_seen.load(Ordering::Relaxed);
        let due = match warmup {
            Warmup::Observations(n) => seen >= n,
            Warmup::Duration(d) => seen > 0 && self.started.elapsed() >= d,
        };
        if !due {
            return;
        }
        let counts = match (&self.feature.kind, self.warm_values.is_empty()) {
            (Kind::Numeric(Edges::Quantiles(bins)), false) => {
                let taken = usize::try_from(seen).unwrap_or(usize::MAX).min(self.warm_values.len());
                let mut values: Vec<f64> = self.warm_values[..taken]
                    .iter()
                    .map(|cell| f64::from_bits(cell.load(Ordering::Relaxed)))
                    .filter(|v| v.is_finite())
                    .collect();
                let edges = quantile_edges(&mut values, *bins);
                let mut counts = vec![0u64; self.capacity];
                for v in &values {
                    counts[numeric_bin(&edges, *v)] += 1;
                }
                let _ = self.edges.set(edges.into_boxed_slice());
                counts
            }
            _ => self.warm_counts.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
        };
        self.freeze(Reference {
            counts,
            source: Source::WarmUp,
        });
    }

    /// Bins in use: all of them, or a learned feature's edges plus one.
    pub(crate) fn bins(&self) -> usize {
        match (&self.feature.kind, self.edges.get()) {
            (Kind::Numeric(_), Some(edges)) => edges.len() + 1,
            (Kind::Numeric(_), None) => 0,
            (Kind::Categorical(_), _) => self.capacity,
        }
    }

    pub(crate) fn edges(&self) -> Option<&[f64]> {
        self.edges.get().map(|e| &e[..])
    }

    /// The window's counts per bin, over every sub-window.
    pub(crate) fn window_counts(&self) -> Vec<u64> {
        let bins = self.bins();
        (0..bins)
            .map(|bin| {
                (0..SLOTS)
                    .map(|slot| self.window[slot * self.capacity + bin].load(Ordering::Relaxed))
                    .sum()
            })
            .collect()
    }

    /// Empties sub-window `slot` before it is reused.
    pub(crate) fn clear_slot(&self, slot: usize) {
        for cell in &self.window[slot * self.capacity..(slot + 1) * self.capacity] {
            cell.store(0, Ordering::Relaxed);
        }
    }

    /// The baseline's counts (as many as the bins in use), once there is one.
    pub(crate) fn baseline(&self) -> Option<Reference> {
        let mut reference = self.baseline.lock().unwrap_or_else(PoisonError::into_inner).clone()?;
        reference.counts.resize(self.bins(), 0);
        Some(reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_learns_edges_then_the_window_counts() {
        let series = Series::new(Feature::numeric_quantiles("norm", 4), Warmup::Observations(100));
        for v in 1..=100 {
            series.observe(Value::Number(f64::from(v)), 0);
        }
        // No edges yet: nothing binned in the window.
        assert_eq!(series.window_counts(), Vec::<u64>::new());
        series.end_warmup_if_due(Warmup::Observations(100));
        assert_eq!(series.edges(), Some(&[26.0, 51.0, 76.0, 100.0][..]));
        assert_eq!(series.baseline().expect("baseline").counts, vec![26, 25, 25, 24, 0]);
        series.observe(Value::Number(10.0), 3);
        series.observe(Value::Number(1000.0), 5);
        series.observe(Value::Number(f64::NAN), 5);
        assert_eq!(series.window_counts(), vec![1, 0, 0, 0, 1]);
        series.clear_slot(3);
        assert_eq!(series.window_counts(), vec![0, 0, 0, 0, 1]);
    }

    #[test]
    fn categories_beyond_the_declared_are_other() {
        let series = Series::new(Feature::categorical("language", ["en", "fr"]), Warmup::Observations(3));
        for c in ["en", "fr", "tlh"] {
            series.observe(Value::Category(c), 1);
        }
        series.end_warmup_if_due(Warmup::Observations(3));
        let baseline = series.baseline().expect("baseline");
        assert_eq!((baseline.counts, baseline.source), (vec![1, 1, 1], Source::WarmUp));
        series.observe(Value::Category("de"), 1);
        assert_eq!(series.window_counts(), vec![1, 1, 2]);
    }
}
