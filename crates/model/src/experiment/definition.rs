//! [`Experiment`]: a declared experiment, its variants and shares, and how a request's key picks one.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderName;
use http::request::Parts;

use super::assign;
use inferwatch_core::labels::MAX_NAME_BYTES;

/// A variant of an experiment, as a request was assigned it: in the request's extensions, and on its handle.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Assignment {
    experiment: Arc<str>,
    variant: Arc<str>,
}

impl Assignment {
    /// The experiment's name.
    pub fn experiment(&self) -> &str {
        &self.experiment
    }

    /// The variant's name.
    pub fn variant(&self) -> &str {
        &self.variant
    }
}

/// What a request without a key gets.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WithoutKey {
    /// The first declared variant (by convention the control). The default.
    FirstVariant,
    /// A variant drawn at random with the split's shares.
    Random,
    /// No variant: the request is outside the experiment.
    Unassigned,
}

/// Why an experiment could not be built.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum ExperimentError {
    /// The experiment or a variant has an empty name, a name over 128 bytes, or control characters in it.
    InvalidName(String),
    /// Two variants share a name.
    DuplicateVariant(String),
    /// A weight that is not finite and positive.
    InvalidWeight(String, f64),
    /// No variant was declared.
    NoVariants,
}

impl fmt::Display for ExperimentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(name) => write!(
                f,
                "experiment and variant names must be 1 to {MAX_NAME_BYTES} bytes without control characters: {name:?}"
            ),
            Self::DuplicateVariant(name) => write!(f, "variant {name:?} is declared twice"),
            Self::InvalidWeight(name, weight) => {
                write!(
                    f,
                    "variant {name:?} has weight {weight}: weights must be finite and positive"
                )
            }
            Self::NoVariants => f.write_str("an experiment needs at least one variant"),
        }
    }
}

inferwatch_core::debug_is_display!(ExperimentError);

impl std::error::Error for ExperimentError {}

type KeyFn = dyn for<'a> Fn(&'a Parts) -> Option<Cow<'a, [u8]>> + Send + Sync;

/// Where a request's assignment key comes from.
#[derive(Clone)]
enum KeySource {
    Header(HeaderName),
    Function(Arc<KeyFn>),
    /// Only handlers assign (`RequestHandle::set_variant`); the layer assigns nothing.
    None,
}

/// A declared experiment: its name, its variants and their shares, and how requests are assigned. Cheap to clone.
#[derive(Clone)]
pub struct Experiment {
    inner: Arc<Definition>,
}

struct Definition {
    name: Arc<str>,
    variants: Vec<Arc<str>>,
    /// Exclusive upper bucket of each variant.
    bounds: Vec<u32>,
    seed: u64,
    key: KeySource,
    without_key: WithoutKey,
}

impl fmt::Debug for Experiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.inner;
        let key = match &d.key {
            KeySource::Header(name) => format!("header {name}"),
            KeySource::Function(_) => "function".into(),
            KeySource::None => "none".into(),
        };
        f.debug_struct("Experiment")
            .field("name", &d.name)
            .field("variants", &d.variants)
            .field("bounds", &d.bounds)
            .field("key", &key)
            .field("without_key", &d.without_key)
            .finish()
    }
}

/// What the layer declares of it: the only experiment and variant labels.
impl inferwatch_core::ExperimentDeclaration for Experiment {
    fn experiment_name(&self) -> &str {
        self.name()
    }

    fn variant_names(&self) -> Vec<&str> {
        self.variants().collect()
    }
}

impl Experiment {
    /// Starts declaring the experiment `name`.
    pub fn builder(name: impl Into<String>) -> ExperimentBuilder {
        ExperimentBuilder {
            name: name.into(),
            variants: Vec::new(),
            key: KeySource::None,
            without_key: WithoutKey::FirstVariant,
        }
    }

