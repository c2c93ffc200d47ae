//! Where handles are registered: the global `metrics` recorder or one given to the layer.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};

use crate::contract::MetricDef;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The recorder handles come from.
#[derive(Clone)]
pub(crate) enum Sink {
    /// Whatever `metrics::set_global_recorder` installed (resolved when a label combination is first seen).
    Global,
    /// A recorder owned by the layer.
    Recorder(Arc<dyn Recorder + Send + Sync>),
}

impl Sink {
    fn with<T>(&self, f: impl FnOnce(&dyn Recorder) -> T) -> T {
        match self {
            Sink::Global => metrics::with_recorder(f),
            Sink::Recorder(recorder) => f(recorder.as_ref()),
        }
    }

    /// Runs `f` with this sink as the recorder the `metrics` macros see (for crates that record through them).
    #[cfg_attr(not(feature = "host"), allow(dead_code))]
    pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        match self {
            Sink::Global => f(),
            Sink::Recorder(recorder) => metrics::with_local_recorder(recorder.as_ref(), f),
        }
    }

    pub(crate) fn counter(&self, def: &MetricDef, values: &[&str]) -> Counter {
        let key = key(def, values);
        self.with(|r| r.register_counter(&key, &METADATA))
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
