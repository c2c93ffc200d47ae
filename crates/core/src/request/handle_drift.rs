//! Drift features from the handler: numbers and categories of declared features, under the model named so far.

use super::event::Event;
use super::event::FeatureValue;
use super::handle::RequestHandle;

impl RequestHandle {
    /// Records a numeric drift feature (an embedding norm, a retrieval score): one bin increment. Name the model
    /// first. Undeclared feature names are counted under `_OTHER`; NaN is ignored.
    pub fn record_feature(&self, feature: &str, value: f64) {
        self.feature(feature, FeatureValue::Number(value));
    }

    /// Records a categorical drift feature (a language, a task type). Categories beyond the declared ones are
    /// `_OTHER`.
    pub fn record_category(&self, feature: &str, category: &str) {
        self.feature(feature, FeatureValue::Category(category));
    }

    fn feature(&self, name: &str, value: FeatureValue<'_>) {
        let model = self.state.model();
        self.state.hooks.event(&Event::Feature { model, name, value });
    }
}
