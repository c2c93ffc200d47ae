//! Bounded label values: whatever clients send, a label has a bounded number of distinct values.
//! [`LabelValue`] is what observers see; [`BoundedLabels`] is the interner that keeps the bound.

use std::collections::HashSet;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustc_hash::FxBuildHasher;

use crate::contract::OTHER;

/// Longest model or operation name kept as a label value, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 128;

/// Longest route (template or gRPC method path) kept as a label value, in bytes.
pub(crate) const MAX_ROUTE_BYTES: usize = 256;

/// A bounded label value: a route, model, operation or stage name as it is exported. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LabelValue {
    id: u32,
    value: Arc<str>,
}

impl LabelValue {
    pub(crate) fn new(id: u32, value: &str) -> Self {
        Self {
            id,
            value: Arc::from(value),
        }
    }

    /// The label value as exposed.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The value itself, shared (for exporters that keep it: no copy).
    pub(crate) fn shared(&self) -> Arc<str> {
        self.value.clone()
    }

    /// True when this is the catch-all `_OTHER`.
    pub fn is_other(&self) -> bool {
        self.id == 0
    }

    pub(crate) fn id(&self) -> u32 {
        self.id
    }
}

impl fmt::Debug for LabelValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.value, f)
    }
}

impl fmt::Display for LabelValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// Which values a [`BoundedLabels`] admits.
#[derive(Clone, Debug)]
pub(crate) enum LabelPolicy {
    /// The first `n` distinct valid values, in order of arrival; later ones are `_OTHER`. Caps above
    /// [`MAX_DISTINCT`] are lowered to it.
    FirstN(usize),
    /// Exactly these values; anything else is `_OTHER`.
    AllowList(HashSet<String>),
}

/// The most distinct values one label set admits, whatever its policy says.
pub(crate) const MAX_DISTINCT: usize = 16_384;

/// An interner that maps names to a bounded set of [`LabelValue`]s.
///
/// Lookups take no lock (requests intern a route, a model and an operation each): values live in an insert-only
/// open-addressing table. Admitting a new value takes a mutex, which also enforces the cap.
pub(crate) struct BoundedLabels {
    max_bytes: usize,
    policy: LabelPolicy,
    cap: usize,
    other: LabelValue,
    table: Box<[OnceLock<LabelValue>]>,
    by_id: Box<[OnceLock<LabelValue>]>,
    admitted: Mutex<usize>,
}

impl fmt::Debug for BoundedLabels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedLabels")
            .field("policy", &self.policy)
            .field("len", &self.len())
            .finish()
    }
}

impl BoundedLabels {
    /// A set admitting values allowed by `policy` that are at most `max_bytes` long.
    pub(crate) fn new(policy: LabelPolicy, max_bytes: usize) -> Self {
        Self::with_seeds(policy, max_bytes, &[])
    }

    /// Like [`new`](Self::new), with `seeds` admitted up front (they do not count against a `FirstN` cap).
    pub(crate) fn with_seeds(policy: LabelPolicy, max_bytes: usize, seeds: &[&str]) -> Self {
        let cap = match &policy {
            LabelPolicy::FirstN(n) => n.saturating_add(seeds.len()),
            LabelPolicy::AllowList(allowed) => allowed.len() + seeds.len(),
        }
        .min(MAX_DISTINCT);
        let slots = (cap * 2).next_power_of_two().max(16);
        let labels = Self {
            max_bytes,
            policy,
            cap,
            other: LabelValue::new(0, OTHER),
            table: (0..slots).map(|_| OnceLock::new()).collect(),
            by_id: (0..=cap).map(|_| OnceLock::new()).collect(),
            admitted: Mutex::new(0),
        };
        for seed in seeds {
            labels.admit(seed, true);
        }
        labels
    }

    /// The catch-all value.
    pub(crate) fn other(&self) -> LabelValue {
        self.other.clone()
    }

    /// The label value for `name`: itself when valid and admitted, `_OTHER` otherwise.
    pub(crate) fn get(&self, name: &str) -> LabelValue {
        self.get_ref(name).clone()
    }

    /// Like [`get`](Self::get), borrowed.
    pub(crate) fn get_ref(&self, name: &str) -> &LabelValue {
        if name.len() > self.max_bytes {
            return &self.other;
        }
        match self.find(name) {
            Ok(value) => value,
            Err(_) => self.admit(name, false),
        }
    }

    /// Every value an allow-list admits, admitted now, in name order; empty for a first-come policy.
    pub(crate) fn allowed(&self) -> Vec<LabelValue> {
        let LabelPolicy::AllowList(allowed) = &self.policy else {
            return Vec::new();
        };
        let mut names: Vec<&String> = allowed.iter().collect();
        names.sort();
        names
            .into_iter()
            .map(|name| self.get(name))
            .filter(|v| !v.is_other())
            .collect()
    }

    /// Every value admitted so far (seeds included), in the order they were admitted.
    pub(crate) fn admitted(&self) -> Vec<LabelValue> {
        (1..=self.len() as u32).map(|id| self.by_id(id).clone()).collect()
    }

    /// The admitted value for `name`, without admitting it.
    pub(crate) fn existing(&self, name: &str) -> Option<&LabelValue> {
        self.find(name).ok()
    }

    /// Like [`get`](Self::get) for raw bytes (a header, gRPC metadata): invalid UTF-8 is `_OTHER`.
    pub(crate) fn get_bytes(&self, name: &[u8]) -> &LabelValue {
        match std::str::from_utf8(name) {
            Ok(name) => self.get_ref(name),
            Err(_) => &self.other,
        }
    }

