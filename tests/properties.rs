//! Property tests for every parser that sees client input through public API: gRPC status headers, finish
//! reasons, and health check output as `application/health+json`. No input panics; every label comes from a
//! bounded set. (Trace context, label interning, routes and JSON log strings have theirs next to their code.)

use http::{HeaderMap, HeaderValue};
use inferwatch::FinishReason;
use inferwatch::classify::GrpcCode;
use inferwatch::health::{Observation, Report, Status};
use proptest::prelude::*;

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

proptest! {
    #[test]
    fn grpc_status_from_any_header_is_one_of_the_codes(raw in proptest::collection::vec(any::<u8>(), 0..12), message in "\\PC{0,40}") {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(&raw) {
            headers.insert("grpc-status", value);
        }
        if let Ok(value) = HeaderValue::from_str(&message) {
            headers.insert("grpc-message", value);
        }
        if let Some(code) = GrpcCode::from_headers(&headers) {
            prop_assert!(GRPC_NAMES.contains(&code.as_str()));
            let digits = std::str::from_utf8(&raw).ok().and_then(|s| s.trim().parse::<i32>().ok());
            if let Some(n @ 0..=16) = digits {
                prop_assert_eq!(code, GrpcCode::from_i32(n));
            }
        }
    }

    #[test]
    fn grpc_status_from_any_number(n in any::<i32>()) {
        let code = GrpcCode::from_i32(n);
        prop_assert_eq!(code == GrpcCode::Unrecognized, !(0..=16).contains(&n));
    }

    #[test]
    fn finish_reasons_come_from_a_fixed_set(reason in "\\PC{0,30}") {
        let parsed = FinishReason::parse(&reason);
        prop_assert!(["stop", "length", "content_filter", "tool_calls", "error", "_OTHER"].contains(&parsed.as_str()));
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
