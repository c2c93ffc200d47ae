//! [`CostObserver`]: prices each inference request of a layer from its tokens.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

use super::{ModelPrice, ModelSpend, Money, Prices};
use inferwatch_core::SharedRecorder;
use inferwatch_core::contract as c;
use inferwatch_core::labels::LabelValue;
use inferwatch_core::observe::{HandleCache, LayerEvent, Observer, RequestInfo, RequestSummary};

/// Prices every inference request of the layer it is added to from its token counts, into the exact totals
/// of its [`Prices`]: the model's spend (`inferwatch_cost_total`, `inferwatch_request_cost`) and its experiment
/// variant's (`inferwatch_experiment_cost_total`), rendered by an exporter given the same prices. One per layer
/// (it caches by the layer's label ids); the prices, and their totals, can be shared.
///
/// ```
/// use inferwatch_core::InferenceLayer;
/// use inferwatch_model::cost::{CostObserver, Prices};
///
/// let prices = Prices::builder("USD").model("llama-3-8b", 0.05, 0.25).build().expect("valid prices");
/// let layer = InferenceLayer::builder().with(CostObserver::new(&prices)).build();
/// # let _ = layer;
/// ```
pub struct CostObserver {
    prices: Prices,
    recorder: SharedRecorder,
    /// By model label id: the model's price and spend, `None` for a model without a price.
    models: HandleCache<u32, Option<ModelCost>>,
    /// By experiment and variant label ids.
    variants: HandleCache<(u32, u32), Arc<Money>>,
}

/// What prices one model's requests.
#[derive(Clone)]
struct ModelCost {
    price: ModelPrice,
    spend: Arc<ModelSpend>,
}

impl fmt::Debug for CostObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CostObserver")
            .field("currency", &self.prices.currency())
            .finish_non_exhaustive()
    }
}

impl CostObserver {
    /// Prices requests with `prices`; `inferwatch_cost_info{currency}` goes to the global recorder.
    pub fn new(prices: &Prices) -> Self {
        Self {
            prices: prices.clone(),
            recorder: SharedRecorder::global(),
            models: HandleCache::default(),
            variants: HandleCache::default(),
        }
    }

    /// Records `inferwatch_cost_info{currency}` into `recorder` (the layer's, when it has its own).
    pub fn recorder(mut self, recorder: SharedRecorder) -> Self {
        self.recorder = recorder;
        self
    }

    fn model(&self, model: &str) -> Option<ModelCost> {
        let price = self.prices.price(model)?;
        let spend = self.prices.ledger().model(&Arc::from(model));
        Some(ModelCost { price, spend })
    }

    fn variant(&self, experiment: &LabelValue, variant: &LabelValue) -> Arc<Money> {
        self.prices.ledger().experiment(&experiment.shared(), &variant.shared())
    }

    /// The currency as a label, and every priced allowed model's and declared variant's total at zero.
    fn create_known(&self, models: &[LabelValue], experiments: &[(LabelValue, Vec<LabelValue>)]) {
        let currency = self.prices.currency();
        self.recorder.gauge(c::Metric::CostInfo.def(), &[currency]).set(1.0);
        for model in models {
            let _ = self.model(model.as_str());
        }
        for (experiment, variants) in experiments {
            for variant in variants {
                let _ = self.variant(experiment, variant);
            }
        }
    }
}

impl Observer for CostObserver {
    type RequestData = ();

    fn on_layer_event(&self, event: &LayerEvent<'_>) {
        if let LayerEvent::Start {
            models, experiments, ..
        } = event
        {
            self.create_known(models, experiments);
        }
    }

    fn on_request(&self, _: &RequestInfo, _: &HeaderMap) {}

    fn on_finish(&self, _: &(), s: &RequestSummary<'_>) {
        let usage = s.usage;
        // A request that produced no token (refused, failed early) cost nothing and is no observation.
        let Some(model) = s.inference_model() else { return };
        if usage.input_tokens == 0 && usage.output_tokens == 0 {
            return;
        }
        let record = |cost: &Option<ModelCost>| {
            let cost = cost.as_ref()?;
            let picos = cost.price.picos(usage.input_tokens, usage.output_tokens);
            cost.spend.record(picos);
            Some(picos)
        };
        let Some(picos) = self.models.with(model.0, || self.model(model.1), record) else {
            return;
        };
        if let Some((experiment, variant)) = s.experiment {
            let key = (experiment.id(), variant.id());
            self.variants
                .with(key, || self.variant(experiment, variant), |total| total.add(picos));
        }
    }
}
