//! Bounded label values: whatever clients send, a label has a bounded number of distinct values.
//! [`LabelValue`] is what observers see; [`BoundedLabels`] is the interner that keeps the bound.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use rustc_hash::FxBuildHasher;

use crate::contract::OTHER;

/// Longest model or operation name kept as a label value, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

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
    pub fn shared(&self) -> Arc<str> {
        self.value.clone()
    }

    /// True when this is the catch-all `_OTHER`.
    pub fn is_other(&self) -> bool {
        self.id == 0
    }

    /// A dense id, unique within the label set that made the value (`_OTHER` is 0): a key for caches of handles.
    pub fn id(&self) -> u32 {
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
    /// [`MAX_DISTINCT`] are lowered to it. For names the server's own code chooses (stages, evaluators, routes).
    FirstN(usize),
    /// At most `n` distinct valid values beyond the seeds, for names a client can choose (models, operations):
    /// half of them as they come, the other half only once a name has kept coming ([`SUSTAINED_SIGHTINGS`]
    /// sightings, counts halving every [`SIGHTINGS_HALF_LIFE`]). One-off names, however many, never take those
    /// places; a name a client sends again and again is sustained traffic and can, as a real one would. A name
    /// must come back within [`SEEN_ONCE`] newer names to be counted twice. Values are never given back: a label,
    /// once admitted, keeps its series.
    Sustained(usize),
    /// Exactly these values; anything else is `_OTHER`.
    AllowList(HashSet<String>),
}

/// The most distinct values one label set admits, whatever its policy says.
pub(crate) const MAX_DISTINCT: usize = 16_384;

/// Sightings that admit a name into a [`LabelPolicy::Sustained`] set's second half.
pub(crate) const SUSTAINED_SIGHTINGS: u32 = 8;
/// How fast the sightings of names not admitted are forgotten: their counts halve this often.
pub(crate) const SIGHTINGS_HALF_LIFE: Duration = Duration::from_secs(60);
/// Names seen once and not admitted, remembered at most: a name seen once is forgotten when this many newer
/// names have come since.
const SEEN_ONCE: usize = 256;
/// Names seen more than once and not admitted, remembered at most: a name promoted into a full table takes the
/// place of the least seen, so a flood of one-off names never reaches them.
const SEEN_OFTEN: usize = 64;

/// Recent sightings of names a [`LabelPolicy::Sustained`] set has not admitted (yet), each step a few hash-map
/// operations whatever the flood: newcomers queue in a ring of names seen once; a second sighting promotes a name
/// to a small table of counts, which halve every [`SIGHTINGS_HALF_LIFE`].
struct Candidates {
    /// Keyed by a hash with random keys, so that a client cannot aim a junk name at a real one's entry.
    hasher: RandomState,
    /// Names seen once, oldest first, with the number of their sighting (an entry whose number no longer matches
    /// `once` was promoted or pushed out since).
    ring: VecDeque<(u64, u64)>,
    once: HashMap<u64, u64>,
    often: HashMap<u64, u32>,
    sightings: u64,
    halved: Instant,
}

impl Candidates {
    fn new(now: Instant) -> Self {
        Self {
            hasher: RandomState::new(),
            ring: VecDeque::with_capacity(SEEN_ONCE),
            once: HashMap::with_capacity(SEEN_ONCE),
            often: HashMap::with_capacity(SEEN_OFTEN),
            sightings: 0,
            halved: now,
        }
    }

    /// Counts a sighting of `name` at `now`; whether it has been seen often enough to be admitted.
    fn sighted(&mut self, name: &str, now: Instant) -> bool {
        let since = now.saturating_duration_since(self.halved);
        if since >= SIGHTINGS_HALF_LIFE {
            let periods = since.as_secs() / SIGHTINGS_HALF_LIFE.as_secs();
            let shift = u32::try_from(periods).unwrap_or(u32::MAX).min(31);
            self.often.retain(|_, count| {
                *count >>= shift;
                *count > 0
            });
            self.halved = now;
        }
        self.sightings += 1;
        let hash = self.hasher.hash_one(name);
        if let Some(count) = self.often.get_mut(&hash) {
            *count += 1;
            return *count >= SUSTAINED_SIGHTINGS;
        }
        if self.once.remove(&hash).is_some() {
            if self.often.len() >= SEEN_OFTEN
                && let Some(least) = self.often.iter().min_by_key(|(_, count)| **count).map(|(h, _)| *h)
            {
                self.often.remove(&least);
            }
            self.often.insert(hash, 2);
            return 2 >= SUSTAINED_SIGHTINGS;
        }
        if self.ring.len() >= SEEN_ONCE
            && let Some((oldest, number)) = self.ring.pop_front()
            && self.once.get(&oldest) == Some(&number)
        {
            self.once.remove(&oldest);
        }
        self.ring.push_back((hash, self.sightings));
        self.once.insert(hash, self.sightings);
        SUSTAINED_SIGHTINGS <= 1
    }

