//! [`Drift`]: the monitor. Requests record into its series; a background thread slides the window, ends
//! warm-ups and sets the statistics' gauges.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::baseline::{Baseline, SeriesBaseline};
use super::feature::{DriftError, Feature, Kind};
use super::series::{SLOTS, Series, Value, Warmup};
use super::stats;
use inferwatch_core::SharedRecorder;
use inferwatch_core::contract::{self as c, OTHER};

/// The undeclared feature names' pseudo-feature: counted (`inferwatch_drift_window_observations{feature="_OTHER"}`),
/// never compared.
const UNDECLARED: u16 = u16::MAX;

/// Configures a [`Drift`] monitor.
#[derive(Debug)]
pub struct DriftBuilder {
    features: Vec<Feature>,
    warmup: Warmup,
    window: Duration,
    interval: Duration,
    baseline: Option<Baseline>,
    recorder: SharedRecorder,
}

impl Default for DriftBuilder {
    fn default() -> Self {
        Self {
            features: Feature::builtins().into(),
            warmup: Warmup::Observations(1_000),
            window: Duration::from_secs(3_600),
            interval: Duration::from_secs(10),
            baseline: None,
            recorder: SharedRecorder::global(),
        }
    }
}

impl DriftBuilder {
    /// Watches `feature` too (observed with `RequestHandle::record_feature` / `record_category`).
    pub fn feature(mut self, feature: Feature) -> Self {
        self.features.push(feature);
        self
    }

    /// When a series' warm-up becomes its baseline (default: after 1,000 observations). Series with a baseline
    /// from a file have no warm-up.
    pub fn warmup(mut self, warmup: Warmup) -> Self {
        self.warmup = warmup;
        self
    }

    /// The sliding window compared with the baseline (default 1 hour, in 12 sub-windows; at least 12 s).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.max(Duration::from_secs(12));
        self
    }

    /// How often the statistics are computed in the background (default 10 s; at least 10 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Baselines to judge against instead of a warm-up, for the series they name.
    pub fn baseline(mut self, baseline: Baseline) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Where the statistics are recorded (default: the global `metrics` recorder).
    pub fn recorder(mut self, recorder: SharedRecorder) -> Self {
        self.recorder = recorder;
        self
    }

    /// Checks the features and the baseline, and starts the background evaluation.
    pub fn build(self) -> Result<Drift, DriftError> {
        let mut names: Vec<&str> = Vec::new();
        for feature in &self.features {
            feature.check()?;
            if names.contains(&feature.name()) {
                return Err(DriftError::Name(feature.name.clone()));
            }
            names.push(feature.name());
        }
        if let Some(baseline) = &self.baseline {
            baseline.check()?;
        }
        let mut loaded = HashMap::new();
        for s in self.baseline.iter().flat_map(Baseline::series) {
            let feature = self
                .features
                .iter()
                .find(|f| f.name == s.feature)
                .ok_or_else(|| DriftError::Baseline(format!("feature {} is not declared", s.feature)))?;
            let counts = fit(feature, s)?;
            loaded.insert((s.feature.clone(), s.model.clone()), (s.edges.clone(), counts));
        }
        let inner = Arc::new(Inner {
            features: self.features,
            warmup: self.warmup,
            slot_length: self.window / SLOTS as u32,
            current: AtomicUsize::new(0),
            rotated: Mutex::new(Instant::now()),
            series: Mutex::new(Vec::new()),
            lookup: inferwatch_core::observe::HandleCache::default(),
            loaded,
            recorder: self.recorder,
        });
        spawn(Arc::downgrade(&inner), self.interval);
        Ok(Drift { inner })
    }
}

/// A loaded series' counts in the declared feature's bins.
fn fit(feature: &Feature, s: &SeriesBaseline) -> Result<Vec<u64>, DriftError> {
    match &feature.kind {
        Kind::Categorical(_) => {
            if s.categories.is_empty() {
                return Err(DriftError::Baseline(format!("{} is categorical", s.feature)));
            }
            let mut counts = vec![0u64; feature.capacity()];
            for (category, count) in s.categories.iter().zip(&s.counts) {
                let bin = feature.category_bin(category).unwrap_or(counts.len() - 1);
                counts[bin] = counts[bin].saturating_add(*count);
            }
            Ok(counts)
        }
        Kind::Numeric(super::feature::Edges::Quantiles(_)) if s.edges.is_empty() && s.categories.is_empty() => {
            Err(DriftError::Baseline(format!(
                "{} of {}: no edge, so every value would fall in one bin",
                s.feature, s.model
            )))
        }
        Kind::Numeric(edges) => {
            let fits = match edges {
                super::feature::Edges::Fixed(fixed) => *fixed == s.edges,
                super::feature::Edges::Quantiles(_) => s.counts.len() <= feature.capacity(),
            };
            if !s.categories.is_empty() || !fits {
                return Err(DriftError::Baseline(format!(
                    "{}: bins differ from the declaration",
                    s.feature
                )));
            }
            Ok(s.counts.clone())
        }
    }
}