    /// The value with this id (`_OTHER` for 0 or an unknown id).
    pub(crate) fn by_id(&self, id: u32) -> &LabelValue {
        let slot = usize::try_from(id).ok().and_then(|i| self.by_id.get(i));
        slot.and_then(OnceLock::get).unwrap_or(&self.other)
    }

    /// Number of admitted distinct values (not counting `_OTHER`).
    pub(crate) fn len(&self) -> usize {
        *self.admitted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The admitted value for `name`, or the first empty slot of its probe sequence.
    fn find(&self, name: &str) -> Result<&LabelValue, Option<&OnceLock<LabelValue>>> {
        let mask = self.table.len() - 1;
        let start = FxBuildHasher.hash_one(name) as usize;
        for probe in 0..self.table.len() {
            let slot = &self.table[(start + probe) & mask];
            match slot.get() {
                Some(value) if value.as_str() == name => return Ok(value),
                Some(_) => continue,
                None => return Err(Some(slot)),
            }
        }
        Err(None)
    }

    fn admit(&self, name: &str, seed: bool) -> &LabelValue {
        if !self.is_valid(name) {
            return &self.other;
        }
        if let LabelPolicy::AllowList(allowed) = &self.policy
            && !seed
            && !allowed.contains(name)
        {
            return &self.other;
        }
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        // Inserts are serialised here, so this second look is final.
        let slot = match self.find(name) {
            Ok(value) => return value,
            Err(Some(slot)) if *admitted < self.cap => slot,
            Err(_) => return &self.other,
        };
        *admitted += 1;
        let id = *admitted as u32;
        let value = slot.get_or_init(|| LabelValue::new(id, name));
        let _ = self.by_id[*admitted].set(value.clone());
        value
    }

    fn is_valid(&self, name: &str) -> bool {
        !name.is_empty() && name.len() <= self.max_bytes && name != OTHER && !name.chars().any(char::is_control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_threads_admit_exactly_the_cap() {
        let labels = Arc::new(BoundedLabels::new(LabelPolicy::FirstN(50), MAX_NAME_BYTES));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let labels = labels.clone();
                std::thread::spawn(move || {
                    (0..500)
                        .map(|i| labels.get(&format!("m{}", (i * 7 + t) % 200)).id())
                        .max()
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().expect("thread").expect("ids") <= 50);
        }
        assert_eq!(labels.len(), 50);
        let admitted: HashSet<String> = (1..=50).map(|id| labels.by_id(id).as_str().to_owned()).collect();
        assert_eq!(admitted.len(), 50);
    }

    #[test]
    fn caps_distinct_values() {
        let labels = BoundedLabels::new(LabelPolicy::FirstN(2), MAX_NAME_BYTES);
        assert_eq!(labels.get("a").as_str(), "a");
        assert_eq!(labels.get("b").as_str(), "b");
        assert!(labels.get("c").is_other());
        assert_eq!(labels.get("a").as_str(), "a");
        assert_eq!(labels.len(), 2);
        assert_eq!(labels.by_id(labels.get("b").id()).as_str(), "b");
        assert!(labels.by_id(99).is_other());
    }

    #[test]
    fn allow_list_admits_only_listed() {
        let allowed = ["llama".to_string()].into_iter().collect();
        let labels = BoundedLabels::new(LabelPolicy::AllowList(allowed), MAX_NAME_BYTES);
        assert_eq!(labels.get("llama").as_str(), "llama");
        assert!(labels.get("mistral").is_other());
    }

    #[test]
    fn rejects_invalid_names() {
        let labels = BoundedLabels::new(LabelPolicy::FirstN(100), MAX_NAME_BYTES);
        assert!(labels.get("").is_other());
        assert!(labels.get(&"x".repeat(129)).is_other());
        assert_eq!(labels.get(&"x".repeat(128)).as_str().len(), 128);
        assert!(labels.get_bytes(&[0xff, 0xfe]).is_other());
        assert!(labels.get("a\nb").is_other());
        assert!(labels.get("_OTHER").is_other());
        assert_eq!(labels.get_bytes("é".as_bytes()).as_str(), "é");
    }

    #[test]
    fn seeds_do_not_count_against_the_cap() {
        let labels = BoundedLabels::with_seeds(LabelPolicy::FirstN(1), MAX_NAME_BYTES, &["chat", "embeddings"]);
        assert_eq!(labels.get("chat").as_str(), "chat");
        assert_eq!(labels.get("rerank").as_str(), "rerank");
        assert!(labels.get("other").is_other());
    }

    proptest::proptest! {
        /// Whatever names clients send: a label is the name itself (valid, among the first `cap` distinct valid
        /// ones) or `_OTHER`, and the set never grows past its cap.
        #[test]
        fn any_names_stay_bounded(names in proptest::collection::vec("\\PC{0,140}|[a-z]{1,3}", 0..200), cap in 0usize..20) {
            let labels = BoundedLabels::new(LabelPolicy::FirstN(cap), MAX_NAME_BYTES);
            let mut admitted: Vec<String> = Vec::new();
            for name in &names {
                let value = labels.get(name);
                let valid = !name.is_empty() && name.len() <= MAX_NAME_BYTES && name != OTHER && !name.chars().any(char::is_control);
                if valid && !admitted.contains(name) && admitted.len() < cap {
                    admitted.push(name.clone());
                }
                if admitted.contains(name) {
                    proptest::prop_assert_eq!(value.as_str(), name.as_str());
                } else {
                    proptest::prop_assert!(value.is_other(), "{name:?} became {value:?}");
                }
                proptest::prop_assert!(labels.len() <= cap);
            }
            proptest::prop_assert!(labels.get_bytes(&[0xc3, 0x28]).is_other());
        }
    }
}
