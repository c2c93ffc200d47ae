//! Trace context in and out of HTTP headers (gRPC metadata travels as the same headers), through OpenTelemetry's
//! global propagator, so that what `OTEL_PROPAGATORS` names or the application installed is honoured
//! (`telemetry::init` installs W3C trace context and baggage by default; OpenTelemetry's own
//! default propagates nothing). Whatever the propagator, a malformed `traceparent` is never read.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;

/// Headers as the propagator reads them, with a malformed `traceparent` hidden: the SDK's parser accepts ids of
/// the wrong length, and a bad header must start a new trace, never join a made-up one.
struct StrictHeaders<'a>(&'a HeaderMap);

/// The W3C propagators' fields, named once: looking a header up by a `&str` parses the name on every call.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
static BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// The W3C field named `key` (header names are lowercase, as propagators name their fields).
fn known_field(key: &str) -> Option<&'static HeaderName> {
    match key {
        "traceparent" => Some(&TRACEPARENT),
        "tracestate" => Some(&TRACESTATE),
        "baggage" => Some(&BAGGAGE),
        _ => None,
    }
}

impl Extractor for StrictHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match known_field(key) {
            Some(name) => self.0.get(name),
            None => self.0.get(key),
        };
        let value = value?.to_str().ok()?;
        if key.eq_ignore_ascii_case("traceparent") && !is_well_formed(value.trim()) {
            return None;
        }
        Some(value)
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

/// The remote parent the headers name, or `None` when they name none (absent or malformed: a new trace starts,
/// and the request never fails for it).
pub(super) fn extract(headers: &HeaderMap) -> Option<Context> {
    global::get_text_map_propagator(|p| extract_with(p, headers))
}

fn extract_with(propagator: &dyn TextMapPropagator, headers: &HeaderMap) -> Option<Context> {
    // Most requests carry no trace context, and asking W3C trace context and baggage for it costs more than the rest
    // of an unsampled request's trace context. A propagator that reads only W3C fields,
    // none of them present, returns the current context as it is: taken here without asking. Any other propagator,
    // or one that lists no field, is always asked (Jaeger's, say, also reads headers it does not list).
    let mut fields = propagator.fields().peekable();
    let w3c_only = fields.peek().is_some() && fields.all(|field| known_field(field).is_some());
    // One pass over the headers (a handful) rather than a hashed lookup per field.
    let cx = if w3c_only && !headers.keys().any(|name| known_field(name.as_str()).is_some()) {
        Context::current()
    } else {
        propagator.extract(&StrictHeaders(headers))
    };
    let has_parent = cx.span().span_context().is_valid();
    (has_parent || !cx.baggage().is_empty()).then_some(cx)
}

/// Writes the trace context of `cx` into `headers` (`traceparent`, and `tracestate` when non-empty, with W3C).
pub(super) fn inject(cx: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut HeaderInjector(headers)));
}

