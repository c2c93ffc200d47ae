//! Handles registered once per label combination and reused: building a `metrics::Key` and looking it up in
//! the recorder costs far more than one atomic update, so requests only hash a few small integers.
//!
//! Reads take no lock: slots are filled once and never change, so a lookup is a few atomic loads. Label
//! combinations are bounded, but should a table ever fill up, the rest go to a map behind a lock.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{OnceLock, PoisonError, RwLock};

use rustc_hash::FxBuildHasher;

const SLOTS: usize = 256;
const PROBES: usize = 32;

/// Metric handles (or anything cheap to clone) by a small key of label ids, found without a lock: what an observer
/// keeps so that a request costs a few atomic loads rather than a recorder lookup. Bounded label sets keep the keys
/// few.
pub struct HandleCache<K, H> {
    slots: Box<[OnceLock<(K, H)>]>,
    overflow: RwLock<HashMap<K, H, FxBuildHasher>>,
}

impl<K, H> Default for HandleCache<K, H> {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            overflow: RwLock::new(HashMap::default()),
        }
    }
}

impl<K: Eq + Hash + Copy, H: Clone> HandleCache<K, H> {
    /// Runs `f` on the handle for `key`, registering it with `register` the first time. `register` may run more
    /// than once under a race; registering a key twice gives the same series.
    pub fn with<R>(&self, key: K, register: impl Fn() -> H, f: impl FnOnce(&H) -> R) -> R {
        let start = FxBuildHasher.hash_one(key) as usize;
        for probe in 0..PROBES {
            let slot = &self.slots[(start + probe) % SLOTS];
            // A slot is claimed for good by whichever key fills it first; others probe on.
            let (k, h) = slot.get_or_init(|| (key, register()));
            if *k == key {
                return f(h);
            }
        }
        if let Some(handle) = self.overflow.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return f(handle);
        }
        let mut overflow = self.overflow.write().unwrap_or_else(PoisonError::into_inner);
        f(overflow.entry(key).or_insert_with(register))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn registers_each_key_once_even_past_the_table() {
        let cache: HandleCache<u32, u32> = HandleCache::default();
        let registered = AtomicUsize::new(0);
        for round in 0..3 {
            for key in 0..1000u32 {
                let value = cache.with(
                    key,
                    || {
                        registered.fetch_add(1, Ordering::Relaxed);
                        key * 2
                    },
                    |v| *v,
                );
                assert_eq!(value, key * 2, "round {round}");
            }
        }
        assert_eq!(registered.load(Ordering::Relaxed), 1000);
    }
}
