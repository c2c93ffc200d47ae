//! [`Feature`]: what a drift monitor watches, numeric (binned by edges, given or learned from the warm-up) or
//! categorical (declared categories, anything else `_OTHER`).

use std::fmt;

use inferwatch_core::FinishReason;
use inferwatch_core::contract::OTHER;

/// Built-in numeric feature: input tokens of each inference request.
pub const INPUT_TOKENS: &str = "input_tokens";
/// Built-in numeric feature: output tokens of each inference request.
pub const OUTPUT_TOKENS: &str = "output_tokens";
/// Built-in categorical feature: the finish reason of each inference request that reports one (`cancelled` when
/// the client left first).
pub const FINISH_REASON: &str = "finish_reason";

/// Bins of a learned numeric feature unless told otherwise (built-in token counts included).
pub const DEFAULT_QUANTILE_BINS: usize = 10;
/// Most bins a feature may have (categories count one each, plus `_OTHER`).
pub const MAX_BINS: usize = 64;

/// A feature declared up front. Cheap to clone.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// Upper bin edges (`value <= edge`), and one bin above the last.
    Numeric(Edges),
    /// The declared categories; `_OTHER` is the bin after them.
    Categorical(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Edges {
    Fixed(Vec<f64>),
    /// Learned from the warm-up: this many bins at most (equal quantiles, ties merged).
    Quantiles(usize),
}

/// Why a feature, or a drift monitor's configuration, was refused.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum DriftError {
    /// A feature name that is empty, over 64 bytes, not `[a-z0-9_]`, or declared twice.
    Name(String),
    /// Edges that are not finite and strictly increasing, or bins (categories) beyond 64.
    Bins(String),
    /// A baseline document that does not parse or does not fit the declared features.
    Baseline(String),
}

impl fmt::Display for DriftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => write!(
                f,
                "drift feature name {n:?} is empty, too long, not [a-z0-9_] or declared twice"
            ),
            Self::Bins(why) => write!(f, "drift feature bins: {why}"),
            Self::Baseline(why) => write!(f, "drift baseline: {why}"),
        }
    }
}

inferwatch_core::debug_is_display!(DriftError);

impl std::error::Error for DriftError {}

impl Feature {
    /// A numeric feature binned by `edges` (upper bounds, strictly increasing): values up to the first edge, up
    /// to the second, ..., and above the last.
    pub fn numeric(name: impl Into<String>, edges: impl IntoIterator<Item = f64>) -> Self {
        Self {
            name: name.into(),
            kind: Kind::Numeric(Edges::Fixed(edges.into_iter().collect())),
        }
    }

    /// A numeric feature whose `bins` equal-quantile bins (2 to 62) are learned from the warm-up's values, with up
    /// to two more for values below and above what the warm-up saw.
    pub fn numeric_quantiles(name: impl Into<String>, bins: usize) -> Self {
        Self {
            name: name.into(),
            kind: Kind::Numeric(Edges::Quantiles(bins)),
        }
    }

    /// A categorical feature with these categories; any other value is `_OTHER`.
    pub fn categorical<I, S>(name: impl Into<String>, categories: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            name: name.into(),
            kind: Kind::Categorical(categories.into_iter().map(Into::into).collect()),
        }
    }

    /// The feature's name (its `feature` label).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The built-in features: input and output tokens (learned quantile bins) and the finish reason.
    pub(crate) fn builtins() -> [Feature; 3] {
        let reasons = [
            FinishReason::Stop,
            FinishReason::Length,
            FinishReason::ContentFilter,
            FinishReason::ToolCalls,
            FinishReason::Error,
        ];
        let mut categories: Vec<String> = reasons.iter().map(|r| r.as_str().to_owned()).collect();
        categories.push("cancelled".into());
        [
            Feature::numeric_quantiles(INPUT_TOKENS, DEFAULT_QUANTILE_BINS),
            Feature::numeric_quantiles(OUTPUT_TOKENS, DEFAULT_QUANTILE_BINS),
            Feature::categorical(FINISH_REASON, categories),
        ]
    }

    /// Checks the name and bins.
    pub(crate) fn check(&self) -> Result<(), DriftError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(DriftError::Name(self.name.clone()));
        }
        match &self.kind {
            Kind::Numeric(Edges::Fixed(edges)) => {
                if edges.is_empty() || edges.len() >= MAX_BINS {
                    return Err(DriftError::Bins(format!(
                        "{}: between 1 and {} edges",
                        self.name,
                        MAX_BINS - 1
                    )));
                }
                if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(DriftError::Bins(format!(
                        "{}: edges must be finite and increasing",
                        self.name
                    )));
                }
            }
            Kind::Numeric(Edges::Quantiles(bins)) => {
                if !(2..=MAX_BINS - 2).contains(bins) {
                    return Err(DriftError::Bins(format!(
                        "{}: between 2 and {} bins",
                        self.name,
                        MAX_BINS - 2
                    )));
                }
            }
            Kind::Categorical(categories) => {
                let mut sorted: Vec<&String> = categories.iter().collect();
                sorted.sort();
                sorted.dedup();
                if categories.is_empty() || categories.len() >= MAX_BINS || sorted.len() != categories.len() {
                    return Err(DriftError::Bins(format!(
                        "{}: between 1 and {} distinct categories",
                        self.name,
                        MAX_BINS - 1
                    )));
                }
                if categories.iter().any(|c| c == OTHER) {
                    return Err(DriftError::Bins(format!("{}: {OTHER} is implied", self.name)));
                }
            }
        }
        Ok(())
    }

    /// Bins this feature's series allocate (learned features may use fewer).
    pub(crate) fn capacity(&self) -> usize {
        match &self.kind {
            Kind::Numeric(Edges::Fixed(edges)) => edges.len() + 1,
            // The warm-up's quantiles, and the bins below and above its range.
            Kind::Numeric(Edges::Quantiles(bins)) => *bins + 2,
            Kind::Categorical(categories) => categories.len() + 1,
        }
    }

    /// The bin of `category`: its declared position, else `_OTHER` (the last).
    pub(crate) fn category_bin(&self, category: &str) -> Option<usize> {
        match &self.kind {
            Kind::Categorical(categories) => Some(
                categories
                    .iter()
                    .position(|c| c == category)
                    .unwrap_or(categories.len()),
            ),
            Kind::Numeric(_) => None,
        }
    }

    /// The category names of each bin, `_OTHER` last; empty for numeric features.
    pub(crate) fn bin_names(&self) -> Vec<String> {
        match &self.kind {
            Kind::Categorical(categories) => categories.iter().cloned().chain([OTHER.to_owned()]).collect(),
            Kind::Numeric(_) => Vec::new(),
        }
    }

    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self.kind, Kind::Numeric(_))
    }
}

