//! Experiments, quality scores, feedback, finish reasons and empty answers: the model half of the metric
//! contract. Handles are found by small integer keys, as the request metrics' are.

use std::sync::{Arc, OnceLock};

use metrics::{Counter, Histogram};

use super::cache::HandleCache;
use super::inference::TOKEN_TYPES;
use crate::classify::Outcome;
use crate::contract::{self as c, OTHER};
use crate::labels::LabelValue;
use crate::request::{Rating, RequestSummary};
use crate::shared_recorder::SharedRecorder;

/// Finish-reason label of a cancelled request that reported none.
const CANCELLED: &str = "cancelled";
/// Finish reasons, in the order of `FinishReason::ALL`, then `cancelled`.
const FINISH_REASONS: [&str; 7] = [
    "stop",
    "length",
    "content_filter",
    "tool_calls",
    "error",
    OTHER,
    CANCELLED,
];

#[derive(Default)]
pub(super) struct QualityInstruments {
    experiments: HandleCache<(u32, u32), Arc<ExperimentHandles>>,
    experiment_scores: HandleCache<(u32, u32, u32), Histogram>,
    scores: HandleCache<(u32, u32), Histogram>,
    rejected: HandleCache<u32, Counter>,
    #[cfg(feature = "feedback")]
    feedback: HandleCache<(u32, u8), Counter>,
    #[cfg(feature = "feedback")]
    repeated: HandleCache<u32, Counter>,
    finish_reasons: HandleCache<(u32, u8), Counter>,
    empty: HandleCache<u32, Counter>,
}

/// The handles of one (experiment, variant), registered on first use each.
#[derive(Default)]
struct ExperimentHandles {
    requests: [OnceLock<Counter>; 4],
    duration: OnceLock<Histogram>,
    time_to_first_token: OnceLock<Histogram>,
    tokens: [OnceLock<Counter>; 2],
    #[cfg(feature = "feedback")]
    feedback: [OnceLock<Counter>; 3],
}

/// A model as a cache key and a label value: `u32::MAX` and empty when none was named.
type Model<'a> = (u32, &'a str);

fn model_of(model: Option<&LabelValue>) -> Model<'_> {
    model.map_or((u32::MAX, ""), |m| (m.id(), m.as_str()))
}

#[cfg(feature = "feedback")]
fn rating_index(rating: Rating) -> usize {
    match rating {
        Rating::Positive => 0,
        Rating::Negative => 1,
        Rating::Neutral => 2,
    }
}

impl QualityInstruments {
    /// Series of the declared experiments, evaluators and allowed models, at zero.
    pub(super) fn create_known(
        &self,
        r: &SharedRecorder,
        models: &[LabelValue],
        experiments: &[(LabelValue, Vec<LabelValue>)],
        evaluators: &[LabelValue],
    ) {
        let models: Vec<&str> = models.iter().map(LabelValue::as_str).collect();
        for model in &models {
            for reason in FINISH_REASONS {
                r.counter(&c::FINISH_REASONS_TOTAL, &[model, reason]).increment(0);
            }
            r.counter(&c::EMPTY_RESPONSES_TOTAL, &[model]).increment(0);
            for rating in Rating::ALL {
                r.counter(&c::FEEDBACK_TOTAL, &[model, rating.as_str()]).increment(0);
            }
            r.counter(&c::FEEDBACK_REPEATS, &[model]).increment(0);
            for evaluator in evaluators {
                let _ = r.histogram(&c::QUALITY_SCORE, &[evaluator.as_str(), model]);
            }
        }
        for (experiment, variants) in experiments {
            for variant in variants {
                let ev = [experiment.as_str(), variant.as_str()];
                for outcome in Outcome::ALL {
                    r.counter(&c::EXPERIMENT_REQUESTS_TOTAL, &[ev[0], ev[1], outcome.as_str()])
                        .increment(0);
                }
                let _ = r.histogram(&c::EXPERIMENT_REQUEST_DURATION, &ev);
                let _ = r.histogram(&c::EXPERIMENT_TIME_TO_FIRST_TOKEN, &ev);
                for kind in TOKEN_TYPES {
                    r.counter(&c::EXPERIMENT_TOKENS_TOTAL, &[ev[0], ev[1], kind])
                        .increment(0);
                }
                for rating in Rating::ALL {
                    r.counter(&c::EXPERIMENT_FEEDBACK_TOTAL, &[ev[0], ev[1], rating.as_str()])
                        .increment(0);
                }
                for evaluator in evaluators {
                    let _ = r.histogram(&c::EXPERIMENT_QUALITY_SCORE, &[ev[0], ev[1], evaluator.as_str()]);
                }
            }
        }
    }