    /// The experiment's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The declared variants, in order.
    pub fn variants(&self) -> impl Iterator<Item = &str> {
        self.inner.variants.iter().map(|v| &**v)
    }

    /// The variant for `key`, or for a request without one as [`WithoutKey`] says: the same key always gets the
    /// same variant, in every process. An empty key, or one of only spaces and tabs, is no key.
    pub fn assign(&self, key: Option<&[u8]>) -> Option<Assignment> {
        let d = &*self.inner;
        // An empty or blank key names no user: it would put everyone who sends one in the same variant.
        let key = key.filter(|k| !k.iter().all(u8::is_ascii_whitespace));
        let index = match (key, &d.without_key) {
            (Some(key), _) => assign::variant_of(&d.bounds, assign::bucket(d.seed, key)),
            (None, WithoutKey::FirstVariant) => 0,
            (None, WithoutKey::Random) => assign::variant_of(&d.bounds, random_bucket()),
            (None, WithoutKey::Unassigned) => return None,
        };
        Some(Assignment {
            experiment: d.name.clone(),
            variant: d.variants.get(index)?.clone(),
        })
    }

    /// The request's key, if the experiment reads one.
    pub(super) fn key<'a>(&self, parts: &'a Parts) -> Option<Cow<'a, [u8]>> {
        match &self.inner.key {
            KeySource::Header(name) => parts.headers.get(name).map(|v| Cow::Borrowed(v.as_bytes())),
            KeySource::Function(f) => f(parts),
            KeySource::None => None,
        }
    }

    /// Whether the layer assigns at all (a key source was configured).
    pub(super) fn assigns(&self) -> bool {
        !matches!(self.inner.key, KeySource::None)
    }
}

/// A uniform bucket for requests without a key: not reproducible, and not meant to be.
fn random_bucket() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    assign::bucket(u64::from(nanos), &n.to_le_bytes())
}

/// Declares an [`Experiment`].
pub struct ExperimentBuilder {
    name: String,
    variants: Vec<(String, f64)>,
    key: KeySource,
    without_key: WithoutKey,
}

impl fmt::Debug for ExperimentBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExperimentBuilder")
            .field("name", &self.name)
            .field("variants", &self.variants)
            .finish_non_exhaustive()
    }
}

impl ExperimentBuilder {
    /// A variant and its weight; shares are the weights divided by their sum. The first variant is the control.
    pub fn variant(mut self, name: impl Into<String>, weight: f64) -> Self {
        self.variants.push((name.into(), weight));
        self
    }

    /// Assigns by the value of this request header (e.g. `x-user-id`). A header name that is not valid makes
    /// the experiment assign nothing by itself, as without a key source.
    pub fn key_header(mut self, name: &str) -> Self {
        self.key = match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) => KeySource::Header(name),
            Err(_) => KeySource::None,
        };
        self
    }

    /// Assigns by a key computed from the request's head (a cookie, a tenant from the path, a claim that an
    /// authentication layer put in the extensions); `None` is a request without a key.
    pub fn key_fn<F>(mut self, f: F) -> Self
    where
        F: for<'a> Fn(&'a Parts) -> Option<Cow<'a, [u8]>> + Send + Sync + 'static,
    {
        self.key = KeySource::Function(Arc::new(f));
        self
    }

    /// What requests without a key get (default: the first variant).
    pub fn without_key(mut self, rule: WithoutKey) -> Self {
        self.without_key = rule;
        self
    }

    /// Checks the names and weights.
    pub fn build(self) -> Result<Experiment, ExperimentError> {
        check_name(&self.name)?;
        if self.variants.is_empty() {
            return Err(ExperimentError::NoVariants);
        }
        for (i, (name, weight)) in self.variants.iter().enumerate() {
            check_name(name)?;
            if !(weight.is_finite() && *weight > 0.0) {
                return Err(ExperimentError::InvalidWeight(name.clone(), *weight));
            }
            if self.variants[..i].iter().any(|(other, _)| other == name) {
                return Err(ExperimentError::DuplicateVariant(name.clone()));
            }
        }
        let weights: Vec<f64> = self.variants.iter().map(|(_, w)| *w).collect();
        Ok(Experiment {
            inner: Arc::new(Definition {
                seed: assign::seed(&self.name),
                name: self.name.into(),
                bounds: assign::upper_bounds(&weights),
                variants: self.variants.into_iter().map(|(n, _)| n.into()).collect(),
                key: self.key,
                without_key: self.without_key,
            }),
        })
    }
}

