//! The handles of one (operation, model) pair, found with one lookup per request instead of one per metric.

use std::sync::OnceLock;

use metrics::{Counter, Histogram};

use crate::contract as c;
use crate::shared_recorder::SharedRecorder;

/// Token types, in the order of the arrays below.
pub(super) const TOKEN_TYPES: [&str; 2] = ["input", "output"];

/// Registered on first use each, so a series appears only once it has a value.
#[derive(Default)]
pub(super) struct InferenceHandles {
    duration_ok: OnceLock<Histogram>,
    time_to_first_token: OnceLock<Histogram>,
    time_per_output_token: OnceLock<Histogram>,
    tokens: [OnceLock<Counter>; 2],
    request_tokens: [OnceLock<Histogram>; 2],
}

/// The label values of an [`InferenceHandles`].
pub(super) struct Labels<'a> {
    pub(super) recorder: &'a SharedRecorder,
    pub(super) operation: &'a str,
    pub(super) model: &'a str,
}

impl InferenceHandles {
    pub(super) fn duration_ok(&self, l: &Labels<'_>) -> &Histogram {
        self.duration_ok.get_or_init(|| {
            l.recorder
                .histogram(&c::GEN_AI_SERVER_REQUEST_DURATION, &[l.operation, l.model, ""])
        })
    }

    pub(super) fn time_to_first_token(&self, l: &Labels<'_>) -> &Histogram {
        self.time_to_first_token.get_or_init(|| {
            l.recorder
                .histogram(&c::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, &[l.operation, l.model])
        })
    }

    pub(super) fn time_per_output_token(&self, l: &Labels<'_>) -> &Histogram {
        self.time_per_output_token.get_or_init(|| {
            l.recorder
                .histogram(&c::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN, &[l.operation, l.model])
        })
    }

    pub(super) fn tokens(&self, l: &Labels<'_>, kind: usize) -> &Counter {
        self.tokens[kind].get_or_init(|| l.recorder.counter(&c::TOKENS_TOTAL, &[l.model, TOKEN_TYPES[kind]]))
    }

    pub(super) fn request_tokens(&self, l: &Labels<'_>, kind: usize) -> &Histogram {
        self.request_tokens[kind]
            .get_or_init(|| l.recorder.histogram(&c::REQUEST_TOKENS, &[l.model, TOKEN_TYPES[kind]]))
    }
}
