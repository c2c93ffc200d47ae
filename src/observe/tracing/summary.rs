//! The summary log line: one per finished request, server errors at ERROR, client errors at WARN, the rest at
//! INFO. Its fields are the log contract that tests and CI parse; prompt text is never among them.

use tracing::Level;

use crate::classify::Outcome;
use crate::contract::LOG_TARGET;
use crate::request::RequestSummary;

pub(super) fn log(s: &RequestSummary<'_>) {
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
                finish_reason = s.reported.finish_reason.map_or("", |r| r.as_str()),
                input_tokens = s.reported.usage.input_tokens,
                method = info.method.as_str(),
                model = s.reported.model.map_or("", |m| m.as_str()),
                outcome = s.outcome.as_str(),
                output_tokens = s.reported.usage.output_tokens,
                route = info.route.as_str(),
                status = status,
                ttft_ms = s.time_to_first_token.map_or(f64::NAN, ms),
                "request finished"
            )
        };
    }
    match s.outcome {
        Outcome::ServerError => summary!(Level::ERROR),
        Outcome::ClientError => summary!(Level::WARN),
        Outcome::Ok | Outcome::Cancelled => summary!(Level::INFO),
    }
}
