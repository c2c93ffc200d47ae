//! Experiments and quality: per-variant request metrics in a family of their own (the main metrics keep their
//! labels), quality scores, user feedback, and the quality proxies every server has (finish reasons, empty
//! answers).

use super::buckets::{GEN_AI_DURATION_BUCKETS, SCORE_BUCKETS, TIME_TO_FIRST_TOKEN_BUCKETS};
use super::def::{MetricDef, MetricKind};
use super::label;

const VARIANT: &[&str] = &[label::EXPERIMENT, label::VARIANT];

/// Requests of an experiment, by variant and outcome.
pub(crate) const EXPERIMENT_REQUESTS_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_experiment_requests_total",
    otel_name: Some("inferwatch.experiment.requests"),
    kind: MetricKind::Counter,
    unit: "{request}",
    labels: &[label::EXPERIMENT, label::VARIANT, label::OUTCOME],
    buckets: &[],
    description: "Requests of an experiment finished, by variant and outcome (ok, client_error, server_error, cancelled).",
};

/// Duration of an experiment's requests, to the end of the response.
pub(crate) const EXPERIMENT_REQUEST_DURATION: MetricDef = MetricDef {
    name: "inferwatch_experiment_request_duration_seconds",
    otel_name: Some("inferwatch.experiment.request.duration"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: VARIANT,
    buckets: GEN_AI_DURATION_BUCKETS,
    description: "Duration of an experiment's requests, from receipt to the end of the response body, by variant.",
};

/// Time to first token of an experiment's requests.
pub(crate) const EXPERIMENT_TIME_TO_FIRST_TOKEN: MetricDef = MetricDef {
    name: "inferwatch_experiment_time_to_first_token_seconds",
    otel_name: Some("inferwatch.experiment.time_to_first_token"),
    kind: MetricKind::Histogram,
    unit: "s",
    labels: VARIANT,
    buckets: TIME_TO_FIRST_TOKEN_BUCKETS,
    description: "Time to first token of an experiment's requests, by variant.",
};

/// Tokens of an experiment's requests.
pub(crate) const EXPERIMENT_TOKENS_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_experiment_tokens_total",
    otel_name: Some("inferwatch.experiment.tokens"),
    kind: MetricKind::Counter,
    unit: "{token}",
    labels: &[label::EXPERIMENT, label::VARIANT, label::GEN_AI_TOKEN_TYPE],
    buckets: &[],
    description: "Input and output tokens of an experiment's requests, by variant.",
};

/// Quality scores of an experiment's answers.
pub(crate) const EXPERIMENT_QUALITY_SCORE: MetricDef = MetricDef {
    name: "inferwatch_experiment_quality_score",
    otel_name: Some("inferwatch.experiment.quality.score"),
    kind: MetricKind::Histogram,
    unit: "1",
    labels: &[label::EXPERIMENT, label::VARIANT, label::EVALUATOR],
    buckets: SCORE_BUCKETS,
    description: "Quality scores (0 to 1) of an experiment's answers, by variant and evaluator.",
};

/// Users' feedback on an experiment's answers.
pub(crate) const EXPERIMENT_FEEDBACK_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_experiment_feedback_total",
    otel_name: Some("inferwatch.experiment.feedback"),
    kind: MetricKind::Counter,
    unit: "{feedback}",
    labels: &[label::EXPERIMENT, label::VARIANT, label::RATING],
    buckets: &[],
    description: "Users' ratings of an experiment's answers, by variant and rating.",
};

/// Quality scores recorded by handlers.
pub(crate) const QUALITY_SCORE: MetricDef = MetricDef {
    name: "inferwatch_quality_score",
    otel_name: Some("inferwatch.quality.score"),
    kind: MetricKind::Histogram,
    unit: "1",
    labels: &[label::EVALUATOR, label::GEN_AI_REQUEST_MODEL],
    buckets: SCORE_BUCKETS,
    description: "Quality scores (0 to 1) that evaluators gave answers, by evaluator and model.",
};

/// Scores refused for being outside [0, 1].
pub(crate) const QUALITY_SCORE_REJECTED: MetricDef = MetricDef {
    name: "inferwatch_quality_score_rejected_total",
    otel_name: Some("inferwatch.quality.score.rejected"),
    kind: MetricKind::Counter,
    unit: "{score}",
    labels: &[label::EVALUATOR],
    buckets: &[],
    description: "Quality scores refused because they were outside [0, 1] or NaN, by evaluator; recorded nowhere else.",
};

/// Users' feedback.
pub(crate) const FEEDBACK_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_feedback_total",
    otel_name: Some("inferwatch.feedback"),
    kind: MetricKind::Counter,
    unit: "{feedback}",
    labels: &[label::GEN_AI_REQUEST_MODEL, label::RATING],
    buckets: &[],
    description: "Users' ratings of earlier answers, by the model that answered (_OTHER when the response id did not verify or had expired) and rating.",
};

/// Feedback refused because its answer was rated already.
pub(crate) const FEEDBACK_REPEATS: MetricDef = MetricDef {
    name: "inferwatch_feedback_repeats_total",
    otel_name: Some("inferwatch.feedback.repeats"),
    kind: MetricKind::Counter,
    unit: "{feedback}",
    labels: &[label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "Feedback on a response id whose rating was counted already (the first one counts), by the model that answered; not in inferwatch_feedback_total.",
};

/// Finish reasons of inference requests.
pub(crate) const FINISH_REASONS_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_finish_reasons_total",
    otel_name: Some("inferwatch.finish_reasons"),
    kind: MetricKind::Counter,
    unit: "{request}",
    labels: &[label::GEN_AI_REQUEST_MODEL, label::GEN_AI_RESPONSE_FINISH_REASON],
    buckets: &[],
    description: "Inference requests by why generation stopped (cancelled: the client left before a reason was reported).",
};

/// Answers with no output.
pub(crate) const EMPTY_RESPONSES_TOTAL: MetricDef = MetricDef {
    name: "inferwatch_empty_responses_total",
    otel_name: Some("inferwatch.empty_responses"),
    kind: MetricKind::Counter,
    unit: "{request}",
    labels: &[label::GEN_AI_REQUEST_MODEL],
    buckets: &[],
    description: "Inference requests that ended ok with no output token: a cheap quality proxy.",
};
