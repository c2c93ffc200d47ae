//! The example's experiment: `model-rollout` sends half of the users (by `x-user-id`) to a candidate build of the
//! model they ask for (`toy-v2`, `toy-large-v2`), which can be made worse on purpose (`--treatment-error-rate`).
//! Requests without a user id are outside the experiment. Every answer is scored by a toy evaluator and carries a
//! response id that `POST /v1/feedback` accepts on any replica sharing `INFERWATCH_FEEDBACK_KEY`.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use inferwatch::RequestHandle;
use inferwatch::experiment::{Experiment, WithoutKey};
use inferwatch::feedback::FeedbackKey;

pub const EXPERIMENT: &str = "model-rollout";
pub const TREATMENT: &str = "treatment";
/// The evaluator every answer is scored by.
pub const EVALUATOR: &str = "toy-distinct-words";

/// The models a treatment answers with, next to the ones asked for.
pub const CANDIDATES: &[&str] = &["toy-v2", "toy-large-v2"];

pub fn experiment() -> Experiment {
    Experiment::builder(EXPERIMENT)
        .variant("control", 0.5)
        .variant(TREATMENT, 0.5)
        .key_header("x-user-id")
        .without_key(WithoutKey::Unassigned)
        .build()
        .expect("a valid experiment")
}

/// The model that answers: the candidate build for the treatment.
pub fn answering_model(handle: &RequestHandle, requested: &str) -> Option<String> {
    (handle.variant() == Some((EXPERIMENT, TREATMENT))).then(|| format!("{requested}-v2"))
}

/// Whether the next of the requests `seen` counts is among an exact share `rate` of them: in every thousand, the
/// first `rate × 1000` (deterministic, unlike a random draw, so CI can count on the share).
fn in_exact_share(seen: &AtomicU64, rate: f64) -> bool {
    ((seen.fetch_add(1, Ordering::Relaxed) % 1000) as f64) < rate * 1000.0
}

/// Whether this treatment request fails on purpose: an exact share of them.
pub fn treatment_fails(rate: f64) -> bool {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    in_exact_share(&SEEN, rate)
}

/// Whether this replica fails the request by itself: an exact share of all inference requests.
pub fn replica_fails(rate: f64) -> bool {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    rate > 0.0 && in_exact_share(&SEEN, rate)
}

/// The toy evaluator: the share of distinct words in the answer (repetitive answers score low).
pub fn score(words: &[String]) -> f64 {
    if words.is_empty() {
        return 0.0;
    }
    let distinct: std::collections::HashSet<&str> = words.iter().map(|w| w.trim()).collect();
    distinct.len() as f64 / words.len() as f64
}

/// `INFERWATCH_FEEDBACK_KEY` (16 bytes or more, the same on every replica), or a random key for this process
/// alone, with a warning.
pub fn feedback_key() -> FeedbackKey {
    if let Ok(secret) = std::env::var("INFERWATCH_FEEDBACK_KEY") {
        match FeedbackKey::new(secret.as_bytes()) {
            Ok(key) => return key,
            Err(e) => tracing::warn!(error = %e, "INFERWATCH_FEEDBACK_KEY ignored"),
        }
    }
    tracing::warn!("no INFERWATCH_FEEDBACK_KEY: feedback is attributed by this process only");
    // The standard library's per-process random hasher keys: 32 unpredictable bytes without a dependency.
    let secret: Vec<u8> = (0..4)
        .flat_map(|i: u64| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(i);
            hasher.finish().to_le_bytes()
        })
        .collect();
    FeedbackKey::new(&secret).expect("32 bytes")
}
