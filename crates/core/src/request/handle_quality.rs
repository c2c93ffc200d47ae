//! The handle's side of experiments and quality: which variant and model answered, scores, and the response id
//! that later feedback names.

use super::event::Event;
use super::handle::RequestHandle;

impl RequestHandle {
    /// Puts the request into `variant` of `experiment`, for handlers that assign by their own logic (the
    /// `inferwatch_model::experiment::ExperimentLayer` does it for the others). Names the layer was not
    /// given with [`experiment`](crate::InferenceLayerBuilder::experiment) are `_OTHER`; so is a variant not
    /// declared for that experiment. The last call wins.
    pub fn set_variant(&self, experiment: &str, variant: &str) {
        let ids = self.state.labels().experiments.resolve(experiment, variant);
        self.state.set_experiment(ids);
    }

    /// The bounded experiment and variant of the request, if it is in one.
    pub fn variant(&self) -> Option<(&str, &str)> {
        self.state.experiment().map(|(e, v)| (e.as_str(), v.as_str()))
    }

    /// Names the model that actually answered when it is not the one requested (a version, a fallback):
    /// `gen_ai.response.model` on the span and in the summary line, bounded like the request model.
    pub fn set_response_model(&self, model: &str) {
        self.state.set_response_model(self.state.labels().models.get_ref(model));
    }

    /// Records a quality score in [0, 1] from `evaluator` (a schema validator, a guard model, a heuristic):
    /// `inferwatch_quality_score{evaluator, gen_ai_request_model}`, the experiment's score when the request is in
    /// one, and a `gen_ai.evaluation.result` event on the request span. Recorded with the model and variant known
    /// at the call. A value outside [0, 1], or NaN, is counted in `inferwatch_quality_score_rejected_total` and
    /// recorded nowhere else; the result says which happened. Evaluator names beyond the declared ones and a cap
    /// of 16 are `_OTHER`.
    pub fn record_score(&self, evaluator: &str, value: f64) -> Result<(), RejectedScore> {
        self.score(evaluator, value, None)
    }

    /// Like [`record_score`](Self::record_score), with the evaluator's verdict in words
    /// (`gen_ai.evaluation.score.label`, e.g. `"pass"`; on the span only).
    pub fn record_labeled_score(&self, evaluator: &str, value: f64, label: &str) -> Result<(), RejectedScore> {
        self.score(evaluator, value, Some(label))
    }

    fn score(&self, evaluator: &str, value: f64, label: Option<&str>) -> Result<(), RejectedScore> {
        let accepted = (0.0..=1.0).contains(&value);
        let state = &self.state;
        state.hooks.event(&Event::Score {
            evaluator: state.labels().evaluators.get_ref(evaluator),
            value,
            label,
            accepted,
            model: state.model(),
            experiment: state.experiment(),
        });
        if accepted { Ok(()) } else { Err(RejectedScore(value)) }
    }

    /// The id of this answer for users to give feedback on (put it in the response, as OpenAI's `id`): it
    /// carries the model, the variant and the request's trace, signed with the layer's
    /// [`feedback_key`](crate::InferenceLayerBuilder::feedback_key), so that any replica with the same key
    /// attributes the feedback. Call it once the model (and variant) are known; later calls return the same id.
    /// `None` when the layer has no feedback key.
    #[cfg(feature = "feedback")]
    pub fn response_id(&self) -> Option<String> {
        let state = &self.state;
        let key = state.labels().feedback_key.as_ref()?;
        let id = state.response_id.get_or_init(|| {
            let model = state.model().map_or("", |m| m.as_str());
            let experiment = state.experiment().map(|(e, v)| (e.as_str(), v.as_str()));
            let issued = std::time::SystemTime::now();
            let ids = state.hooks.span_context().map(|c| (c.trace_id(), c.span_id()));
            key.mint(issued, ids, model, experiment).into()
        });
        Some(id.to_string())
    }
}

/// A score outside [0, 1], or NaN: counted as rejected, recorded nowhere else.
#[derive(Clone, Copy, PartialEq)]
pub struct RejectedScore(pub f64);

impl std::fmt::Display for RejectedScore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "quality score {} is outside [0, 1]", self.0)
    }
}

debug_is_display!(RejectedScore);

impl std::error::Error for RejectedScore {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_outside_the_unit_interval_are_rejected() {
        let h = RequestHandle::detached();
        assert_eq!(h.record_score("schema", 0.75), Ok(()));
        assert_eq!(h.record_score("schema", 1.5), Err(RejectedScore(1.5)));
        assert!(h.record_score("schema", f64::NAN).is_err());
        assert_eq!(h.variant(), None);
        // A detached handle knows no experiment.
        h.set_variant("rollout", "control");
        assert_eq!(h.variant(), Some(("_OTHER", "_OTHER")));
    }
}
