//! What the tracing observer makes of a user's feedback: a span linked to the answer's request, and a log line.

use opentelemetry::KeyValue;
use opentelemetry::StringValue;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::contract::LOG_TARGET;
use crate::labels::LabelValue;
use crate::request::LayerEvent;

/// A span for a user's feedback, linked to the request it rates, ended at once.
pub(super) fn span(event: &LayerEvent<'_>) {
    let LayerEvent::Feedback {
        rating,
        score,
        model,
        experiment,
        trace,
        unattributed,
        repeated,
        ..
    } = *event
    else {
        return;
    };
    if !tracing::dispatcher::has_been_set() {
        return;
    }
    let span =
        tracing::info_span!(target: LOG_TARGET, parent: None, "feedback", otel.name = "feedback", otel.kind = "server");
    if let Some((trace_id, span_id)) = trace {
        let linked = SpanContext::new(trace_id, span_id, TraceFlags::SAMPLED, true, TraceState::default());
        span.add_link(linked);
    }
    let cx = span.context();
    let otel = cx.span();
    if !otel.is_recording() {
        return;
    }
    let mut attributes = vec![
        KeyValue::new("gen_ai.request.model", StringValue::from(model.shared())),
        KeyValue::new("inferwatch.feedback.rating", rating.as_str()),
    ];
    if let Some(score) = score {
        attributes.push(KeyValue::new("inferwatch.feedback.score", score));
    }
    if let Some((experiment, variant)) = experiment {
        push_experiment(&mut attributes, experiment, variant);
    }
    if let Some(reason) = unattributed {
        attributes.push(KeyValue::new("inferwatch.feedback.unattributed", reason.as_str()));
    }
    if repeated {
        attributes.push(KeyValue::new("inferwatch.feedback.repeated", true));
    }
    otel.set_attributes(attributes);
}

/// One line per feedback received: what was rated and how, never the user's comment.
pub(super) fn log(event: &LayerEvent<'_>) {
    let LayerEvent::Feedback {
        rating,
        model,
        experiment,
        age,
        unattributed,
        repeated,
        ..
    } = *event
    else {
        return;
    };
    tracing::info!(
        target: LOG_TARGET,
        age_s = age.map_or(f64::NAN, |a| a.as_secs_f64()),
        experiment = experiment.map_or("", |(e, _)| e.as_str()),
        model = model.as_str(),
        rating = rating.as_str(),
        repeated = repeated,
        unattributed = unattributed.map_or("", |u| u.as_str()),
        variant = experiment.map_or("", |(_, v)| v.as_str()),
        message = "feedback received",
    );
}

/// The experiment and variant of the answer feedback is about, as span attributes.
fn push_experiment(attributes: &mut Vec<KeyValue>, experiment: &LabelValue, variant: &LabelValue) {
    attributes.push(KeyValue::new(
        "inferwatch.experiment.name",
        StringValue::from(experiment.shared()),
    ));
    attributes.push(KeyValue::new(
        "inferwatch.experiment.variant",
        StringValue::from(variant.shared()),
    ));
}