    fn forget(&mut self, name: &str) {
        let hash = self.hasher.hash_one(name);
        self.once.remove(&hash);
        self.often.remove(&hash);
    }
}

/// What admitting takes the lock for: the count, a sustained set's candidates, and what to say when the first
/// value comes from traffic.
struct Admission {
    admitted: usize,
    /// Values admitted as they come (the seeds, then half of a sustained set's places).
    first_come: usize,
    candidates: Option<Candidates>,
    warning: Option<String>,
}

/// An interner that maps names to a bounded set of [`LabelValue`]s.
///
/// Lookups take no lock (requests intern a route, a model and an operation each): values live in an insert-only
/// open-addressing table. Admitting a new value takes a mutex, which also enforces the cap.
pub struct BoundedLabels {
    max_bytes: usize,
    policy: LabelPolicy,
    cap: usize,
    other: LabelValue,
    table: Box<[OnceLock<LabelValue>]>,
    by_id: Box<[OnceLock<LabelValue>]>,
    admission: Mutex<Admission>,
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
    /// A set admitting the first `n` distinct names, each at most 128 bytes long; the rest are `_OTHER`.
    pub fn first_n(n: usize) -> Self {
        Self::new(LabelPolicy::FirstN(n), MAX_NAME_BYTES)
    }

    /// A set admitting values allowed by `policy` that are at most `max_bytes` long.
    pub(crate) fn new(policy: LabelPolicy, max_bytes: usize) -> Self {
        Self::with_seeds(policy, max_bytes, &[])
    }

    /// Like [`new`](Self::new), with `seeds` admitted up front (they do not count against a `FirstN` cap).
    pub(crate) fn with_seeds(policy: LabelPolicy, max_bytes: usize, seeds: &[&str]) -> Self {
        let cap = match &policy {
            LabelPolicy::FirstN(n) | LabelPolicy::Sustained(n) => n.saturating_add(seeds.len()),
            LabelPolicy::AllowList(allowed) => allowed.len() + seeds.len(),
        }
        .min(MAX_DISTINCT);
        let slots = (cap * 2).next_power_of_two().max(16);
        let (first_come, candidates) = match &policy {
            LabelPolicy::Sustained(n) => (
                seeds.len().saturating_add(n.div_ceil(2)),
                Some(Candidates::new(Instant::now())),
            ),
            _ => (cap, None),
        };
        let labels = Self {
            max_bytes,
            policy,
            cap,
            other: LabelValue::new(0, OTHER),
            table: (0..slots).map(|_| OnceLock::new()).collect(),
            by_id: (0..=cap).map(|_| OnceLock::new()).collect(),
            admission: Mutex::new(Admission {
                admitted: 0,
                first_come,
                candidates,
                warning: None,
            }),
        };
        for seed in seeds {
            labels.admit(seed, true);
        }
        labels
    }

    /// Logs `warning` once, when the first value that was not a seed is admitted.
    pub(crate) fn warn_on_first_admission(self, warning: String) -> Self {
        self.admission.lock().unwrap_or_else(PoisonError::into_inner).warning = Some(warning);
        self
    }

    /// The catch-all value.
    pub(crate) fn other(&self) -> LabelValue {
        self.other.clone()
    }

    /// The label value for `name`: itself when valid and admitted, `_OTHER` otherwise.
    pub(crate) fn get(&self, name: &str) -> LabelValue {
        self.get_ref(name).clone()
    }

    /// The label value for `name`, borrowed: itself when valid and admitted, `_OTHER` otherwise.
    pub fn get_ref(&self, name: &str) -> &LabelValue {
        if name.len() > self.max_bytes {
            return &self.other;
        }
        match self.find(name) {
            Ok(value) => value,
            Err(_) => self.admit(name, false),
        }
    }

