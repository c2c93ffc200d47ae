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

use super::feature::DriftError;

/// The format tag of a baseline document.
pub const FORMAT: &str = "inferwatch-drift-baseline/1";

/// The baselines of every series, as saved and loaded. See the module docs for the format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    format: String,
    series: Vec<SeriesBaseline>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeriesBaseline {
    pub(crate) feature: String,
    pub(crate) model: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) edges: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) categories: Vec<String>,
    pub(crate) counts: Vec<u64>,
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

    /// Parses a baseline document.
    pub fn from_json(json: &str) -> Result<Self, DriftError> {
        let baseline: Baseline = serde_json::from_str(json).map_err(|e| DriftError::Baseline(e.to_string()))?;
        if baseline.format != FORMAT {
            return Err(DriftError::Baseline(format!(
                "format {:?}, expected {FORMAT:?}",
                baseline.format
            )));
        }
        for s in &baseline.series {
            let numeric_ok = s.categories.is_empty()
                && s.counts.len() == s.edges.len() + 1
                && s.edges.iter().all(|e| e.is_finite())
                && s.edges.windows(2).all(|w| w[0] < w[1]);
            let categorical_ok = s.edges.is_empty() && !s.categories.is_empty() && s.counts.len() == s.categories.len();
            if !(numeric_ok || categorical_ok) {
                return Err(DriftError::Baseline(format!(
                    "{} of {}: counts must be one more than increasing edges, or one per category",
                    s.feature, s.model
                )));
            }
        }
        Ok(baseline)
    }

    /// The document, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a baseline file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, DriftError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|e| DriftError::Baseline(format!("{}: {e}", path.display())))?;
        Self::from_json(&text)
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
        ] {
            assert!(
                matches!(Baseline::from_json(bad), Err(DriftError::Baseline(_))),
                "{bad}"
            );
        }
    }
}
