//! Users' verdicts on answers, and why feedback could not be attributed to one (feature `feedback`).

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
    #[cfg(feature = "feedback")]
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

/// Why feedback could not be attributed to the answer it rates.
#[cfg(feature = "feedback")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unattributed {
    /// The response id is not one this service issued (malformed, forged, signed with another key, or dated
    /// further in the future than replicas' clocks differ).
    Invalid,
    /// The response id is older than the accepted age.
    Expired,
}

#[cfg(feature = "feedback")]
impl Unattributed {
    /// The reason in words.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unattributed::Invalid => "invalid",
            Unattributed::Expired => "expired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rating_labels_in_label_order() {
        assert_eq!(Rating::ALL.map(Rating::as_str), ["positive", "negative", "neutral"]);
    }

    #[cfg(feature = "feedback")]
    #[test]
    fn ratings_from_scores() {
        assert_eq!(Rating::from_score(0.5), Some(Rating::Positive));
        assert_eq!(Rating::from_score(-1.0), Some(Rating::Negative));
        assert_eq!(Rating::from_score(0.0), Some(Rating::Neutral));
        assert_eq!(Rating::from_score(1.5), None);
        assert_eq!(Rating::from_score(f64::NAN), None);
    }
}
