//! [`BucketedRecorder`]: histograms with bucket bounds are counted into their buckets as they are recorded; every
//! other series goes to `metrics-exporter-prometheus`' recorder.
//!
//! That recorder keeps each histogram sample, with a timestamp, until a scrape or its upkeep sorts it into buckets:
//! an allocation now and then, a clock read and a lock-free push per sample. A request records six histogram
//! samples, so this was a sixth of the metrics' cost on the request path. Counting a sample into a fixed bucket
//! is a search over the bounds and two updates of cells that only the recording thread writes (no locked
//! instruction, no cache line shared between the server's threads), and what a scrape renders is the same
//! exposition.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use indexmap::IndexMap;
use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::formatting::{
    sanitize_metric_name, write_help_line, write_metric_line, write_type_line,
};
use metrics_exporter_prometheus::{LabelSet, PrometheusRecorder};
use thread_local::ThreadLocal;

/// One histogram series: a count per bucket (the last one above every bound) and the sum of the samples, kept per
/// thread.
#[derive(Debug)]
struct Buckets {
    bounds: Arc<[f64]>,
    rows: ThreadLocal<Row>,
}

impl Buckets {
    fn new(bounds: Arc<[f64]>) -> Self {
        Self {
            bounds,
            rows: ThreadLocal::new(),
        }
    }

    fn add(&self, value: f64, times: u64) {
        // A NaN has no bucket, and would turn the sum into NaN for good.
        if value.is_nan() {
            return;
        }
        // `le` buckets: the first bound at or above the value.
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        let row = self.rows.get_or(|| Row::new(self.bounds.len() + 2));
        row.add(bucket, times);
        row.add_to_sum(self.bounds.len() + 1, value * times as f64);
    }

    /// Cumulative counts over every thread's row, one per bound then the total, and the sum; read once so that
    /// the counts agree with each other.
    fn cumulative(&self) -> (Vec<u64>, f64) {
        let sum_cell = self.bounds.len() + 1;
        let mut counts = vec![0u64; sum_cell];
        let mut sum = 0.0;
        for row in self.rows.iter() {
            for (i, count) in counts.iter_mut().enumerate() {
                *count = count.saturating_add(row.get(i));
            }
            sum += f64::from_bits(row.get(sum_cell));
        }
        let mut total = 0u64;
        for count in &mut counts {
            total = total.saturating_add(*count);
            *count = total;
        }
        (counts, sum)
    }
}

/// One thread's counts, and the `f64` bits of its sum in the last cell. Only that thread writes them (a
/// `ThreadLocal` hands a thread's row to another only after the first has exited), so an update is a load and a
/// store, without the locked instruction a shared counter needs; and the rows of threads recording into one
/// series sit on cache lines of their own, which those threads do not take from each other.
#[derive(Debug)]
struct Row {
    lines: Box<[Line]>,
}

/// Cells aligned to a cache line, so that no other row's cells share one.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line([AtomicU64; 8]);

impl Row {
    fn new(cells: usize) -> Self {
        Self {
            lines: (0..cells.div_ceil(8)).map(|_| Line::default()).collect(),
        }
    }

    fn cell(&self, i: usize) -> &AtomicU64 {
        &self.lines[i / 8].0[i % 8]
    }

    fn get(&self, i: usize) -> u64 {
        self.cell(i).load(Ordering::Relaxed)
    }