    /// Finish reasons, empty answers and the experiment family, at the end of a request.
    pub(super) fn record_finish(&self, r: &SharedRecorder, s: &RequestSummary<'_>, model: Model<'_>, seconds: f64) {
        if s.is_inference() {
            let reason = match (s.finish_reason, s.outcome) {
                (Some(reason), _) => Some(reason.index()),
                (None, Outcome::Cancelled) => Some(FINISH_REASONS.len() - 1),
                (None, _) => None,
            };
            if let Some(i) = reason {
                let register = || r.counter(&c::FINISH_REASONS_TOTAL, &[model.1, FINISH_REASONS[i]]);
                self.finish_reasons
                    .with((model.0, i as u8), register, |h| h.increment(1));
            }
            if s.outcome == Outcome::Ok && s.usage.output_tokens == 0 {
                let register = || r.counter(&c::EMPTY_RESPONSES_TOTAL, &[model.1]);
                self.empty.with(model.0, register, |h| h.increment(1));
            }
        }
        let Some((experiment, variant)) = s.experiment else {
            return;
        };
        let ev = [experiment.as_str(), variant.as_str()];
        self.experiments.with(
            (experiment.id(), variant.id()),
            Default::default,
            |h: &Arc<ExperimentHandles>| {
                let outcome = s.outcome as usize;
                h.requests[outcome]
                    .get_or_init(|| r.counter(&c::EXPERIMENT_REQUESTS_TOTAL, &[ev[0], ev[1], s.outcome.as_str()]))
                    .increment(1);
                h.duration
                    .get_or_init(|| r.histogram(&c::EXPERIMENT_REQUEST_DURATION, &ev))
                    .record(seconds);
                if let Some(ttft) = s.time_to_first_token {
                    h.time_to_first_token
                        .get_or_init(|| r.histogram(&c::EXPERIMENT_TIME_TO_FIRST_TOKEN, &ev))
                        .record(ttft.as_secs_f64());
                }
                let usage = [s.usage.input_tokens, s.usage.output_tokens];
                for (kind, count) in usage.into_iter().enumerate() {
                    if count > 0 {
                        h.tokens[kind]
                            .get_or_init(|| r.counter(&c::EXPERIMENT_TOKENS_TOTAL, &[ev[0], ev[1], TOKEN_TYPES[kind]]))
                            .increment(count);
                    }
                }
            },
        );
    }

    /// A score outside [0, 1]: counted, recorded nowhere else.
    pub(super) fn record_rejected(&self, r: &SharedRecorder, evaluator: &LabelValue) {
        let register = || r.counter(&c::QUALITY_SCORE_REJECTED, &[evaluator.as_str()]);
        self.rejected.with(evaluator.id(), register, |h| h.increment(1));
    }

    /// An accepted score, under its model and, in an experiment, its variant.
    pub(super) fn record_score(
        &self,
        r: &SharedRecorder,
        evaluator: &LabelValue,
        value: f64,
        model: Option<&LabelValue>,
        experiment: Option<(&LabelValue, &LabelValue)>,
    ) {
        let model = model_of(model);
        let register = || r.histogram(&c::QUALITY_SCORE, &[evaluator.as_str(), model.1]);
        self.scores
            .with((evaluator.id(), model.0), register, |h| h.record(value));
        if let Some((e, v)) = experiment {
            let register = || {
                r.histogram(
                    &c::EXPERIMENT_QUALITY_SCORE,
                    &[e.as_str(), v.as_str(), evaluator.as_str()],
                )
            };
            self.experiment_scores
                .with((e.id(), v.id(), evaluator.id()), register, |h| h.record(value));
        }
    }

    #[cfg(feature = "feedback")]
    pub(super) fn record_feedback(
        &self,
        r: &SharedRecorder,
        rating: Rating,
        model: &LabelValue,
        experiment: Option<(&LabelValue, &LabelValue)>,
        repeated: bool,
    ) {
        if repeated {
            let register = || r.counter(&c::FEEDBACK_REPEATS, &[model.as_str()]);
            self.repeated.with(model.id(), register, |h| h.increment(1));
            return;
        }
        let index = rating_index(rating);
        let register = || r.counter(&c::FEEDBACK_TOTAL, &[model.as_str(), rating.as_str()]);
        self.feedback
            .with((model.id(), index as u8), register, |h| h.increment(1));
        if let Some((e, v)) = experiment {
            let ev = [e.as_str(), v.as_str()];
            self.experiments
                .with((e.id(), v.id()), Default::default, |h: &Arc<ExperimentHandles>| {
                    h.feedback[index]
                        .get_or_init(|| r.counter(&c::EXPERIMENT_FEEDBACK_TOTAL, &[ev[0], ev[1], rating.as_str()]))
                        .increment(1);
                });
        }
    }
}
