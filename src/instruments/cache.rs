//! Handles registered once per label combination and reused: building a `metrics::Key` and looking it up in
//! the recorder costs far more than one atomic update, so requests only hash a few small integers.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{PoisonError, RwLock};

use rustc_hash::FxBuildHasher;

pub(crate) struct HandleCache<K, H> {
    map: RwLock<HashMap<K, H, FxBuildHasher>>,
}

impl<K, H> Default for HandleCache<K, H> {
    fn default() -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
        }
    }
}

impl<K: Eq + Hash + Copy, H: Clone> HandleCache<K, H> {
    /// Runs `f` on the handle for `key`, registering it with `register` the first time.
    pub(crate) fn with<R>(&self, key: K, register: impl FnOnce() -> H, f: impl FnOnce(&H) -> R) -> R {
        if let Some(handle) = self.map.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return f(handle);
        }
        let handle = self
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(register)
            .clone();
        f(&handle)
    }
}
