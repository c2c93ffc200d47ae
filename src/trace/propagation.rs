//! W3C trace context in and out of HTTP headers (gRPC metadata travels as the same headers).

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// The remote parent named by `traceparent` / `tracestate`, or `None` when they are absent or malformed (a
/// malformed header starts a new trace; it never fails the request).
pub(crate) fn extract(headers: &HeaderMap) -> Option<Context> {
    let traceparent = headers.get("traceparent")?.to_str().ok()?;
    if !is_well_formed(traceparent.trim()) {
        return None;
    }
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

/// The W3C shape: `vv-<32 lowercase hex>-<16 lowercase hex>-<2 lowercase hex>`, version `ff` forbidden, and a
/// later version may append `-...`. (The SDK's propagator accepts ids of the wrong length.)
fn is_well_formed(traceparent: &str) -> bool {
    let hex =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let Some(head) = traceparent.get(..55) else {
        return false;
    };
    let mut parts = head.split('-');
    let (Some(version), Some(trace_id), Some(span_id), Some(flags), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let fields_ok = hex(version, 2) && hex(trace_id, 32) && hex(span_id, 16) && hex(flags, 2) && version != "ff";
    let rest = &traceparent[55..];
    fields_ok && (rest.is_empty() || (version != "00" && rest.starts_with('-')))
}

/// Writes `traceparent` (and `tracestate` when non-empty) for `cx` into `headers`.
pub(crate) fn inject(cx: &Context, headers: &mut HeaderMap) {
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(traceparent: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("traceparent", HeaderValue::from_str(traceparent).expect("ascii"));
        h
    }

    #[test]
    fn accepts_a_valid_parent() {
        let cx = extract(&headers("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).expect("valid");
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(cx.span().span_context().is_remote());
    }

    #[test]
    fn malformed_values_start_a_new_trace() {
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", // trace id one short
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01", // span id one short
            "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01", // not hex
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero span id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version not hex
            "",
            "garbage",
        ] {
            assert!(extract(&headers(bad)).is_none(), "{bad:?} must not be accepted");
        }
        let mut opaque = HeaderMap::new();
        opaque.insert("traceparent", HeaderValue::from_bytes(&[0xff, 0xfe]).expect("opaque"));
        assert!(extract(&opaque).is_none());
    }
}
