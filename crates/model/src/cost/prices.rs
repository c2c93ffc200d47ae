//! [`Prices`]: what a million tokens cost, per model, and what a GPU-hour costs, in one currency.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::ledger::Ledger;

/// Largest price accepted, per million tokens or per GPU-hour.
const MAX_PRICE: f64 = 1_000_000.0;

/// A model's prices, in whole micro-units of the currency per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ModelPrice {
    pub(crate) input: u64,
    pub(crate) output: u64,
}

impl ModelPrice {
    /// The cost of `input` and `output` tokens in picounits: exact (a token costs a whole number of them).
    pub(crate) fn picos(self, input: u64, output: u64) -> u128 {
        u128::from(input) * u128::from(self.input) + u128::from(output) * u128::from(self.output)
    }
}

/// Why a price table was refused.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum PriceError {
    /// The currency is empty, longer than 16 bytes, or not letters, digits, `_` and `-`.
    Currency(String),
    /// A price that is negative, not finite, or above 1,000,000.
    Price(String, f64),
    /// A model name that is empty, over 128 bytes, or has control characters.
    Model(String),
    /// The JSON document is malformed or has fields this format does not know.
    Json(String),
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Currency(c) => write!(f, "currency {c:?} is not a short code such as USD or EUR"),
            Self::Price(what, p) => write!(f, "price {p} of {what} is not a number between 0 and 1,000,000"),
            Self::Model(m) => write!(f, "model name {m:?} is empty, too long or has control characters"),
            Self::Json(e) => write!(f, "price table: {e}"),
        }
    }
}

inferwatch_core::debug_is_display!(PriceError);

impl std::error::Error for PriceError {}

/// Prices per model (per million input and output tokens) and optionally per GPU-hour, in one currency.
/// Amounts are kept in whole micro-units: six decimals at most, more are rounded. Cheap to clone; the clones
/// share the running totals that `PrometheusBuilder::prices`
/// renders.
///
/// ```
/// use inferwatch_model::cost::Prices;
///
/// let prices = Prices::builder("USD")
///     .model("llama-3-8b", 0.05, 0.25)     // per million input tokens, per million output tokens
///     .gpu_hour(2.49)                       // self-hosted: the GPUs' price, whatever they serve
///     .build()
///     .expect("valid prices");
/// let from_file = Prices::from_json(r#"{"currency": "EUR", "models": {"toy": {"input": 0.5, "output": 1.5}}}"#);
/// assert!(from_file.is_ok());
/// # let _ = prices;
/// ```
#[derive(Clone)]
pub struct Prices {
    pub(crate) inner: Arc<PriceTable>,
}

pub(crate) struct PriceTable {
    pub(crate) currency: String,
    pub(crate) models: HashMap<String, ModelPrice>,
    /// Micro-units per GPU-hour.
    pub(crate) gpu_hour: Option<u64>,
    pub(crate) ledger: Ledger,
}

impl fmt::Debug for Prices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prices")
            .field("currency", &self.inner.currency)
            .field("models", &self.inner.models)
            .field("gpu_hour", &self.inner.gpu_hour)
            .finish()
    }
}

impl Prices {
    /// Starts a price table in `currency` (a short code: `USD`, `EUR`, `credits`).
    pub fn builder(currency: impl Into<String>) -> PricesBuilder {
        PricesBuilder {
            currency: currency.into(),
            models: Vec::new(),
            gpu_hour: None,
        }
    }

    /// A price table from JSON:
    /// `{"currency": "USD", "gpu_hour": 2.49, "models": {"<model>": {"input": 0.05, "output": 0.25}}}`, prices
    /// per million tokens (`gpu_hour` optional). Unknown fields are refused, so that a typo is not a free model.
    #[cfg(feature = "cost")]
    pub fn from_json(json: &str) -> Result<Self, PriceError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Document {
            currency: String,
            #[serde(default)]
            gpu_hour: Option<f64>,
            #[serde(default)]
            models: std::collections::BTreeMap<String, Model>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Model {
            input: f64,
            output: f64,
        }
        let doc: Document = serde_json::from_str(json).map_err(|e| PriceError::Json(e.to_string()))?;
        let mut builder = Prices::builder(doc.currency);
        for (name, m) in doc.models {
            builder = builder.model(name, m.input, m.output);
        }
        if let Some(price) = doc.gpu_hour {
            builder = builder.gpu_hour(price);
        }
        builder.build()
    }

    /// [`from_json`](Self::from_json) of a file's contents.
    #[cfg(feature = "cost")]
    pub fn from_json_file(path: impl AsRef<std::path::Path>) -> Result<Self, PriceError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| PriceError::Json(format!("{}: {e}", path.display())))?;
        Self::from_json(&text)
    }

    /// The currency every amount is in.
    pub fn currency(&self) -> &str {
        &self.inner.currency
    }

    /// The cost of `input_tokens` and `output_tokens` of `model`, in currency units; `None` for a model without
    /// a price.
    pub fn cost(&self, model: &str, input_tokens: u64, output_tokens: u64) -> Option<f64> {
        let price = self.inner.models.get(model)?;
        Some(price.picos(input_tokens, output_tokens) as f64 / super::money::PICOS_PER_UNIT as f64)
    }

    pub(crate) fn price(&self, model: &str) -> Option<ModelPrice> {
        self.inner.models.get(model).copied()
    }

    pub(crate) fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// Adds `gpus` GPUs busy for `elapsed` to the GPU-hour total (a no-op without a GPU-hour price).
    pub fn add_gpu_time(&self, gpus: u32, elapsed: std::time::Duration) {
        if self.inner.gpu_hour.is_some() {
            let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            self.inner.ledger.add_gpu_time(nanos.saturating_mul(u64::from(gpus)));
        }
    }

    /// The exact totals in the Prometheus text format, `global` labels first on every series.
    pub fn render_totals(&self, global: &[(String, String)]) -> String {
        self.inner
            .ledger
            .render(&self.inner.currency, self.inner.gpu_hour, global)
    }
}

