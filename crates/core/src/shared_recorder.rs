//! [`SharedRecorder`]: the one `metrics` recorder the layer, the sampler and health record into.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use metrics::{Counter, CounterFn, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};

use crate::contract::MetricDef;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The `metrics` recorder inferwatch records into: the global one (the default), or one of your own. Clones
/// share it, so one value configures the layer, the sampler and health alike.
///
/// ```
/// use inferwatch_core::{InferenceLayer, SharedRecorder};
///
/// // A recorder of your own; `inferwatch_prometheus::PrometheusBuilder::build` gives one, and the sampler and
/// // health checks of `inferwatch_operations` take the same value.
/// let recorder = SharedRecorder::new(metrics::NoopRecorder);
/// let layer = InferenceLayer::builder().recorder(recorder.clone()).build();
/// # let _ = layer;
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
    pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.recorder {
            None => f(),
            Some(recorder) => metrics::with_local_recorder(recorder.as_ref(), f),
        }
    }

    /// The counter of `def` with these label values, in the order of `def.labels`.
    pub fn counter(&self, def: &MetricDef, values: &[&str]) -> Counter {
        let key = key(def, values);
        self.with(|r| r.register_counter(&key, &METADATA))
    }

    /// A counter of a recorder that may not be installed yet (telemetry is often set up before the global
    /// recorder): until inferwatch's recorder is installed it finds its series at each increment, in whatever is
    /// global then, and from then on keeps it. Registered now too, so that with the recorder already in place the
    /// series exists at zero from the start (and the counter is then a plain one).
    pub fn late_counter(&self, def: &MetricDef, values: &[&str]) -> Counter {
        let key = key(def, values);
        let counter = self.with(|r| r.register_counter(&key, &METADATA));
        if self.recorder.is_some() || GLOBAL_INSTALLED.load(Ordering::Acquire) {
            return counter;
        }
        Counter::from_arc(Arc::new(LateCounter {
            key,
            resolved: OnceLock::new(),
        }))
    }

    /// Says that the global recorder is installed for good (`PrometheusBuilder::install` calls it): late counters
    /// may keep what they find from now on.
    pub fn global_installed() {
        GLOBAL_INSTALLED.store(true, Ordering::Release);
    }

    /// The gauge of `def` with these label values, in the order of `def.labels`.
    pub fn gauge(&self, def: &MetricDef, values: &[&str]) -> Gauge {
        let key = key(def, values);
        self.with(|r| r.register_gauge(&key, &METADATA))
    }

    /// The histogram of `def` with these label values, in the order of `def.labels`.
    pub fn histogram(&self, def: &MetricDef, values: &[&str]) -> Histogram {
        let key = key(def, values);
        self.with(|r| r.register_histogram(&key, &METADATA))
    }
}

/// Whether `PrometheusBuilder::install` has installed the global recorder: once it has, nothing can replace it.
static GLOBAL_INSTALLED: AtomicBool = AtomicBool::new(false);

/// See [`SharedRecorder::late_counter`]: a counter of the global recorder made before one may have been installed.
/// It looks its series up at each increment until inferwatch's recorder is installed, and keeps it from then on.
/// A global recorder of another crate's is looked up at each increment.
struct LateCounter {
    key: Key,
    resolved: OnceLock<Counter>,
}

impl LateCounter {
    fn counter(&self) -> Counter {
        if let Some(counter) = self.resolved.get() {
            return counter.clone();
        }
        let counter = metrics::with_recorder(|r| r.register_counter(&self.key, &METADATA));
        if GLOBAL_INSTALLED.load(Ordering::Acquire) {
            let _ = self.resolved.set(counter.clone());
        }
        counter
    }
}

impl CounterFn for LateCounter {
    fn increment(&self, value: u64) {
        self.counter().increment(value);
    }

    fn absolute(&self, value: u64) {
        self.counter().absolute(value);
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
