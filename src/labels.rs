//! Bounded label values: whatever clients send, a label has a bounded number of distinct values.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxBuildHasher;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::contract::OTHER;

/// Longest model or operation name kept as a label value, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// Longest route (template or gRPC method path) kept as a label value, in bytes.
pub const MAX_ROUTE_BYTES: usize = 256;

/// An interned label value. Cheap to clone; the id is dense within its [`BoundedLabels`] (0 is `_OTHER`).
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
pub enum LabelPolicy {
    /// The first `n` distinct valid values, in order of arrival; later ones are `_OTHER`.
    FirstN(usize),
    /// Exactly these values; anything else is `_OTHER`.
    AllowList(HashSet<String>),
}

/// An interner that maps names to a bounded set of [`LabelValue`]s.
pub struct BoundedLabels {
    max_bytes: usize,
    policy: LabelPolicy,
    other: LabelValue,
    // Fx, not SipHash: the table is capped, so colliding names cannot grow it, and requests hash a name each.
    values: RwLock<HashMap<Arc<str>, LabelValue, FxBuildHasher>>,
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
    pub fn new(policy: LabelPolicy, max_bytes: usize) -> Self {
        Self {
            max_bytes,
            policy,
            other: LabelValue::new(0, OTHER),
            values: RwLock::new(HashMap::default()),
        }
    }

    /// Pre-admits `names` (they do not count against a `FirstN` cap).
    pub(crate) fn with_seeds(self, names: &[&str]) -> Self {
        {
            let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
            for name in names {
                let id = values.len() as u32 + 1;
                values
                    .entry(Arc::from(*name))
                    .or_insert_with(|| LabelValue::new(id, name));
            }
        }
        Self {
            policy: self.policy_with_extra(names.len()),
            ..self
        }
    }

    fn policy_with_extra(&self, extra: usize) -> LabelPolicy {
        match &self.policy {
            LabelPolicy::FirstN(n) => LabelPolicy::FirstN(n.saturating_add(extra)),
            allow => allow.clone(),
        }
    }

    /// The catch-all value.
    pub fn other(&self) -> LabelValue {
        self.other.clone()
    }

    /// The label value for `name`: itself when valid and admitted, `_OTHER` otherwise.
    pub fn get(&self, name: &str) -> LabelValue {
        if name.len() > self.max_bytes {
            return self.other();
        }
        if let Some(v) = self.values.read().unwrap_or_else(PoisonError::into_inner).get(name) {
            return v.clone();
        }
        // Only names not admitted yet are checked in full: admitted ones were valid.
        if !self.is_valid(name) {
            return self.other();
        }
        match &self.policy {
            LabelPolicy::AllowList(allowed) if !allowed.contains(name) => return self.other(),
            _ => {}
        }
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = values.get(name) {
            return v.clone();
        }
        if let LabelPolicy::FirstN(cap) = self.policy
            && values.len() >= cap
        {
            return self.other();
        }
        let value = LabelValue::new(values.len() as u32 + 1, name);
        values.insert(Arc::from(name), value.clone());
        value
    }

    /// Like [`get`](Self::get) for raw bytes (a header, gRPC metadata): invalid UTF-8 is `_OTHER`.
    pub fn get_bytes(&self, name: &[u8]) -> LabelValue {
        match std::str::from_utf8(name) {
            Ok(name) => self.get(name),
            Err(_) => self.other(),
        }
    }

    /// Number of admitted distinct values (not counting `_OTHER`).
    pub fn len(&self) -> usize {
        self.values.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// True when no value has been admitted yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_valid(&self, name: &str) -> bool {
        !name.is_empty() && name.len() <= self.max_bytes && name != OTHER && !name.chars().any(char::is_control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_distinct_values() {
        let labels = BoundedLabels::new(LabelPolicy::FirstN(2), MAX_NAME_BYTES);
        assert_eq!(labels.get("a").as_str(), "a");
        assert_eq!(labels.get("b").as_str(), "b");
        assert!(labels.get("c").is_other());
        assert_eq!(labels.get("a").as_str(), "a");
        assert_eq!(labels.len(), 2);
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
        let labels = BoundedLabels::new(LabelPolicy::FirstN(1), MAX_NAME_BYTES).with_seeds(&["chat", "embeddings"]);
        assert_eq!(labels.get("chat").as_str(), "chat");
        assert_eq!(labels.get("rerank").as_str(), "rerank");
        assert!(labels.get("other").is_other());
    }
}
