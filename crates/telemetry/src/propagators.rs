//! `OTEL_PROPAGATORS`: which trace context formats are read from and written to headers.

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// The propagator `OTEL_PROPAGATORS` names (default `tracecontext,baggage`; `none` propagates nothing), and the
/// names it does not know, which are ignored (as the OpenTelemetry specification asks) and reported.
pub(super) fn from_env(value: Option<&str>) -> (TextMapCompositePropagator, Vec<String>) {
    let value = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or("tracecontext,baggage");
    let mut propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    let mut ignored = Vec::new();
    let names: Vec<&str> = value.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    if !names.contains(&"none") {
        for name in names {
            match name {
                "tracecontext" => propagators.push(Box::new(TraceContextPropagator::new())),
                "baggage" => propagators.push(Box::new(BaggagePropagator::new())),
                other => ignored.push(other.to_owned()),
            }
        }
    }
    (TextMapCompositePropagator::new(propagators), ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Option<&str>) -> (Vec<String>, Vec<String>) {
        let (propagator, ignored) = from_env(value);
        let mut fields: Vec<String> = propagator.fields().map(str::to_owned).collect();
        fields.sort();
        (fields, ignored)
    }

    #[test]
    fn names_map_to_propagators() {
        let w3c = vec!["baggage".to_owned(), "traceparent".to_owned(), "tracestate".to_owned()];
        assert_eq!(fields(None), (w3c.clone(), vec![]));
        assert_eq!(fields(Some("")), (w3c.clone(), vec![]));
        assert_eq!(fields(Some(" tracecontext , baggage ")), (w3c, vec![]));
        assert_eq!(fields(Some("baggage")), (vec!["baggage".to_owned()], vec![]));
        assert_eq!(fields(Some("none")), (vec![], vec![]));
        assert_eq!(
            fields(Some("b3,tracecontext")),
            (
                vec!["traceparent".to_owned(), "tracestate".to_owned()],
                vec!["b3".to_owned()]
            )
        );
    }
}