/// The W3C shape: `vv-<32 lowercase hex>-<16 lowercase hex>-<2 lowercase hex>`, version `ff` forbidden, and a
/// later version may append `-...`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::TextMapCompositePropagator;
    use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

    fn headers(traceparent: &str) -> HeaderMap {
        global::set_text_map_propagator(TraceContextPropagator::new());
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

    fn w3c() -> TextMapCompositePropagator {
        TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn without_w3c_headers_the_current_context_is_what_the_propagator_would_give() {
        let with = |name: &'static str, value: &str| {
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            h.insert(name, HeaderValue::from_str(value).expect("ascii"));
            h
        };
        let none = with("x-other", "1");
        assert!(extract_with(&w3c(), &none).is_none());
        let baggage = extract_with(&w3c(), &with("baggage", "tenant=a")).expect("baggage alone is context");
        assert_eq!(
            baggage.baggage().get("tenant").map(|v| v.as_str().to_owned()),
            Some("a".into())
        );
        let parent = extract_with(&w3c(), &with("traceparent", PARENT)).expect("parent");
        assert!(parent.span().span_context().is_remote());

        // Inside another trace's context, no headers: the propagator would hand that context back, and so must the
        // shortcut.
        let outer = w3c().extract(&StrictHeaders(&with("traceparent", PARENT)));
        let _attached = outer.attach();
        for propagator in [&w3c() as &dyn TextMapPropagator, &TraceContextPropagator::new()] {
            let asked = propagator.extract(&StrictHeaders(&none));
            let taken = extract_with(propagator, &none).expect("the current context");
            assert_eq!(taken.span().span_context(), asked.span().span_context());
            assert_eq!(
                taken.span().span_context().trace_id().to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736"
            );
        }
    }

    /// Reads a header it does not declare, as Jaeger's propagator does with `uberctx-` baggage.
    #[derive(Debug)]
    struct Undeclared;

    impl TextMapPropagator for Undeclared {
        fn inject_context(&self, _: &Context, _: &mut dyn Injector) {}

        fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
            match extractor.get("x-undeclared") {
                Some(value) => cx.with_baggage(vec![opentelemetry::KeyValue::new("undeclared", value.to_owned())]),
                None => cx.clone(),
            }
        }

        fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
            opentelemetry::propagation::text_map_propagator::FieldIter::new(&[])
        }
    }

    #[test]
    fn propagators_reading_other_headers_are_always_asked() {
        let mut h = HeaderMap::new();
        h.insert("x-undeclared", HeaderValue::from_static("v"));
        let cx = extract_with(&Undeclared, &h).expect("asked");
        assert_eq!(
            cx.baggage().get("undeclared").map(|v| v.as_str().to_owned()),
            Some("v".into())
        );
    }

    /// The W3C Trace Context rules for `traceparent`, written from the specification (not from `is_well_formed`):
    /// the trace id a value names, or `None` when it must be ignored. Fixed positions: `vv-` at 0, 32 lowercase hex
    /// digits at 3, `-` at 35, 16 at 36, `-` at 52, 2 at 53; version `ff` invalid, all-zero ids invalid; version 00
    /// is exactly 55 characters, a later one may go on after a `-`. Surrounding spaces and tabs are not part of the
    /// value (HTTP's optional whitespace); a value that is not visible ASCII is not read at all.
    fn spec_trace_id(value: &str) -> Option<&str> {
        if !value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            return None;
        }
        let v = value.trim_matches([' ', '\t']).as_bytes();
        let lower_hex = |at: usize, len: usize| v[at..at + len].iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let zero = |at: usize, len: usize| v[at..at + len].iter().all(|&b| b == b'0');
        let shape = v.len() >= 55
            && lower_hex(0, 2)
            && v[2] == b'-'
            && lower_hex(3, 32)
            && v[35] == b'-'
            && lower_hex(36, 16)
            && v[52] == b'-'
            && lower_hex(53, 2);
        if !shape || &v[..2] == b"ff" || zero(3, 32) || zero(36, 16) {
            return None;
        }
        if v.len() > 55 && (&v[..2] == b"00" || v[55] != b'-') {
            return None;
        }
        std::str::from_utf8(&v[3..35]).ok()
    }

    #[test]
    fn the_spec_oracle_agrees_with_the_examples() {
        assert_eq!(spec_trace_id(PARENT), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(
            spec_trace_id(&format!(" {}-xyz\t", PARENT.replacen("00", "01", 1))),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "",
            "garbage",
        ] {
            assert_eq!(spec_trace_id(bad), None, "{bad:?}");
        }
    }

    /// A well-formed `traceparent`: any version but `ff` (00 half the time), random ids, any flags, for a later
    /// version sometimes a suffix, sometimes surrounding whitespace.
    fn valid_traceparent() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let version = prop_oneof![Just("00".to_owned()), "[0-9a-e][0-9a-f]", "f[0-9a-e]"];
        let suffix = prop_oneof![Just(String::new()), "-[ -~]{0,12}"];
        (
            version,
            "[0-9a-f]{32}",
            "[0-9a-f]{16}",
            "[0-9a-f]{2}",
            suffix,
            "[ \t]{0,2}",
            "[ \t]{0,2}",
        )
            .prop_map(|(version, trace, span, flags, suffix, lead, trail)| {
                let suffix = if version == "00" { "" } else { suffix.as_str() };
                format!("{lead}{version}-{trace}-{span}-{flags}{suffix}{trail}")
            })
    }

    use crate::test_edits::mutate;

    proptest::proptest! {
        /// Whatever a client sends as `traceparent` / `tracestate`: no panic, a parent exactly when the W3C rules
        /// accept the value (both directions), and then with the trace id the value names. Valid values and single
        /// edits of them make both outcomes common; arbitrary text covers the rest.
        #[test]
        fn any_trace_context_is_safe(
            valid in valid_traceparent(),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            edit in 0u8..4,
            c in proptest::prop_oneof![
                proptest::sample::select(vec!['0', '9', 'a', 'f', 'g', 'A', 'F', '-', ' ', '\t', '_']),
                proptest::prelude::any::<char>(),
            ],
            traceparent in "\\PC{0,80}",
            tracestate in "\\PC{0,80}",
            hexy in "[0-9a-f-]{50,60}",
        ) {
            proptest::prop_assert!(spec_trace_id(&valid).is_some(), "the generator's value is valid: {valid:?}");
            let mutated = mutate(&valid, at, edit, c);
            for candidate in [valid.as_str(), mutated.as_str(), traceparent.as_str(), hexy.as_str()] {
                let mut h = headers(PARENT);
                match HeaderValue::from_str(candidate) {
                    Ok(value) => { h.insert("traceparent", value); }
                    Err(_) => continue,
                }
                if let Ok(value) = HeaderValue::from_str(&tracestate) {
                    h.insert("tracestate", value);
                }
                let parent = extract(&h).map(|cx| cx.span().span_context().trace_id().to_string());
                proptest::prop_assert_eq!(parent.as_deref(), spec_trace_id(candidate), "{:?}", candidate);
            }
        }
    }
}
