//! [`Baseline`]: the reference distributions of every feature and model, as a JSON document to save, ship to
//! replicas and load at start-up.
//!
//! ```json
//! {"format": "inferwatch-drift-baseline/1",
//!  "series": [
//!    {"feature": "input_tokens", "model": "llama-3-8b", "edges": [12.0, 40.0, 200.0], "counts": [310, 402, 250, 38]},
//!    {"feature": "language", "model": "llama-3-8b", "categories": ["en", "fr", "_OTHER"], "counts": [800, 150, 50]}
//!  ]}
//! ```
//!
//! A numeric series has upper bin `edges` and one count more than edges (the last bin is above the last edge); a
//! categorical one names its bins in `categories` (`_OTHER` last). Counts, not shares: the window is compared with
//! the shares they give.

use serde::{Deserialize, Serialize};

use super::feature::{DriftError, MAX_BINS};

/// The format tag of a baseline document.
pub const FORMAT: &str = "inferwatch-drift-baseline/1";

/// Most series (feature and model pairs) a baseline document may hold: 64 features of 64 models.
pub const MAX_SERIES: usize = 4_096;

/// Largest baseline document read, in bytes: room for [`MAX_SERIES`] series of 64 bins of the largest counts,
/// as [`Baseline::to_json`] writes them.
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;

/// The baselines of every series, as saved and loaded. See the module docs for the format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    format: String,
    #[serde(deserialize_with = "at_most::<MAX_SERIES, _, _>")]
    series: Vec<SeriesBaseline>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeriesBaseline {
    pub(crate) feature: String,
    pub(crate) model: String,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "at_most::<MAX_BINS, _, _>"
    )]
    pub(crate) edges: Vec<f64>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "at_most::<MAX_BINS, _, _>"
    )]
    pub(crate) categories: Vec<String>,
    #[serde(deserialize_with = "at_most::<MAX_BINS, _, _>")]
    pub(crate) counts: Vec<u64>,
}

/// A list of at most `N` elements, refused as soon as the `N + 1`th is read: a document cannot make the parser
/// hold more than the bounds allow, whatever it lists.
fn at_most<'de, const N: usize, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct AtMost<const N: usize, T>(std::marker::PhantomData<T>);

    impl<'de, const N: usize, T: Deserialize<'de>> serde::de::Visitor<'de> for AtMost<N, T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {N}")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N));
            while let Some(item) = seq.next_element()? {
                if items.len() == N {
                    return Err(serde::de::Error::custom(format!(
                        "more than {N} in a list that holds {N} at most"
                    )));
                }
                items.push(item);
            }
            Ok(items)
        }
    }

    deserializer.deserialize_seq(AtMost::<N, T>(std::marker::PhantomData))
}

impl SeriesBaseline {
    /// The series' bins and counts make sense on their own.
    fn check(&self) -> Result<(), DriftError> {
        let refuse = |why: &str| {
            Err(DriftError::Baseline(format!(
                "{} of {}: {why}",
                self.feature, self.model
            )))
        };
        let numeric = self.categories.is_empty();
        let bins = if numeric {
            self.edges.len() + 1
        } else {
            self.categories.len()
        };
        if !numeric && !self.edges.is_empty() {
            return refuse("a series has edges or categories, not both");
        }
        if self.counts.len() != bins {
            return refuse("counts must be one more than the edges, or one per category");
        }
        if bins > MAX_BINS || (!numeric && bins < 1) {
            return refuse(&format!("between 1 and {MAX_BINS} bins"));
        }
        if self.edges.iter().any(|e| !e.is_finite()) || self.edges.windows(2).any(|w| w[0] >= w[1]) {
            return refuse("edges must be finite and increasing");
        }
        let mut categories: Vec<&String> = self.categories.iter().collect();
        categories.sort();
        categories.dedup();
        if categories.len() != self.categories.len() {
            return refuse("a category is named twice");
        }
        match self.counts.iter().try_fold(0u64, |total, &c| total.checked_add(c)) {
            None => refuse("the counts add up to more than 2^64 - 1"),
            Some(0) => refuse("the counts are all zero: nothing to compare with"),
            Some(_) => Ok(()),
        }
    }
}