fn spawn(inner: Weak<Inner>, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("inferwatch-drift".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                let Some(inner) = inner.upgrade() else { return };
                inner.evaluate();
            }
        });
    if spawned.is_err() {
        tracing::warn!(target: c::LOG_TARGET, "could not start the drift monitor's thread: call Drift::evaluate");
    }
}

/// Watches the distributions of inference traffic per model: the built-in features (input and output tokens,
/// finish reason) and the declared ones, each against a baseline (a warm-up, or a file). An observer: add it to
/// the layer with `InferenceLayer::builder().with(drift.clone())`; cheap to clone. One per layer: it keeps each
/// model's distributions under the layer's label id for the model, which another layer numbers differently.
#[derive(Clone)]
pub struct Drift {
    inner: Arc<Inner>,
}

impl fmt::Debug for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let features: Vec<&str> = self.inner.features.iter().map(Feature::name).collect();
        f.debug_struct("Drift")
            .field("features", &features)
            .finish_non_exhaustive()
    }
}

struct Listed {
    feature: u16,
    model: Arc<str>,
    series: Arc<Series>,
}

struct Inner {
    features: Vec<Feature>,
    warmup: Warmup,
    slot_length: Duration,
    current: AtomicUsize,
    rotated: Mutex<Instant>,
    series: Mutex<Vec<Listed>>,
    lookup: inferwatch_core::observe::HandleCache<(u16, u32), Arc<Series>>,
    loaded: HashMap<(String, String), (Vec<f64>, Vec<u64>)>,
    recorder: SharedRecorder,
}

impl Drift {
    /// A builder with the built-in features, a warm-up of 1,000 observations and a one-hour window.
    pub fn builder() -> DriftBuilder {
        DriftBuilder::default()
    }

    /// Records an observation of `feature` for `model` (a bounded label and its id): a lookup and a few atomic
    /// increments, no lock, no allocation once the series exists.
    pub(crate) fn observe(&self, model: (u32, &str), feature: &str, value: Value<'_>) {
        let inner = &*self.inner;
        let index = inner
            .features
            .iter()
            .position(|f| f.name == feature)
            .and_then(|i| u16::try_from(i).ok())
            .unwrap_or(UNDECLARED);
        let slot = inner.current.load(Ordering::Relaxed);
        inner.lookup.with(
            (index, model.0),
            || inner.series_for(index, model.1),
            |s| s.observe(value, slot),
        );
    }

    /// The built-in features of a finished inference request.
    pub(crate) fn record_finish(&self, model: (u32, &str), s: &inferwatch_core::observe::RequestSummary<'_>) {
        let usage = s.usage;
        if usage.input_tokens > 0 {
            self.observe(model, super::INPUT_TOKENS, Value::Number(usage.input_tokens as f64));
        }
        if usage.output_tokens > 0 {
            self.observe(model, super::OUTPUT_TOKENS, Value::Number(usage.output_tokens as f64));
        }
        let reason = match (s.finish_reason, s.outcome) {
            (Some(reason), _) => Some(reason.as_str()),
            (None, inferwatch_core::classify::Outcome::Cancelled) => Some("cancelled"),
            (None, _) => None,
        };
        if let Some(reason) = reason {
            self.observe(model, super::FINISH_REASON, Value::Category(reason));
        }
    }

    /// Runs one evaluation now (the background thread runs one every interval): slides the window when a
    /// sub-window is over, ends due warm-ups, and sets the gauges.
    pub fn evaluate(&self) {
        self.inner.evaluate();
    }

    /// The current window of every series as a baseline document: capture a known-good period and ship it.
    pub fn window_as_baseline(&self) -> Baseline {
        let listed = self.inner.series.lock().unwrap_or_else(PoisonError::into_inner);
        let series = listed
            .iter()
            .filter(|l| l.feature != UNDECLARED && l.series.bins() > 0)
            .map(|l| SeriesBaseline {
                feature: l.series.feature.name.clone(),
                model: l.model.to_string(),
                edges: l.series.edges().map(<[f64]>::to_vec).unwrap_or_default(),
                categories: l.series.feature.bin_names(),
                counts: l.series.window_counts(),
            })
            // A series with nothing in the window is no reference (and a document with one would not load).
            .filter(|s| s.counts.iter().any(|&c| c > 0))
            .collect();
        Baseline::new(series)
    }
}