    /// Only the row's thread calls it.
    fn add(&self, i: usize, n: u64) {
        let cell = self.cell(i);
        cell.store(cell.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// Only the row's thread calls it.
    fn add_to_sum(&self, i: usize, x: f64) {
        let cell = self.cell(i);
        let sum = f64::from_bits(cell.load(Ordering::Relaxed)) + x;
        cell.store(sum.to_bits(), Ordering::Relaxed);
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

/// The bucketed series, their bounds and descriptions; rendered after the inner recorder's exposition.
#[derive(Debug, Default)]
pub(super) struct BucketedHistograms {
    bounds: HashMap<String, Arc<[f64]>>,
    series: RwLock<HashMap<Key, Arc<Buckets>>>,
    /// Sanitized name → HELP text.
    descriptions: RwLock<HashMap<String, SharedString>>,
    global_labels: IndexMap<String, String>,
}

impl BucketedHistograms {
    /// `bounds` by metric name: sorted here, NaNs dropped; a name left without bounds is not bucketed here.
    pub(super) fn new<'a>(
        bounds: impl IntoIterator<Item = (&'a String, &'a Vec<f64>)>,
        global_labels: &[(String, String)],
    ) -> Self {
        let bounds = bounds
            .into_iter()
            .filter_map(|(name, bounds)| {
                let mut bounds: Vec<f64> = bounds.iter().copied().filter(|b| !b.is_nan()).collect();
                bounds.sort_by(f64::total_cmp);
                bounds.dedup();
                (!bounds.is_empty()).then(|| (name.clone(), Arc::from(bounds)))
            })
            .collect();
        Self {
            bounds,
            global_labels: global_labels.iter().cloned().collect(),
            ..Self::default()
        }
    }

    fn histogram(&self, key: &Key) -> Option<Histogram> {
        let bounds = self.bounds.get(key.name())?;
        let known = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        let series = match known {
            Some(series) => series,
            None => self
                .series
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Buckets::new(bounds.clone())))
                .clone(),
        };
        Some(Histogram::from_arc(series))
    }

    fn describe(&self, name: &KeyName, description: SharedString) {
        if self.bounds.contains_key(name.as_str()) {
            self.descriptions
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(sanitize_metric_name(name.as_str()), description);
        }
    }

    /// Appends every bucketed family to `text`, families by name and series by labels, so that the order is stable.
    pub(super) fn render(&self, text: &mut String) {
        let mut families: HashMap<String, Vec<(LabelSet, Arc<Buckets>)>> = HashMap::new();
        for (key, series) in self.series.read().unwrap_or_else(PoisonError::into_inner).iter() {
            let labels = LabelSet::from_key_and_global(key, &self.global_labels);
            families
                .entry(sanitize_metric_name(key.name()))
                .or_default()
                .push((labels, series.clone()));
        }
        let mut names: Vec<&String> = families.keys().collect();
        names.sort();
        let descriptions = self.descriptions.read().unwrap_or_else(PoisonError::into_inner);
        for name in names {
            if let Some(help) = descriptions.get(name) {
                write_help_line(text, name, None, None, help);
            }
            write_type_line(text, name, None, None, "histogram");
            let mut series: Vec<&(LabelSet, Arc<Buckets>)> = families[name].iter().collect();
            series.sort_by_cached_key(|(labels, _)| labels.to_strings().collect::<Vec<_>>());
            for (labels, buckets) in series {
                let (cumulative, sum) = buckets.cumulative();
                let total = cumulative.last().copied().unwrap_or(0);
                for (bound, count) in buckets.bounds.iter().zip(&cumulative) {
                    write_metric_line(text, name, Some("bucket"), labels, Some(("le", bound)), count, None);
                }
                write_metric_line(text, name, Some("bucket"), labels, Some(("le", "+Inf")), total, None);
                write_metric_line::<&str, f64>(text, name, Some("sum"), labels, None, sum, None);
                write_metric_line::<&str, u64>(text, name, Some("count"), labels, None, total, None);
            }
            // As the exporter ends each family.
            text.push('\n');
        }
    }
}

/// The recorder [`PrometheusBuilder`](super::PrometheusBuilder) builds: bucketed histograms here, the rest in
/// `metrics-exporter-prometheus`' recorder.
pub(super) struct BucketedRecorder {
    pub(super) inner: PrometheusRecorder,
    pub(super) histograms: Arc<BucketedHistograms>,
}

impl Recorder for BucketedRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.histograms.describe(&key, description.clone());
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.inner.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.histograms
            .histogram(key)
            .unwrap_or_else(|| self.inner.register_histogram(key, metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histograms(bounds: &[f64]) -> BucketedHistograms {
        let config = [("latency_seconds".to_owned(), bounds.to_vec())];
        BucketedHistograms::new(config.iter().map(|(n, b)| (n, b)), &[("region".into(), "eu".into())])
    }

    #[test]
    fn samples_land_in_le_buckets_and_render_cumulatively() {
        let histograms = histograms(&[1.0, 0.1, 0.5]);
        histograms.describe(&KeyName::from("latency_seconds"), "How long.".into());
        let key = Key::from_parts("latency_seconds", vec![metrics::Label::new("route", "/a")]);
        let histogram = histograms.histogram(&key).unwrap();
        for value in [0.05, 0.1, 0.2, 0.5, 3.0, f64::NAN] {
            histogram.record(value);
        }
        histogram.record_many(0.7, 2);
        let mut text = String::new();
        histograms.render(&mut text);
        assert_eq!(
            text,
            "# HELP latency_seconds How long.\n\
             # TYPE latency_seconds histogram\n\
             latency_seconds_bucket{region=\"eu\",route=\"/a\",le=\"0.1\"} 2\n\
             latency_seconds_bucket{region=\"eu\",route=\"/a\",le=\"0.5\"} 4\n\
             latency_seconds_bucket{region=\"eu\",route=\"/a\",le=\"1\"} 6\n\
             latency_seconds_bucket{region=\"eu\",route=\"/a\",le=\"+Inf\"} 7\n\
             latency_seconds_sum{region=\"eu\",route=\"/a\"} 5.25\n\
             latency_seconds_count{region=\"eu\",route=\"/a\"} 7\n\n"
        );
    }

    /// The same samples, through metrics-exporter-prometheus' own bucketed histogram: the same text.
    #[test]
    fn renders_what_the_exporter_renders_for_the_same_samples() {
        let bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let global = [("region".to_owned(), "eu \"west\"\n".to_owned())];
        let config = [("latency_seconds".to_owned(), bounds.to_vec())];
        let ours = BucketedHistograms::new(config.iter().map(|(n, b)| (n, b)), &global);
        let theirs = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("latency_seconds".into()),
                &bounds,
            )
            .unwrap()
            .add_global_label(&global[0].0, &global[0].1)
            .build_recorder();
        let key = Key::from_parts(
            "latency_seconds",
            vec![
                metrics::Label::new("model", "a\\b"),
                metrics::Label::new("route", "/v1"),
            ],
        );
        static META: Metadata<'static> = Metadata::new("t", metrics::Level::INFO, None);
        let (a, b) = (ours.histogram(&key).unwrap(), theirs.register_histogram(&key, &META));
        for i in 0..500u32 {
            let value = f64::from(i * i % 9973) / 997.0;
            a.record(value);
            b.record(value);
        }
        ours.describe(&"latency_seconds".into(), "Latency, in seconds.".into());
        theirs.describe_histogram("latency_seconds".into(), None, "Latency, in seconds.".into());
        let mut text = String::new();
        ours.render(&mut text);
        assert_eq!(text, theirs.handle().render());
    }

    #[test]
    fn a_key_registered_twice_is_one_series_and_other_names_are_not_taken() {
        let histograms = histograms(&[1.0]);
        let key = Key::from_parts("latency_seconds", vec![metrics::Label::new("route", "/a")]);
        histograms.histogram(&key).unwrap().record(0.5);
        histograms.histogram(&key).unwrap().record(2.0);
        assert!(histograms.histogram(&Key::from_name("other_seconds")).is_none());
        let mut text = String::new();
        histograms.render(&mut text);
        assert!(
            text.contains("latency_seconds_count{region=\"eu\",route=\"/a\"} 2\n"),
            "{text}"
        );
        assert!(!text.contains("# HELP"), "{text}");
    }

    #[test]
    fn samples_from_many_threads_are_all_counted() {
        let histograms = histograms(&[1.0]);
        let histogram = histograms.histogram(&Key::from_name("latency_seconds")).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..10_000).for_each(|_| histogram.record(0.5)));
            }
        });
        let mut text = String::new();
        histograms.render(&mut text);
        assert!(
            text.contains("latency_seconds_bucket{region=\"eu\",le=\"1\"} 40000\n"),
            "{text}"
        );
        assert!(text.contains("latency_seconds_sum{region=\"eu\"} 20000\n"), "{text}");
    }

    /// A thread's row outlives it, and a thread started later may be handed it: nothing recorded is lost.
    #[test]
    fn samples_of_threads_that_exited_stay_counted() {
        let histograms = histograms(&[1.0]);
        let histogram = histograms.histogram(&Key::from_name("latency_seconds")).unwrap();
        for _ in 0..3 {
            let histogram = histogram.clone();
            std::thread::spawn(move || histogram.record_many(0.25, 2))
                .join()
                .unwrap();
        }
        histogram.record(2.0);
        let mut text = String::new();
        histograms.render(&mut text);
        for line in [
            "latency_seconds_bucket{region=\"eu\",le=\"1\"} 6\n",
            "latency_seconds_bucket{region=\"eu\",le=\"+Inf\"} 7\n",
            "latency_seconds_sum{region=\"eu\"} 3.5\n",
            "latency_seconds_count{region=\"eu\"} 7\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn bounds_of_only_nans_bucket_nothing() {
        let histograms = histograms(&[f64::NAN]);
        assert!(histograms.histogram(&Key::from_name("latency_seconds")).is_none());
    }
}
