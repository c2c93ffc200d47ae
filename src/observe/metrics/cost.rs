//! Prices each inference request from its tokens: an exact addition to its model's total (and its variant's),
//! and an observation of `inferwatch_request_cost`.

use std::sync::Arc;

use metrics::Histogram;

use crate::contract as c;
use crate::cost::{ModelPrice, Money, Prices};
use crate::labels::LabelValue;
use crate::recorder::SharedRecorder;
use crate::request::KnownLabels;

/// The handles that price one model's requests.
pub(super) struct ModelCost {
    price: ModelPrice,
    total: Arc<Money>,
    histogram: Histogram,
}

impl ModelCost {
    /// Adds the cost of `input` and `output` tokens; returns it in picounits.
    pub(super) fn record(&self, input: u64, output: u64) -> u128 {
        let picos = self.price.picos(input, output);
        self.total.add(picos);
        self.histogram.record(picos as f64 / 1e12);
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
    pub(super) fn model(&self, r: &SharedRecorder, model: &str) -> Option<ModelCost> {
        let price = self.prices.price(model)?;
        Some(ModelCost {
            price,
            total: self.prices.ledger().model(&Arc::from(model)),
            histogram: r.histogram(&c::REQUEST_COST, &[model]),
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
            let _ = self.model(r, model.as_str());
        }
        for (experiment, variants) in &known.experiments {
            for variant in variants {
                let _ = self.variant(experiment, variant);
            }
        }
    }
}