impl Baseline {
    pub(crate) fn new(series: Vec<SeriesBaseline>) -> Self {
        Self {
            format: FORMAT.into(),
            series,
        }
    }

    pub(crate) fn series(&self) -> &[SeriesBaseline] {
        &self.series
    }

    /// Parses a baseline document, refusing one the statistics could not use: more than [`MAX_SERIES`] series or
    /// [`MAX_DOCUMENT_BYTES`] bytes, a series named twice, bins beyond [`MAX_BINS`](super::MAX_BINS), counts that do
    /// not fit the bins, that add up to nothing, or whose total does not fit in 64 bits.
    pub fn from_json(json: &str) -> Result<Self, DriftError> {
        if json.len() > MAX_DOCUMENT_BYTES {
            return Err(DriftError::Baseline(format!(
                "more than the {MAX_DOCUMENT_BYTES} bytes a baseline may have"
            )));
        }
        let baseline: Baseline = serde_json::from_str(json).map_err(|e| DriftError::Baseline(e.to_string()))?;
        baseline.check()?;
        Ok(baseline)
    }

    /// What [`from_json`](Self::from_json) refuses, but the size: also checked when a monitor is built, for a
    /// document deserialized some other way.
    pub(crate) fn check(&self) -> Result<(), DriftError> {
        if self.format != FORMAT {
            return Err(DriftError::Baseline(format!(
                "format {:?}, expected {FORMAT:?}",
                self.format
            )));
        }
        if self.series.len() > MAX_SERIES {
            return Err(DriftError::Baseline(format!(
                "{} series, more than the {MAX_SERIES} a baseline may have",
                self.series.len()
            )));
        }
        let mut named = std::collections::HashSet::with_capacity(self.series.len());
        for s in &self.series {
            s.check()?;
            if !named.insert((&s.feature, &s.model)) {
                return Err(DriftError::Baseline(format!(
                    "{} of {} appears twice",
                    s.feature, s.model
                )));
            }
        }
        Ok(())
    }

