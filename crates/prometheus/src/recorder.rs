//! [`PerThreadRecorder`]: the recorder [`PrometheusBuilder`](super::PrometheusBuilder) builds. Counters, gauges and
//! histograms with bucket bounds live in per-thread cells ([`cells`](super::cells)) and are rendered here, with
//! metrics-exporter-prometheus' formatting functions; histograms without bounds (summaries) go to that exporter's
//! own recorder.

use std::sync::Arc;

use indexmap::IndexMap;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusRecorder;
use metrics_exporter_prometheus::formatting::write_metric_line;

use super::histograms::{self, Bounds, Buckets};
use super::registry::{Descriptions, SeriesMap};
use super::scalars::{ThreadCounter, ThreadGauge};

/// Every series kept in per-thread cells, and what renders them.
#[derive(Debug)]
pub(super) struct Series {
    bounds: Bounds,
    counters: SeriesMap<ThreadCounter>,
    gauges: SeriesMap<ThreadGauge>,
    histograms: SeriesMap<Buckets>,
    descriptions: Descriptions,
    global_labels: IndexMap<String, String>,
}

impl Series {
    /// `bounds` by metric name (see [`Bounds`]); `global_labels` on every series.
    pub(super) fn new<'a>(
        bounds: impl IntoIterator<Item = (&'a String, &'a Vec<f64>)>,
        global_labels: &[(String, String)],
    ) -> Self {
        Self {
            bounds: Bounds::new(bounds),
            counters: SeriesMap::default(),
            gauges: SeriesMap::default(),
            histograms: SeriesMap::default(),
            descriptions: Descriptions::default(),
            global_labels: global_labels.iter().cloned().collect(),
        }
    }

    /// Appends every family to `text`: counters, gauges, then histograms, each by name, their series by labels.
    pub(super) fn render(&self, text: &mut String) {
        let (labels, help) = (&self.global_labels, &self.descriptions);
        self.counters
            .render(text, "counter", labels, help, |text, name, labels, counter| {
                write_metric_line::<&str, u64>(text, name, None, labels, None, counter.value(), None);
            });
        self.gauges
            .render(text, "gauge", labels, help, |text, name, labels, gauge| {
                write_metric_line::<&str, f64>(text, name, None, labels, None, gauge.value(), None);
            });
        self.histograms
            .render(text, "histogram", labels, help, histograms::write_series);
    }
}

/// Counters, gauges and bucketed histograms into [`Series`]; summaries into metrics-exporter-prometheus' recorder.
pub(super) struct PerThreadRecorder {
    pub(super) inner: PrometheusRecorder,
    pub(super) series: Arc<Series>,
}

impl Recorder for PerThreadRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.series.descriptions.insert(key.as_str(), description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.series.descriptions.insert(key.as_str(), description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.series.bounds.contains(key.as_str()) {
            self.series.descriptions.insert(key.as_str(), description);
        } else {
            self.inner.describe_histogram(key, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.series.counters.get_or_insert(key, ThreadCounter::new))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.series.gauges.get_or_insert(key, ThreadGauge::new))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.series
            .bounds
            .histogram(&self.series.histograms, key)
            .unwrap_or_else(|| self.inner.register_histogram(key, metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static META: Metadata<'static> = Metadata::new("t", metrics::Level::INFO, None);

    fn recorder_with(bounds: &[f64], global: &[(String, String)]) -> PerThreadRecorder {
        let config = [("latency_seconds".to_owned(), bounds.to_vec())];
        PerThreadRecorder {
            inner: metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder(),
            series: Arc::new(Series::new(config.iter().map(|(n, b)| (n, b)), global)),
        }
    }

    fn histograms(bounds: &[f64]) -> PerThreadRecorder {
        recorder_with(bounds, &[("region".into(), "eu".into())])
    }

    impl PerThreadRecorder {
        /// The bucketed series of `key`, if its metric has bounds.
        fn histogram(&self, key: &Key) -> Option<Histogram> {
            self.series.bounds.histogram(&self.series.histograms, key)
        }

        fn describe(&self, name: &KeyName, description: SharedString) {
            self.describe_histogram(name.clone(), None, description);
        }

        fn render(&self, text: &mut String) {
            self.series.render(text);
        }
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
        let ours = recorder_with(&config[0].1, &global);
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

    /// Counters and gauges, through metrics-exporter-prometheus' recorder and through this one: the same lines.
    #[test]
    fn counters_and_gauges_render_what_the_exporter_renders() {
        let global = [("region".to_owned(), "eu".to_owned())];
        let ours = recorder_with(&[1.0], &global);
        let theirs = metrics_exporter_prometheus::PrometheusBuilder::new()
            .add_global_label(&global[0].0, &global[0].1)
            .build_recorder();
        for recorder in [&ours as &dyn Recorder, &theirs] {
            recorder.describe_counter("requests_total".into(), None, "Requests.".into());
            recorder.describe_gauge("in_flight".into(), None, "In flight \\ now.".into());
            for (route, n) in [("/a", 3), ("/b\"c", 1)] {
                let labels = vec![metrics::Label::new("route", route)];
                let counter = recorder.register_counter(&Key::from_parts("requests_total", labels.clone()), &META);
                counter.increment(n);
                let gauge = recorder.register_gauge(&Key::from_parts("in_flight", labels), &META);
                gauge.increment(2.0);
                gauge.decrement(0.5);
            }
            recorder
                .register_gauge(&Key::from_name("temperature"), &META)
                .set(-3.25);
            recorder
                .register_counter(&Key::from_name("cpu_seconds_total"), &META)
                .absolute(42);
        }
        let mut text = String::new();
        ours.render(&mut text);
        let sorted = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        assert_eq!(sorted(&text), sorted(&theirs.handle().render()));
        assert!(
            text.contains("requests_total{region=\"eu\",route=\"/a\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("in_flight{region=\"eu\",route=\"/a\"} 1.5\n"), "{text}");
    }
}