/// The bin of `value` among upper `edges`: the first edge it does not exceed, or the last bin.
pub(crate) fn numeric_bin(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|&edge| edge < value)
}

/// Up to `bins` equal-quantile bins of `values` (finite ones), as upper edges, ties merged, plus the bins that
/// hold what the warm-up never saw: the largest value is always an edge, so larger values fall in the top bin, and
/// when the lowest bin would hold only the smallest value, the number just below it is an edge too, so smaller
/// values fall in a bin of their own. A warm-up of one repeated value gives three bins (below, equal, above)
/// rather than one that every value lands in, which would hide any drift. At most `bins + 1` edges; none without
/// values.
pub(crate) fn quantile_edges(values: &mut [f64], bins: usize) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    let (Some(&min), Some(&max)) = (values.first(), values.last()) else {
        return Vec::new();
    };
    let mut edges: Vec<f64> = (1..bins)
        .filter_map(|i| values.get(i * values.len() / bins).copied())
        .collect();
    edges.push(max);
    edges.dedup();
    let below = min.next_down();
    if edges.first() == Some(&min) && below.is_finite() {
        edges.insert(0, below);
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_and_edges() {
        assert_eq!(numeric_bin(&[1.0, 10.0], 0.5), 0);
        assert_eq!(numeric_bin(&[1.0, 10.0], 1.0), 0);
        assert_eq!(numeric_bin(&[1.0, 10.0], 1.5), 1);
        assert_eq!(numeric_bin(&[1.0, 10.0], 11.0), 2);
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile_edges(&mut values, 4), vec![26.0, 51.0, 76.0, 100.0]);
        let mut ties = vec![5.0; 50];
        ties.extend([7.0; 50]);
        assert_eq!(quantile_edges(&mut ties, 10), vec![5.0f64.next_down(), 5.0, 7.0]);
        assert_eq!(quantile_edges(&mut [], 10), Vec::<f64>::new());
        assert_eq!(quantile_edges(&mut [f64::MIN; 3], 4), vec![f64::MIN]);
    }

    #[test]
    fn a_constant_warm_up_keeps_edges_on_both_sides_of_its_value() {
        let edges = quantile_edges(&mut [3.0; 10], 10);
        assert_eq!(edges, vec![3.0f64.next_down(), 3.0]);
        assert_eq!(numeric_bin(&edges, 2.0), 0);
        assert_eq!(numeric_bin(&edges, 3.0), 1);
        assert_eq!(numeric_bin(&edges, 4.0), 2);
        // Mostly one value, the maximum: larger values still have a bin of their own.
        let mut mostly = vec![3.0; 99];
        mostly.push(1.0);
        let edges = quantile_edges(&mut mostly, 10);
        assert_eq!(edges, vec![3.0]);
        assert_eq!(numeric_bin(&edges, 120.0), 1);
    }

    #[test]
    fn declarations_are_checked() {
        assert!(Feature::numeric("norm", [0.5, 1.0]).check().is_ok());
        assert!(Feature::numeric("norm", [1.0, 0.5]).check().is_err());
        assert!(Feature::numeric("norm", [f64::NAN]).check().is_err());
        assert!(Feature::numeric("Norm", [1.0]).check().is_err());
        assert!(Feature::numeric_quantiles("norm", 1).check().is_err());
        assert!(Feature::numeric_quantiles("norm", MAX_BINS - 2).check().is_ok());
        assert!(Feature::numeric_quantiles("norm", MAX_BINS - 1).check().is_err());
        assert!(Feature::categorical("language", ["en", "en"]).check().is_err());
        assert!(Feature::categorical("language", ["en", "_OTHER"]).check().is_err());
        let language = Feature::categorical("language", ["en", "fr"]);
        assert_eq!(language.category_bin("fr"), Some(1));
        assert_eq!(language.category_bin("klingon"), Some(2));
        for builtin in Feature::builtins() {
            assert!(builtin.check().is_ok(), "{builtin:?}");
        }
    }
}
