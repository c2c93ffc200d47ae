//! What only the serving engine knows, reported from its own loop, never from a request's path: how full its KV
//! cache is, how large its running batch, how often it preempts sequences.
//!
//! ```
//! use inferwatch_operations::engine::EngineMetrics;
//!
//! let engine = EngineMetrics::new();
//! // In the engine's scheduling loop, once per step:
//! engine.set_kv_cache_usage("llama-3-8b", 0.62);
//! engine.record_batch_size(48);
//! engine.add_preemptions(0);
//! assert_eq!(engine.kv_cache_usage(), Some(0.62));
//! ```
//!
//! [`health::checks::kv_cache`](crate::health::checks::kv_cache) turns the cache usage into a readiness check.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{Counter, Gauge, Histogram};

use inferwatch_core::SharedRecorder;
use inferwatch_core::contract as c;
use inferwatch_core::labels::BoundedLabels;

/// Models an engine reports for, at most; others are `_OTHER`.
const MAX_MODELS: usize = 32;

/// Records the engine's state under the contract's names. Cheap to clone; clones share the series.
#[derive(Clone)]
pub struct EngineMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: SharedRecorder,
    models: BoundedLabels,
    /// The cache gauge and latest usage of each model label, by label id.
    kv_cache: Mutex<Vec<(u32, Gauge, f64)>>,
    batch_size: Histogram,
    preemptions: Counter,
}

impl fmt::Debug for EngineMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineMetrics")
            .field("kv_cache_usage", &self.kv_cache_usage())
            .finish_non_exhaustive()
    }
}

impl Default for EngineMetrics {
    fn default() -> Self {
        Self::with_recorder(SharedRecorder::global())
    }
}

impl EngineMetrics {
    /// Records into the global `metrics` recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records into `recorder`.
    pub fn with_recorder(recorder: SharedRecorder) -> Self {
        let batch_size = recorder.histogram(c::Metric::EngineBatchSize.def(), &[]);
        let preemptions = recorder.counter(c::Metric::EnginePreemptions.def(), &[]);
        preemptions.increment(0);
        Self {
            inner: Arc::new(Inner {
                recorder,
                models: BoundedLabels::first_n(MAX_MODELS),
                kv_cache: Mutex::new(Vec::new()),
                batch_size,
                preemptions,
            }),
        }
    }

    /// The share of `model`'s KV cache in use, 0 to 1 (clamped; NaN is ignored).
    pub fn set_kv_cache_usage(&self, model: &str, ratio: f64) {
        if ratio.is_nan() {
            return;
        }
        let ratio = ratio.clamp(0.0, 1.0);
        let inner = &*self.inner;
        let label = inner.models.get_ref(model);
        let mut caches = inner.kv_cache.lock().unwrap_or_else(PoisonError::into_inner);
        match caches.iter_mut().find(|(id, ..)| *id == label.id()) {
            Some((_, gauge, latest)) => {
                gauge.set(ratio);
                *latest = ratio;
            }
            None => {
                let gauge = inner
                    .recorder
                    .gauge(c::Metric::EngineKvCacheUsage.def(), &[label.as_str()]);
                gauge.set(ratio);
                caches.push((label.id(), gauge, ratio));
            }
        }
    }

    /// The number of sequences in the batch the engine just ran.
    pub fn record_batch_size(&self, size: usize) {
        self.inner.batch_size.record(size as f64);
    }

    /// Sequences the engine preempted (evicted from the cache, to be recomputed).
    pub fn add_preemptions(&self, n: u64) {
        self.inner.preemptions.increment(n);
    }

    /// The highest KV-cache usage last reported for any model; `None` before the first report.
    pub fn kv_cache_usage(&self) -> Option<f64> {
        let caches = self.inner.kv_cache.lock().unwrap_or_else(PoisonError::into_inner);
        caches.iter().map(|(.., latest)| *latest).reduce(f64::max)
    }
}
