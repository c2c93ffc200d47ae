//! Users' feedback on earlier answers (feature `feedback`), attributed to the model and variant that answered,
//! whichever replica receives it.
//!
//! Attribution travels in the response id itself: [`RequestHandle::response_id`](crate::RequestHandle::response_id)
//! gives an id that carries the model, the experiment variant and the request's trace, signed (HMAC-SHA256) with
//! a [`FeedbackKey`] the replicas share. Feedback on it verifies anywhere, with no shared store; a client cannot
//! forge or alter an id to rate another model, and ids older than the accepted age (7 days by default) no longer
//! count. Feedback that does not verify is still counted, under the model `_OTHER`.
//!
//! An answer's rating counts once: the first feedback on a response id is counted, and any later one on the same
//! id, the same rating or another, is refused ([`FeedbackError::Repeated`]) and counted in
//! `inferwatch_feedback_repeats_total`; observers still see it, as a
//! [`LayerEvent::Feedback`] whose `repeated` is set.
//! The layer remembers the ids it counted until they expire, up to 100,000 (then those closest to expiring are
//! forgotten first). Each replica remembers the ids it received: to count an id once across a fleet, send an
//! answer's feedback to one replica (by response id, say).
//!
//! ```
//! use inferwatch_core::feedback::{FeedbackKey, Rating};
//! use inferwatch_core::InferenceLayer;
//!
//! let key = FeedbackKey::new(b"a secret the replicas share, 32+").expect("16 bytes or more");
//! let layer = InferenceLayer::builder().feedback_key(key).build();
//! let feedback = layer.feedback();
//! // In a handler: `let id = handle.response_id();` goes into the response. Later, on any replica:
//! assert!(feedback.record("resp-not-one-of-ours", Rating::Negative).is_err()); // counted under _OTHER
//! let routes: axum::Router = feedback.router(); // POST /v1/feedback
//! # let _ = routes;
//! ```

mod rated;
mod route;

pub(crate) use rated::{DEFAULT_CAPACITY as DEFAULT_RATED_CAPACITY, Rated};

pub use crate::request::quality::{Rating, Unattributed};
pub use crate::request::response_id::{FeedbackKey, KeyTooShort};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::request::LayerEvent;
use crate::request::state::RequestLabels;

/// How old a response id may be when its feedback arrives, by default.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where feedback goes: the layer's label sets and observers.
pub(crate) trait FeedbackSink: Send + Sync {
    fn labels(&self) -> &RequestLabels;
    /// The response ids whose feedback was counted.
    fn rated(&self) -> &Rated;
    fn record(&self, event: &LayerEvent<'_>);
}

/// Records users' feedback through an [`InferenceLayer`](crate::InferenceLayer)'s observers
/// ([`InferenceLayer::feedback`](crate::InferenceLayer::feedback)). Cheap to clone.
#[derive(Clone)]
pub struct Feedback {
    sink: Arc<dyn FeedbackSink>,
    max_age: Duration,
}

impl fmt::Debug for Feedback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feedback")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// Why feedback was not recorded as given.
#[derive(Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum FeedbackError {
    /// A score outside [-1, 1], or NaN: nothing was recorded.
    ScoreOutOfRange(f64),
    /// The response id did not verify or had expired: the feedback was counted under the model `_OTHER`.
    Unattributed(Unattributed),
    /// Feedback on this response id was counted already: this one was counted as a repeat, not as a rating.
    Repeated,
}

impl fmt::Display for FeedbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ScoreOutOfRange(score) => write!(f, "feedback score {score} is outside [-1, 1]"),
            Self::Unattributed(Unattributed::Invalid) => f.write_str("the response id is not one this service issued"),
            Self::Unattributed(Unattributed::Expired) => f.write_str("the response id has expired"),
            Self::Repeated => f.write_str("feedback on this response id was counted already"),
        }
    }
}

debug_is_display!(FeedbackError);

impl std::error::Error for FeedbackError {}

impl Feedback {
    pub(crate) fn new(sink: Arc<dyn FeedbackSink>) -> Self {
        Self {
            sink,
            max_age: DEFAULT_MAX_AGE,
        }
    }

    /// Response ids older than this are not attributed (default 7 days).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Records a rating of the answer `response_id` names.
    pub fn record(&self, response_id: &str, rating: Rating) -> Result<(), FeedbackError> {
        self.record_at(response_id, rating, None, SystemTime::now())
    }

    /// Records a score in [-1, 1] (its sign gives the rating) of the answer `response_id` names.
    pub fn record_signed_score(&self, response_id: &str, score: f64) -> Result<(), FeedbackError> {
        let rating = Rating::from_score(score).ok_or(FeedbackError::ScoreOutOfRange(score))?;
        self.record_at(response_id, rating, Some(score), SystemTime::now())
    }

    fn record_at(
        &self,
        response_id: &str,
        rating: Rating,
        score: Option<f64>,
        now: SystemTime,
    ) -> Result<(), FeedbackError> {
        let labels = self.sink.labels();
        let verified = match &labels.feedback_key {
            Some(key) => key.verify(response_id, now, self.max_age),
            None => Err(Unattributed::Invalid),
        };
        let other = labels.models.other();
        let (event, result) = match &verified {
            Ok(a) => {
                let experiment = a.experiment.as_ref().map(|(e, v)| labels.experiments.resolve(e, v));
                let seconds = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let expires = seconds(a.issued).saturating_add(self.max_age.as_secs());
                let repeated = !self.sink.rated().first(a.fingerprint, expires, seconds(now));
                let event = LayerEvent::Feedback {
                    rating,
                    score,
                    model: labels.models.get_ref(&a.model),
                    experiment: experiment
                        .map(|(e, v)| (labels.experiments.experiment(e), labels.experiments.variant(v))),
                    trace: a.trace,
                    age: now.duration_since(a.issued).ok(),
                    unattributed: None,
                    repeated,
                };
                (event, if repeated { Err(FeedbackError::Repeated) } else { Ok(()) })
            }
            Err(reason) => {
                let event = LayerEvent::Feedback {
                    rating,
                    score,
                    model: &other,
                    experiment: None,
                    trace: None,
                    age: None,
                    unattributed: Some(*reason),
                    repeated: false,
                };
                (event, Err(FeedbackError::Unattributed(*reason)))
            }
        };
        self.sink.record(&event);
        result
    }
}
