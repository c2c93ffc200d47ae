//! Prices each inference request from its tokens: an observation of its model's spend (an exact total and a
//! bucket of `inferwatch_request_cost`), and an exact addition to its variant's total.

use std::sync::Arc;

use crate::contract as c;
use crate::cost::{ModelPrice, ModelSpend, Money, Prices};
use crate::labels::LabelValue;
use crate::request::KnownLabels;
use crate::shared_recorder::SharedRecorder;

/// What prices one model's requests.
pub(super) struct ModelCost {
    price: ModelPrice,
    spend: Arc<ModelSpend>,
}

impl ModelCost {
    /// Adds the cost of `input` and `output` tokens; returns it in picounits.
    pub(super) fn record(&self, input: u64, output: u64) -> u128 {
        let picos = self.price.picos(input, output);
        self.spend.record(picos);
        picos
    }
}

/// A price table as the metrics observer uses it.
#[derive(Clone)]
pub(super) struct Pricing {
    pub(super) prices: Prices,
}

impl Pricing {
    /// The handles for `model`, or `None` when it has no price.
    pub(super) fn model(&self, model: &str) -> Option<ModelCost> {
        let price = self.prices.price(model)?;
        Some(ModelCost {
            price,
            spend: self.prices.ledger().model(&Arc::from(model)),
        })
    }

    /// The total of an experiment's variant.
    pub(super) fn variant(&self, experiment: &LabelValue, variant: &LabelValue) -> Arc<Money> {
        self.prices.ledger().experiment(&experiment.shared(), &variant.shared())
    }

    /// The currency as a label, and every priced allowed model's and declared variant's total at zero.
    pub(super) fn create_known(&self, r: &SharedRecorder, known: &KnownLabels) {
        r.gauge(&c::COST_INFO, &[self.prices.currency()]).set(1.0);
        for model in &known.models {
            let _ = self.model(model.as_str());
        }
        for (experiment, variants) in &known.experiments {
            for variant in variants {
                let _ = self.variant(experiment, variant);
            }
        }
    }
}
