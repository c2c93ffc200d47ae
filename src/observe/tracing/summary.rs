//! The summary log line: one per finished request, server errors at ERROR, client errors at WARN, the rest at
//! INFO. Its fields are the log contract that tests and CI parse; prompt text is never among them.

use opentelemetry::trace::SpanContext;
use tracing::Level;

use crate::classify::Outcome;
use crate::contract::LOG_TARGET;
use crate::request::{FeedbackEvent, RequestSummary};

/// Logs the summary line, with the request span's ids when it has valid ones: then no writer has to look them up.
pub(super) fn log(s: &RequestSummary<'_>, ids: Option<&SpanContext>) {
    let (mut trace_id, mut span_id) = ([0u8; 32], [0u8; 16]);
    let ids = ids.map(|sc| {
        (
            hex(&sc.trace_id().to_bytes(), &mut trace_id),
            hex(&sc.span_id().to_bytes(), &mut span_id),
        )
    });
    let info = s.info;
    let status = match (s.grpc_code, &s.status) {
        (Some(code), _) => code.as_str(),
        (None, Some(status)) => status.as_str(),
        (None, None) => "",
    };
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    macro_rules! summary {
        ($level:expr) => {
            tracing::event!(
                target: LOG_TARGET,
                $level,
                // In the order of their names: JSON lines list them so.
                duration_ms = ms(s.duration),
                error_type = s.error_type.as_ref().map_or("", |e| e.as_str()),
                experiment = s.reported.experiment.map_or("", |(e, _)| e.as_str()),
                finish_reason = s.reported.finish_reason.map_or("", |r| r.as_str()),
                input_tokens = s.reported.usage.input_tokens,
                method = info.method.as_str(),
                model = s.reported.model.map_or("", |m| m.as_str()),
                outcome = s.outcome.as_str(),
                output_tokens = s.reported.usage.output_tokens,
                response_model = s.reported.response_model.map_or("", |m| m.as_str()),
                route = info.route.as_str(),
                span_id = ids.map(|(_, span)| span),
                status = status,
                trace_id = ids.map(|(trace, _)| trace),
                ttft_ms = s.time_to_first_token.map_or(f64::NAN, ms),
                variant = s.reported.experiment.map_or("", |(_, v)| v.as_str()),
                // A plain string rather than a format string: writers take it as it is.
                message = "request finished",
            )
        };
    }
    match s.outcome {
        Outcome::ServerError => summary!(Level::ERROR),
        Outcome::ClientError => summary!(Level::WARN),
        Outcome::Ok | Outcome::Cancelled => summary!(Level::INFO),
    }
}

/// One line per feedback received: what was rated and how, never the user's comment.
pub(super) fn log_feedback(f: &FeedbackEvent<'_>) {
    tracing::info!(
        target: LOG_TARGET,
        age_s = f.age.map_or(f64::NAN, |a| a.as_secs_f64()),
        experiment = f.experiment.map_or("", |(e, _)| e.as_str()),
        model = f.model.as_str(),
        rating = f.rating.as_str(),
        unattributed = f.unattributed.map_or("", |u| u.as_str()),
        variant = f.experiment.map_or("", |(_, v)| v.as_str()),
        message = "feedback received",
    );
}

/// `bytes` in lowercase hex, in `out` (twice as long), as a `&str` without allocating.
fn hex<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    // Only ASCII hex digits were written.
    std::str::from_utf8(out).unwrap_or_default()
}