fn check_name(name: &str) -> Result<(), ExperimentError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        Err(ExperimentError::InvalidName(name.to_owned()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(without_key: WithoutKey) -> Experiment {
        Experiment::builder("model-rollout")
            .variant("control", 0.5)
            .variant("treatment", 0.5)
            .key_header("x-user-id")
            .without_key(without_key)
            .build()
            .unwrap()
    }

    #[test]
    fn the_same_key_always_gets_the_same_variant() {
        let a = rollout(WithoutKey::FirstVariant);
        let b = rollout(WithoutKey::FirstVariant);
        for i in 0..1000 {
            let key = format!("user-{i}");
            assert_eq!(a.assign(Some(key.as_bytes())), b.assign(Some(key.as_bytes())));
        }
        // The test vectors: bucket 5240 of 10,000 is past the control's half.
        assert_eq!(a.assign(Some(b"user-42")).unwrap().variant(), "treatment");
        assert_eq!(a.assign(Some(b"user-43")).unwrap().variant(), "control");
    }

    #[test]
    fn splits_are_accurate_over_100k_keys() {
        for weights in [[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]] {
            let experiment = Experiment::builder("split")
                .variant("a", weights[0])
                .variant("b", weights[1])
                .build()
                .unwrap();
            let n = 100_000;
            let a = (0..n)
                .filter(|i| experiment.assign(Some(format!("k{i}").as_bytes())).unwrap().variant() == "a")
                .count();
            let share = a as f64 / n as f64;
            assert!((share - weights[0]).abs() < 0.01, "{weights:?}: {share}");
        }
    }

    #[test]
    fn requests_without_a_key_follow_the_rule() {
        assert_eq!(
            rollout(WithoutKey::FirstVariant).assign(None).unwrap().variant(),
            "control"
        );
        assert_eq!(rollout(WithoutKey::Unassigned).assign(None), None);
        // An empty or blank key is no key: it names no user.
        for blank in [&b""[..], b" ", b"\t \t"] {
            assert_eq!(rollout(WithoutKey::Unassigned).assign(Some(blank)), None, "{blank:?}");
            let first = rollout(WithoutKey::FirstVariant).assign(Some(blank));
            assert_eq!(first.expect("first variant").variant(), "control", "{blank:?}");
        }
        let random = rollout(WithoutKey::Random);
        let treatment = (0..10_000)
            .filter(|_| random.assign(None).unwrap().variant() == "treatment")
            .count();
        assert!((4_500..5_500).contains(&treatment), "{treatment}");
    }

    #[test]
    fn invalid_declarations_are_refused() {
        let e = |b: ExperimentBuilder| b.build().unwrap_err();
        assert_eq!(e(Experiment::builder("x")), ExperimentError::NoVariants);
        assert_eq!(
            e(Experiment::builder("").variant("a", 1.0)),
            ExperimentError::InvalidName(String::new())
        );
        assert_eq!(
            e(Experiment::builder("x").variant("a", 1.0).variant("a", 1.0)),
            ExperimentError::DuplicateVariant("a".into())
        );
        assert!(matches!(
            e(Experiment::builder("x").variant("a", f64::NAN)),
            ExperimentError::InvalidWeight(..)
        ));
        assert!(matches!(
            e(Experiment::builder("x").variant("a\n", 1.0)),
            ExperimentError::InvalidName(_)
        ));
    }
}