impl Inner {
    /// The series of (`feature`, `model`), created once (with its loaded baseline, if any).
    fn series_for(&self, feature: u16, model: &str) -> Arc<Series> {
        let mut listed = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = listed.iter().find(|l| l.feature == feature && &*l.model == model) {
            return l.series.clone();
        }
        let declared = self.features.get(usize::from(feature)).cloned();
        let series = match declared {
            Some(f) => {
                let key = (f.name.clone(), model.to_owned());
                let series = Series::new(f, self.warmup);
                match self.loaded.get(&key) {
                    Some((edges, counts)) => {
                        let edges = (series.feature.is_numeric()).then(|| edges.clone());
                        series.with_baseline(edges, counts.clone())
                    }
                    None => series,
                }
            }
            // Undeclared names share one series that is counted, never compared.
            None => Series::new(
                Feature::categorical(OTHER, Vec::<String>::new()),
                Warmup::Observations(u64::MAX),
            ),
        };
        let series = Arc::new(series);
        listed.push(Listed {
            feature,
            model: model.into(),
            series: series.clone(),
        });
        series
    }

    fn evaluate(&self) {
        let listed: Vec<(u16, Arc<str>, Arc<Series>)> = self
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|l| (l.feature, l.model.clone(), l.series.clone()))
            .collect();
        {
            let mut rotated = self.rotated.lock().unwrap_or_else(PoisonError::into_inner);
            // Slide by as many sub-windows as have ended (all of them, at most, after a long pause).
            let mut due = (rotated.elapsed().as_nanos() / self.slot_length.as_nanos().max(1)).min(SLOTS as u128);
            while due > 0 {
                let next = (self.current.load(Ordering::Relaxed) + 1) % SLOTS;
                for (_, _, series) in &listed {
                    series.clear_slot(next);
                }
                self.current.store(next, Ordering::Relaxed);
                *rotated += self.slot_length;
                due -= 1;
            }
            if rotated.elapsed() > self.slot_length * SLOTS as u32 {
                *rotated = Instant::now();
            }
        }
        let r = &self.recorder;
        for (feature, model, series) in &listed {
            let name = if *feature == UNDECLARED {
                OTHER
            } else {
                series.feature.name()
            };
            let labels = [name, &**model];
            if *feature != UNDECLARED {
                series.end_warmup_if_due(self.warmup);
            }
            let window = series.window_counts();
            r.gauge(c::Metric::DriftWindowObservations.def(), &labels)
                .set(window.iter().sum::<u64>() as f64);
            let Some(baseline) = series.baseline() else { continue };
            r.gauge(
                c::Metric::DriftBaselineInfo.def(),
                &[name, &**model, baseline.source.as_str()],
            )
            .set(1.0);
            let nan = f64::NAN;
            r.gauge(c::Metric::DriftPsi.def(), &labels)
                .set(stats::psi(&baseline.counts, &window).unwrap_or(nan));
            if series.feature.is_numeric() {
                r.gauge(c::Metric::DriftKsStatistic.def(), &labels)
                    .set(stats::ks(&baseline.counts, &window).unwrap_or(nan));
            } else {
                r.gauge(c::Metric::DriftChiSquarePValue.def(), &labels)
                    .set(stats::chi_square_p_value(&baseline.counts, &window).unwrap_or(nan));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_and_forgets() {
        let drift = Drift::builder()
            .feature(Feature::categorical("language", ["en"]))
            .recorder(SharedRecorder::new(metrics::NoopRecorder))
            .build()
            .expect("drift");
        drift.observe((0, "toy"), "language", Value::Category("en"));
        drift.evaluate();
        let counts = |d: &Drift| d.window_as_baseline().series()[0].counts.clone();
        assert_eq!(counts(&drift), vec![1, 0]);
        // Half the window later: still there. A whole window later: gone.
        let half = drift.inner.slot_length * (SLOTS as u32 / 2);
        *drift.inner.rotated.lock().unwrap_or_else(PoisonError::into_inner) -= half;
        drift.evaluate();
        assert_eq!(counts(&drift), vec![1, 0]);
        drift.observe((0, "toy"), "language", Value::Category("fr"));
        *drift.inner.rotated.lock().unwrap_or_else(PoisonError::into_inner) -= half;
        drift.evaluate();
        assert_eq!(
            counts(&drift),
            vec![0, 1],
            "the first observation slid out, the second is in"
        );
    }
}
