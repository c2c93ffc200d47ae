//! [`SharedRecorder`]: the one `metrics` recorder the layer, the sampler and health record into.

use std::fmt;
use std::sync::Arc;

use metrics::{Counter, CounterFn, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};

use crate::contract::MetricDef;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The `metrics` recorder inferwatch records into: the global one (the default), or one of your own. Clones
/// share it, so one value configures the layer, the sampler and health alike.
///
/// ```
/// use inferwatch::{InferenceLayer, prometheus::PrometheusBuilder};
/// use inferwatch::{health::Health, sampler::Sampler};
///
/// let (recorder, exporter) = PrometheusBuilder::new().build().unwrap();
/// let layer = InferenceLayer::builder().recorder(recorder.clone()).build();
/// let sampler = Sampler::builder().recorder(recorder.clone()).build();
/// let health = Health::builder().recorder(recorder).build();
/// # let _ = (layer, sampler, health, exporter);
/// ```
#[derive(Clone, Default)]
pub struct SharedRecorder {
    /// `None`: whatever `metrics::set_global_recorder` installed, resolved when a series is registered.
    recorder: Option<Arc<dyn Recorder + Send + Sync>>,
}

impl fmt::Debug for SharedRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = if self.recorder.is_some() { "own" } else { "global" };
        f.debug_tuple("SharedRecorder").field(&which).finish()
    }
}

impl SharedRecorder {
    /// The global recorder: whatever `metrics::set_global_recorder` installed when a series is first registered
    /// (install it before the first request; series registered earlier go to the no-op recorder, except
    /// telemetry's own counts, which find the recorder installed after `telemetry::init` too).
    pub fn global() -> Self {
        Self::default()
    }

    /// A recorder of your own, kept out of the global registry.
    pub fn new<R: Recorder + Send + Sync + 'static>(recorder: R) -> Self {
        Self {
            recorder: Some(Arc::new(recorder)),
        }
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&dyn Recorder) -> T) -> T {
        match &self.recorder {
            None => metrics::with_recorder(f),
            Some(recorder) => f(recorder.as_ref()),
        }
    }

    /// Runs `f` with this recorder as the one the `metrics` macros see (for crates that record through them).
    #[cfg_attr(not(feature = "host"), allow(dead_code))]
    pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.recorder {
            None => f(),
            Some(recorder) => metrics::with_local_recorder(recorder.as_ref(), f),
        }
    }

    pub(crate) fn counter(&self, def: &MetricDef, values: &[&str]) -> Counter {
        let key = key(def, values);
        self.with(|r| r.register_counter(&key, &METADATA))
    }

    /// A counter that finds its series at each increment, in whatever recorder is in place then, for counts that
    /// may begin before the global recorder is installed (telemetry is often set up first) and are rare enough
    /// that a lookup each time costs nothing that matters. Registered now too, so that with the recorder already
    /// in place the series exists at zero from the start.
    #[cfg_attr(not(feature = "telemetry"), allow(dead_code))]
    pub(crate) fn late_counter(&self, def: &MetricDef, values: &[&str]) -> Counter {
        let key = key(def, values);
        let _ = self.with(|r| r.register_counter(&key, &METADATA));
        Counter::from_arc(Arc::new(LateCounter {
            recorder: self.clone(),
            key,
        }))
    }

    pub(crate) fn gauge(&self, def: &MetricDef, values: &[&str]) -> Gauge {
        let key = key(def, values);
        self.with(|r| r.register_gauge(&key, &METADATA))
    }

    pub(crate) fn histogram(&self, def: &MetricDef, values: &[&str]) -> Histogram {
        let key = key(def, values);
        self.with(|r| r.register_histogram(&key, &METADATA))
    }
}

/// See [`SharedRecorder::late_counter`].
struct LateCounter {
    recorder: SharedRecorder,
    key: Key,
}

impl CounterFn for LateCounter {
    fn increment(&self, value: u64) {
        self.recorder
            .with(|r| r.register_counter(&self.key, &METADATA))
            .increment(value);
    }

    fn absolute(&self, value: u64) {
        self.recorder
            .with(|r| r.register_counter(&self.key, &METADATA))
            .absolute(value);
    }
}

/// The key for `def` with `values` for its labels, in the contract's order.
fn key(def: &MetricDef, values: &[&str]) -> Key {
    debug_assert_eq!(def.labels.len(), values.len(), "{}", def.name);
    let labels: Vec<Label> = def
        .labels
        .iter()
        .zip(values)
        .map(|(k, v)| Label::new(*k, v.to_string()))
        .collect();
    Key::from_parts(def.name, labels)
}