/// Builds [`Prices`].
#[derive(Debug)]
pub struct PricesBuilder {
    currency: String,
    models: Vec<(String, f64, f64)>,
    gpu_hour: Option<f64>,
}

impl PricesBuilder {
    /// `model`'s price per million input tokens and per million output tokens.
    pub fn model(mut self, model: impl Into<String>, input_per_million: f64, output_per_million: f64) -> Self {
        self.models.push((model.into(), input_per_million, output_per_million));
        self
    }

    /// The price of one GPU for one hour: the sampler turns GPUs × time into `inferwatch_gpu_cost_total`.
    pub fn gpu_hour(mut self, price: f64) -> Self {
        self.gpu_hour = Some(price);
        self
    }

    /// Checks the currency, names and prices.
    pub fn build(self) -> Result<Prices, PriceError> {
        let currency_ok = !self.currency.is_empty()
            && self.currency.len() <= 16
            && self
                .currency
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !currency_ok {
            return Err(PriceError::Currency(self.currency));
        }
        let mut models = HashMap::new();
        for (name, input, output) in self.models {
            if name.is_empty()
                || name.len() > inferwatch_core::labels::MAX_NAME_BYTES
                || name.chars().any(char::is_control)
            {
                return Err(PriceError::Model(name));
            }
            let input = micros(&format!("{name} input"), input)?;
            let output = micros(&format!("{name} output"), output)?;
            models.insert(name, ModelPrice { input, output });
        }
        let gpu_hour = self.gpu_hour.map(|p| micros("a GPU-hour", p)).transpose()?;
        Ok(Prices {
            inner: Arc::new(PriceTable {
                currency: self.currency,
                models,
                gpu_hour,
                ledger: Ledger::default(),
            }),
        })
    }
}

/// A price in whole micro-units.
fn micros(what: &str, price: f64) -> Result<u64, PriceError> {
    if !(0.0..=MAX_PRICE).contains(&price) {
        return Err(PriceError::Price(what.to_owned(), price));
    }
    // At most 10¹² micro-units: fits, and is exact in an f64.
    Ok((price * 1e6).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_whole_micro_units() {
        let prices = Prices::builder("USD")
            .model("m", 0.15, 0.6)
            .gpu_hour(2.49)
            .build()
            .unwrap();
        assert_eq!(
            prices.price("m"),
            Some(ModelPrice {
                input: 150_000,
                output: 600_000
            })
        );
        assert_eq!(prices.inner.gpu_hour, Some(2_490_000));
        // 1,000 input and 2,000 output tokens: 0.00015 + 0.0012.
        assert_eq!(prices.price("m").unwrap().picos(1_000, 2_000), 1_350_000_000);
        assert_eq!(prices.cost("m", 1_000, 2_000), Some(0.00135));
        assert_eq!(prices.cost("unpriced", 1, 1), None);
    }

    #[test]
    fn bad_tables_are_refused() {
        let err = |b: PricesBuilder| b.build().unwrap_err();
        assert!(matches!(err(Prices::builder("")), PriceError::Currency(_)));
        assert!(matches!(err(Prices::builder("US D")), PriceError::Currency(_)));
        assert!(matches!(
            err(Prices::builder("USD").model("m", -1.0, 0.0)),
            PriceError::Price(..)
        ));
        assert!(matches!(
            err(Prices::builder("USD").model("m", f64::NAN, 0.0)),
            PriceError::Price(..)
        ));
        assert!(matches!(
            err(Prices::builder("USD").model("", 1.0, 1.0)),
            PriceError::Model(_)
        ));
    }

    #[cfg(feature = "cost")]
    #[test]
    fn json_tables() {
        let p = Prices::from_json(
            r#"{"currency": "EUR", "gpu_hour": 1.5, "models": {"toy": {"input": 0.5, "output": 1.5}}}"#,
        )
        .unwrap();
        assert_eq!(p.currency(), "EUR");
        assert_eq!(
            p.price("toy"),
            Some(ModelPrice {
                input: 500_000,
                output: 1_500_000
            })
        );
        for bad in [
            "",
            "{}",
            r#"{"currency": "EUR", "models": {"toy": {"input": 0.5}}}"#,
            r#"{"currency": "EUR", "models": {"toy": {"input": 0.5, "output": 1, "cached": 0.1}}}"#,
            r#"{"currency": "EUR", "modles": {}}"#,
        ] {
            assert!(matches!(Prices::from_json(bad), Err(PriceError::Json(_))), "{bad}");
        }
    }
}
