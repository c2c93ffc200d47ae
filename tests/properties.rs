//! Property tests for every parser that sees client input through public API: gRPC status headers, finish
//! reasons, and health check output as `application/health+json`. No input panics; every label comes from a
//! bounded set. (Trace context, label interning, routes and JSON log strings have theirs next to their code.)

use http::{HeaderMap, HeaderValue};
use inferwatch::FinishReason;
use inferwatch::classify::GrpcCode;
use inferwatch::health::{Observation, Report, Status};
use proptest::prelude::*;
// The unit tests' edit generator, shared rather than copied.
#[path = "../crates/core/src/test_edits.rs"]
mod test_edits;
use test_edits::mutate;

const GRPC_NAMES: [&str; 18] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
    "_OTHER",
];

/// The code a `grpc-status` header names, by the rule written here rather than the parser's: after surrounding
/// whitespace, an optional sign and decimal digits whose value is 0-16 name that code (`GRPC_NAMES` is in code
/// order); anything else is `_OTHER`.
fn spec_grpc_status(raw: &[u8]) -> &'static str {
    let Ok(text) = std::str::from_utf8(raw) else {
        return "_OTHER";
    };
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return "_OTHER";
    }
    let significant = digits.trim_start_matches('0');
    let value = match significant.as_bytes() {
        [] => 0,
        [d] => usize::from(d - b'0'),
        [d, e] => usize::from(d - b'0') * 10 + usize::from(e - b'0'),
        _ => return "_OTHER",
    };
    match value {
        0 => GRPC_NAMES[0],
        1..=16 if !negative => GRPC_NAMES[value],
        _ => "_OTHER",
    }
}

/// Every spelling `FinishReason::parse` knows, with what it stands for; anything else is `_OTHER`.
const FINISH_SPELLINGS: [(&str, &str); 11] = [
    ("stop", "stop"),
    ("end_turn", "stop"),
    ("stop_sequence", "stop"),
    ("length", "length"),
    ("max_tokens", "length"),
    ("content_filter", "content_filter"),
    ("tool_calls", "tool_calls"),
    ("tool_use", "tool_calls"),
    ("function_call", "tool_calls"),
    ("error", "error"),
    ("_OTHER", "_OTHER"),
];

#[test]
fn the_grpc_status_oracle_agrees_with_the_examples() {
    let cases: [(&[u8], &str); 10] = [
        (b"0", "OK"),
        (b" 14\t", "UNAVAILABLE"),
        (b"016", "UNAUTHENTICATED"),
        (b"+3", "INVALID_ARGUMENT"),
        (b"-0", "OK"),
        (b"17", "_OTHER"),
        (b"-1", "_OTHER"),
        (b"1 4", "_OTHER"),
        (b"", "_OTHER"),
        (b"\xff4", "_OTHER"),
    ];
    for (raw, name) in cases {
        assert_eq!(spec_grpc_status(raw), name, "{raw:?}");
    }
}

proptest! {
    /// Any `grpc-status` a peer sends: no panic, and exactly the code the rule gives. Numbers near the range, with
    /// padding, signs and whitespace, single edits of them, and arbitrary bytes.
    #[test]
    fn grpc_status_from_any_header_is_the_code_it_names(
        number in "[ \t]{0,2}[+-]?0{0,2}[0-9]{1,2}[ \t]{0,2}",
        at in any::<prop::sample::Index>(),
        edit in 0u8..4,
        c in prop_oneof![prop::sample::select(vec!['0', '1', '9', '-', '+', ' ', 'x']), any::<char>()],
        raw in proptest::collection::vec(any::<u8>(), 0..12),
        message in "\\PC{0,40}",
    ) {
        let mutated = mutate(&number, at, edit, c);
        for candidate in [number.as_bytes(), mutated.as_bytes(), raw.as_slice()] {
            let mut headers = HeaderMap::new();
            let valid_header = HeaderValue::from_bytes(candidate).map(|v| headers.insert("grpc-status", v)).is_ok();
            if let Ok(value) = HeaderValue::from_str(&message) {
                headers.insert("grpc-message", value);
            }
            let code = GrpcCode::from_headers(&headers);
            if valid_header {
                prop_assert_eq!(code.map(GrpcCode::as_str), Some(spec_grpc_status(candidate)), "{:?}", candidate);
            } else {
                prop_assert_eq!(code, None, "no header, no code");
            }
        }
    }

    #[test]
    fn grpc_status_from_any_number(n in prop_oneof![-3i32..20, any::<i32>()]) {
        let code = GrpcCode::from_i32(n);
        let expected = usize::try_from(n).ok().filter(|&i| i <= 16).map_or("_OTHER", |i| GRPC_NAMES[i]);
        prop_assert_eq!(code.as_str(), expected);
        prop_assert_eq!(code == GrpcCode::Unrecognized, !(0..=16).contains(&n));
    }

    /// Known spellings, single edits of them (a case change, a stray character) and arbitrary text: exactly the
    /// reason the table gives, `_OTHER` for anything not in it.
    #[test]
    fn finish_reasons_come_from_a_fixed_set(
        known in prop::sample::select(FINISH_SPELLINGS.to_vec()),
        at in any::<prop::sample::Index>(),
        edit in 0u8..4,
        c in prop_oneof![prop::sample::select(vec!['_', 's', 'S', ' ', 'e']), any::<char>()],
        reason in "\\PC{0,30}",
    ) {
        let expected = |text: &str| FINISH_SPELLINGS.iter().find(|(s, _)| *s == text).map_or("_OTHER", |(_, r)| *r);
        let mutated = mutate(known.0, at, edit, c);
        prop_assert_eq!(FinishReason::parse(known.0).as_str(), known.1);
        for candidate in [mutated.as_str(), reason.as_str()] {
            prop_assert_eq!(FinishReason::parse(candidate).as_str(), expected(candidate), "{:?}", candidate);
        }
    }

    #[test]
    fn any_check_output_renders_as_health_json(output in "\\PC{0,200}", control in "[\\x00-\\x1f\"\\\\]{0,5}", value in any::<f64>()) {
        let text = format!("{output}{control}");
        let observation = Observation::warn(text.clone()).observed(value, "percent").component(text.clone(), "component");
        let mut checks = std::collections::BTreeMap::new();
        checks.insert(format!("x:{control}"), vec![observation]);
        let report = Report::new(checks);
        prop_assert_eq!(report.status, Status::Warn);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
        let entry = &json["checks"][format!("x:{control}")][0];
        prop_assert_eq!(entry["output"].as_str(), Some(text.as_str()));
        prop_assert_eq!(entry["status"].as_str(), Some("warn"));
        if value.is_finite() {
            // (serde_json's default float parsing may differ in the last digit, and subnormals, which have fewer
            // digits, by more than a relative 1e-15: they get an absolute bound.)
            let back = entry["observedValue"].as_f64().expect("a number");
            let bound = (value.abs() * 1e-15).max(f64::MIN_POSITIVE);
            prop_assert!((back - value).abs() <= bound, "{back} != {value}");
        } else {
            // JSON has no NaN or infinity: the value is null, and the body still parses.
            prop_assert!(entry["observedValue"].is_null());
        }
    }
}
