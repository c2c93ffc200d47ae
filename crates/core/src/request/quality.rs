//! What observers are told about the quality of answers: scores recorded during a request ([`Score`]), and
//! users' feedback after it ([`FeedbackEvent`]), attributed to the model and variant that answered.

use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};

use crate::labels::LabelValue;

/// A user's verdict on an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rating {
    /// Thumbs up; a score above 0.
    Positive,
    /// Thumbs down; a score below 0.
    Negative,
    /// A score of exactly 0.
    Neutral,
}

impl Rating {
    /// Every rating, in label order.
    pub const ALL: [Rating; 3] = [Rating::Positive, Rating::Negative, Rating::Neutral];

    /// The rating of a score in [-1, 1]; `None` outside it or for NaN.
    pub fn from_score(score: f64) -> Option<Self> {
        if !(-1.0..=1.0).contains(&score) {
            return None;
        }
        Some(if score > 0.0 {
            Rating::Positive
        } else if score < 0.0 {
            Rating::Negative
        } else {
            Rating::Neutral
        })
    }

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rating::Positive => "positive",
            Rating::Negative => "negative",
            Rating::Neutral => "neutral",
        }
    }
}

/// A quality score a handler recorded for the request it serves
/// ([`RequestHandle::record_score`](crate::RequestHandle::record_score)).
#[derive(Debug)]
#[non_exhaustive]
pub struct Score<'a> {
    /// The bounded evaluator name.
    pub evaluator: &'a LabelValue,
    /// The score, in [0, 1] when [`accepted`](Self::accepted).
    pub value: f64,
    /// The evaluator's verdict in words (`gen_ai.evaluation.score.label`), if it gave one.
    pub label: Option<&'a str>,
    /// False for a value outside [0, 1] or NaN: counted as rejected, recorded nowhere.
    pub accepted: bool,
    /// The model named when the score was recorded.
    pub model: Option<&'a LabelValue>,
    /// The experiment and variant of the request, when it is in one.
    pub experiment: Option<(&'a LabelValue, &'a LabelValue)>,
}

/// Why feedback could not be attributed to the answer it rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unattributed {
    /// The response id is not one this service issued (malformed, forged, signed with another key, or dated
    /// further in the future than replicas' clocks differ).
    Invalid,
    /// The response id is older than the accepted age.
    Expired,
}

impl Unattributed {
    /// The reason in words.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unattributed::Invalid => "invalid",
            Unattributed::Expired => "expired",
        }
    }
}

/// A user's feedback on an earlier answer, possibly served by another replica.
#[derive(Debug)]
#[non_exhaustive]
pub struct FeedbackEvent<'a> {
    /// The verdict.
    pub rating: Rating,
    /// The score given, if the user gave a number rather than a rating.
    pub score: Option<f64>,
    /// The bounded model that answered; `_OTHER` when the feedback could not be attributed.
    pub model: &'a LabelValue,
    /// The experiment and variant of the answer, when it was in one.
    pub experiment: Option<(&'a LabelValue, &'a LabelValue)>,
    /// The answer's request span, to link to.
    pub trace: Option<(TraceId, SpanId)>,
    /// How long after the answer the feedback came.
    pub age: Option<Duration>,
    /// Why it could not be attributed, if it could not.
    pub unattributed: Option<Unattributed>,
    /// The answer's feedback was counted already (a second post of the same response id, whatever its rating):
    /// counted as a repeat, not as a rating.
    pub repeated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_from_scores() {
        assert_eq!(Rating::from_score(0.5), Some(Rating::Positive));
        assert_eq!(Rating::from_score(-1.0), Some(Rating::Negative));
        assert_eq!(Rating::from_score(0.0), Some(Rating::Neutral));
        assert_eq!(Rating::from_score(1.5), None);
        assert_eq!(Rating::from_score(f64::NAN), None);
    }
}
