//! Drift observations from the handler: numbers and categories of declared features, under the model named so
//! far.

use super::handle::RequestHandle;
use super::report::FeatureValue;

impl RequestHandle {
    /// Observes a numeric drift feature (an embedding norm, a retrieval score): one bin increment. Name the model
    /// first. Undeclared feature names are counted under `_OTHER`; NaN is ignored.
    pub fn observe(&self, feature: &str, value: f64) {
        self.state
            .hooks
            .observe(self.state.model(), feature, FeatureValue::Number(value));
    }

    /// Observes a categorical drift feature (a language, a task type). Categories beyond the declared ones are
    /// `_OTHER`.
    pub fn observe_category(&self, feature: &str, category: &str) {
        self.state
            .hooks
            .observe(self.state.model(), feature, FeatureValue::Category(category));
    }
}