    #[cfg(test)]
    fn get_ref_at(&self, name: &str, now: Instant) -> &LabelValue {
        if name.len() > self.max_bytes {
            return &self.other;
        }
        match self.find(name) {
            Ok(value) => value,
            Err(_) => self.admit_at(name, false, || now),
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
        self.admission.lock().unwrap_or_else(PoisonError::into_inner).admitted
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
        self.admit_at(name, seed, Instant::now)
    }

    fn admit_at(&self, name: &str, seed: bool, now: impl FnOnce() -> Instant) -> &LabelValue {
        if !self.is_valid(name) {
            return &self.other;
        }
        if let LabelPolicy::AllowList(allowed) = &self.policy
            && !seed
            && !allowed.contains(name)
        {
            return &self.other;
        }
        let mut admission = self.admission.lock().unwrap_or_else(PoisonError::into_inner);
        // Inserts are serialised here, so this second look is final.
        let slot = match self.find(name) {
            Ok(value) => return value,
            Err(Some(slot)) if admission.admitted < self.cap => slot,
            Err(_) => return &self.other,
        };
        let Admission {
            admitted,
            first_come,
            candidates,
            warning,
        } = &mut *admission;
        if let Some(candidates) = candidates
            && !seed
            && *admitted >= *first_come
        {
            if !candidates.sighted(name, now()) {
                return &self.other;
            }
            candidates.forget(name);
        }
        if !seed && let Some(warning) = warning.take() {
            tracing::warn!(target: crate::contract::LOG_TARGET, first = name, "{warning}");
        }
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

    #[test]
    fn a_flood_of_invented_names_leaves_room_for_a_name_that_keeps_coming() {
        let labels = BoundedLabels::new(LabelPolicy::Sustained(32), MAX_NAME_BYTES);
        let t0 = Instant::now();
        // 10,000 invented names, each once: the first 16 take the first-come half, the rest are _OTHER.
        for i in 0..10_000 {
            let value = labels.get_ref_at(&format!("junk-{i}"), t0);
            assert_eq!(value.is_other(), i >= 16, "junk-{i}");
        }
        assert_eq!(labels.len(), 16);
        // A real model's steady traffic, still among junk: its eighth request gets its own label.
        for n in 1..=SUSTAINED_SIGHTINGS {
            for j in 0..SEEN_ONCE - 1 {
                assert!(labels.get_ref_at(&format!("more-junk-{n}-{j}"), t0).is_other());
            }
            let value = labels.get_ref_at("llama-3-8b", t0);
            assert_eq!(value.is_other(), n < SUSTAINED_SIGHTINGS, "request {n}");
        }
        assert_eq!(labels.get("llama-3-8b").as_str(), "llama-3-8b");
        assert_eq!(labels.len(), 17);
    }

    #[test]
    fn seeds_are_not_the_first_come_half() {
        let labels = BoundedLabels::with_seeds(LabelPolicy::Sustained(4), MAX_NAME_BYTES, &["chat", "embeddings"]);
        let t0 = Instant::now();
        assert_eq!(labels.get_ref_at("rerank", t0).as_str(), "rerank");
        assert_eq!(labels.get_ref_at("translate", t0).as_str(), "translate");
        assert!(
            labels.get_ref_at("summarize", t0).is_other(),
            "the other half waits for sustained traffic"
        );
        assert_eq!(labels.len(), 4);
    }

    #[test]
    fn sightings_are_forgotten_when_they_stop() {
        let labels = BoundedLabels::new(LabelPolicy::Sustained(2), MAX_NAME_BYTES);
        let t0 = Instant::now();
        assert_eq!(labels.get_ref_at("first", t0).as_str(), "first");
        // Seven sightings, then a long pause: they halve away, and seven more do not make eight.
        for _ in 0..SUSTAINED_SIGHTINGS - 1 {
            assert!(labels.get_ref_at("slow", t0).is_other());
        }
        let later = t0 + SIGHTINGS_HALF_LIFE * 4;
        for _ in 0..SUSTAINED_SIGHTINGS - 1 {
            assert!(labels.get_ref_at("slow", later).is_other());
        }
        assert_eq!(
            labels.get_ref_at("slow", later).as_str(),
            "slow",
            "7 halved to 0, then 8 since"
        );
        assert!(labels.get_ref_at("third", later).is_other(), "the cap holds");
    }

    #[test]
    fn a_name_seen_twice_survives_a_flood_of_newcomers() {
        let labels = BoundedLabels::new(LabelPolicy::Sustained(2), MAX_NAME_BYTES);
        let t0 = Instant::now();
        let _ = labels.get_ref_at("first", t0);
        for _ in 0..2 {
            assert!(labels.get_ref_at("real", t0).is_other());
        }
        for i in 0..10 * SEEN_ONCE {
            assert!(labels.get_ref_at(&format!("junk-{i}"), t0).is_other());
        }
        for _ in 2..SUSTAINED_SIGHTINGS - 1 {
            assert!(labels.get_ref_at("real", t0).is_other());
        }
        assert_eq!(labels.get_ref_at("real", t0).as_str(), "real");
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