    /// The document, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a baseline file (see [`from_json`](Self::from_json) for what is refused).
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, DriftError> {
        use std::io::Read as _;
        let path = path.as_ref();
        let failed = |why: String| DriftError::Baseline(format!("{}: {why}", path.display()));
        // One byte past the limit is enough to refuse a larger file without reading it whole.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_DOCUMENT_BYTES as u64 + 1).read_to_end(&mut bytes))
            .map_err(|e| failed(e.to_string()))?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(failed(format!(
                "more than the {MAX_DOCUMENT_BYTES} bytes a baseline may have"
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| failed(e.to_string()))?;
        Self::from_json(&text).map_err(|e| match e {
            DriftError::Baseline(why) => DriftError::Baseline(format!("{}: {why}", path.display())),
            other => other,
        })
    }

    /// Writes the document to `path`.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_json())
    }

    /// Number of series (feature and model pairs) in the document.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the document has no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_and_bad_ones_are_refused() {
        let doc = Baseline::new(vec![
            SeriesBaseline {
                feature: "input_tokens".into(),
                model: "toy".into(),
                edges: vec![4.0, 8.0],
                categories: vec![],
                counts: vec![1, 2, 3],
            },
            SeriesBaseline {
                feature: "language".into(),
                model: "toy".into(),
                edges: vec![],
                categories: vec!["en".into(), "_OTHER".into()],
                counts: vec![5, 1],
            },
        ]);
        assert_eq!(Baseline::from_json(&doc.to_json()), Ok(doc));
        for bad in [
            "{}",
            r#"{"format": "other/1", "series": []}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "f", "model": "m", "edges": [2, 1], "counts": [1, 1, 1]}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "f", "model": "m", "edges": [1], "counts": [1]}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "f", "model": "m", "categories": ["a"], "counts": [1, 2]}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [], "extra": 1}"#,
            // Totals that wrap 64 bits, and nothing to compare with: every statistic would be NaN.
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "language", "model": "m", "categories": ["a", "b", "c", "_OTHER"], "counts": [18446744073709551615, 1, 0, 0]}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "input_tokens", "model": "m", "edges": [4], "counts": [9223372036854775808, 9223372036854775808]}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "input_tokens", "model": "m", "edges": [4], "counts": [0, 0]}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "f", "model": "m", "edges": [1], "categories": ["a", "b"], "counts": [1, 1]}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "f", "model": "m", "categories": ["a", "a"], "counts": [1, 1]}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "f", "model": "m", "categories": [], "counts": []}]}"#,
            r#"{"format": "inferwatch-drift-baseline/1", "series": [{"feature": "f", "model": "m", "counts": [1]}, {"feature": "f", "model": "m", "counts": [2]}]}"#,
        ] {
            assert!(
                matches!(Baseline::from_json(bad), Err(DriftError::Baseline(_))),
                "{bad}"
            );
        }
    }

    fn series(feature: &str, model: &str, bins: usize) -> SeriesBaseline {
        SeriesBaseline {
            feature: feature.into(),
            model: model.into(),
            edges: (1..bins).map(|e| e as f64).collect(),
            categories: vec![],
            counts: vec![1; bins],
        }
    }

    #[test]
    fn documents_are_bounded() {
        let most = Baseline::new((0..MAX_SERIES).map(|i| series("f", &format!("m{i}"), 2)).collect());
        assert_eq!(Baseline::from_json(&most.to_json()).map(|b| b.len()), Ok(MAX_SERIES));
        let over = Baseline::new((0..=MAX_SERIES).map(|i| series("f", &format!("m{i}"), 2)).collect());
        let json = serde_json::to_string(&over).unwrap();
        assert!(json.len() < MAX_DOCUMENT_BYTES, "refused for its series, not its size");
        assert!(
            matches!(Baseline::from_json(&json), Err(DriftError::Baseline(why))
                if why.starts_with("more than 4096 in a list that holds 4096 at most")),
            "read no further than the bound"
        );
        // Built some other way than parsing, the document is still checked.
        assert_eq!(
            over.check(),
            Err(DriftError::Baseline(format!(
                "{} series, more than the {MAX_SERIES} a baseline may have",
                MAX_SERIES + 1
            )))
        );
        // The largest document the bounds allow, as the crate writes it, reads back.
        let widest = |i: usize| SeriesBaseline {
            feature: "f".repeat(64),
            model: format!("{i:0>128}"),
            edges: (1..MAX_BINS).map(|e| e as f64 + 0.123_456_789_012_345).collect(),
            categories: vec![],
            counts: vec![u64::MAX / MAX_BINS as u64; MAX_BINS],
        };
        let largest = Baseline::new((0..MAX_SERIES).map(widest).collect());
        let text = largest.to_json();
        assert!(text.len() <= MAX_DOCUMENT_BYTES, "{} bytes", text.len());
        assert_eq!(Baseline::from_json(&text).map(|b| b.len()), Ok(MAX_SERIES));
        let wide = Baseline::new(vec![series("f", "m", MAX_BINS + 1)]);
        assert!(Baseline::from_json(&wide.to_json()).is_err());
        assert!(Baseline::from_json(&Baseline::new(vec![series("f", "m", MAX_BINS)]).to_json()).is_ok());
        let padded = format!("{}{}", " ".repeat(MAX_DOCUMENT_BYTES), Baseline::default().to_json());
        assert!(matches!(Baseline::from_json(&padded), Err(DriftError::Baseline(why)) if why.contains("bytes")));
    }
}
