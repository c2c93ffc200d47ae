//! Writing one JSON log line by hand into a reused buffer: field values, string escapes, the RFC 3339 timestamp.
//! No map, no per-field allocation: the line is bytes from the first field to the newline.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};

use inferwatch_core::contract::LOG_TARGET;
use inferwatch_core::observe::{REQUEST_SPAN_NAME, SUMMARY_MESSAGE, SummaryLine};

/// Which bytes must be escaped inside a JSON string: controls, `"` and `\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// `s` as a JSON string, quotes included.
pub(super) fn string(out: &mut Vec<u8>, s: &str) {
    // Most values (routes, models, statuses, field names) need no escape: copy them as they are.
    if !s.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]) {
        plain_string(out, s.as_bytes());
        return;
    }
    // Writing into a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// `bytes`, known to need no escape (hex digits, fixed vocabularies, HTTP method tokens), between quotes.
pub(super) fn plain_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// `bytes` as a quoted string of lowercase hex digits (trace and span ids).
pub(super) fn hex<const N: usize>(out: &mut Vec<u8>, bytes: &[u8; N]) {
    plain_string(out, const_hex::Buffer::<N>::new().format(bytes).as_bytes());
}

/// A number, or null for NaN and infinities (JSON has neither: a missing measurement is null).
pub(super) fn number(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `micros` microseconds in milliseconds: the digits ryu writes for
/// [`SummaryLine::ms_from_micros`]`(micros)`, the number the summary event carries, without formatting a float.
pub(super) fn millis(out: &mut Vec<u8>, micros: u64) {
    // A decimal of at most 15 significant digits is what its nearest float prints back as; longer ones may not be
    // (a request would have to last 31 years).
    if micros >= 1_000_000_000_000_000 {
        return number(out, SummaryLine::ms_from_micros(micros));
    }
    let (whole, frac) = (micros / 1000, micros % 1000);
    out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
    out.push(b'.');
    // The fraction's trailing zeros dropped, but one.
    let (frac, width) = match frac {
        f if f % 100 == 0 => (f / 100, 1),
        f if f % 10 == 0 => (f / 10, 2),
        f => (f, 3),
    };
    digits(out, frac, width);
}

/// The summary line's fields but its ids and message, as visiting its event would write them (keys in order).
fn summary_fields(out: &mut Vec<u8>, v: &SummaryLine) {
    // Status codes, gRPC code names, outcomes, finish reasons and HTTP method tokens never need an escape; labels
    // (experiment, model, route, variant) may need one.
    let plain = |out: &mut Vec<u8>, key: &[u8], value: &str| {
        out.extend_from_slice(key);
        plain_string(out, value.as_bytes());
    };
    let integer = |out: &mut Vec<u8>, n: u64| out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.reserve(320);
    out.extend_from_slice(b"\"duration_ms\":");
    millis(out, v.duration_us());
    plain(out, b",\"error_type\":", v.error_type());
    out.extend_from_slice(b",\"experiment\":");
    string(out, v.experiment());
    plain(out, b",\"finish_reason\":", v.finish_reason());
    out.extend_from_slice(b",\"input_tokens\":");
    integer(out, v.input_tokens());
    plain(out, b",\"method\":", v.method());
    out.extend_from_slice(b",\"model\":");
    string(out, v.model());
    plain(out, b",\"outcome\":", v.outcome());
    out.extend_from_slice(b",\"output_tokens\":");
    integer(out, v.output_tokens());
    out.extend_from_slice(b",\"response_model\":");
    string(out, v.response_model());
    out.extend_from_slice(b",\"route\":");
    string(out, v.route());
    plain(out, b",\"status\":", v.status());
    out.extend_from_slice(b",\"ttft_ms\":");
    match v.ttft_us() {
        Some(micros) => millis(out, micros),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"variant\":");
    string(out, v.variant());
}

/// The summary line up to its message, `{"fields":{…},"level":…,"message":…`: what every summary line written from
/// its values begins with, with or without the request's ids.
pub(super) fn summary_head(out: &mut Vec<u8>, v: &SummaryLine) {
    out.reserve(640);
    out.extend_from_slice(b"{\"fields\":{");
    summary_fields(out, v);
    out.extend_from_slice(b"},\"level\":");
    plain_string(out, v.level().as_str().as_bytes());
    out.extend_from_slice(b",\"message\":");
    plain_string(out, SUMMARY_MESSAGE.as_bytes());
}

/// The whole summary line of a request whose values carry its ids (`false`, with nothing written, when they do
/// not): what `JsonLayer` writes for its event, keys in the same order.
pub(super) fn summary_line(out: &mut Vec<u8>, v: &SummaryLine, at: SystemTime) -> bool {
    let Some((trace_id, span_id)) = v.ids() else {
        return false;
    };
    summary_head(out, v);
    out.extend_from_slice(b",\"span\":");
    plain_string(out, REQUEST_SPAN_NAME.as_bytes());
    out.extend_from_slice(b",\"span_id\":");
    hex(out, &span_id.to_bytes());
    // inferwatch's own target: nothing to escape.
    out.extend_from_slice(b",\"target\":");
    plain_string(out, LOG_TARGET.as_bytes());
    out.extend_from_slice(b",\"timestamp\":");
    timestamp(out, at);
    out.extend_from_slice(b",\"trace_id\":");
    hex(out, &trace_id.to_bytes());
    out.extend_from_slice(b"}\n");
    true
}

/// Appends `"key":`.
pub(super) fn key(out: &mut Vec<u8>, key: &str) {
    // Field names are identifiers (dotted at most) but for string-literal names, which may hold anything.
    if key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        return;
    }
    string(out, key);
    out.push(b':');
}

/// The event's fields as `"name":value` pairs, and its message apart (it goes to its own key).
pub(super) struct Fields<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) message: &'a mut Vec<u8>,
    pub(super) scratch: &'a mut String,
    pub(super) count: usize,
    /// Where `trace_id` and `span_id` fields go instead, when the event carries its span's ids itself (inferwatch's
    /// summary line does: then no lookup is needed).
    pub(super) ids: Option<(&'a mut Vec<u8>, &'a mut Vec<u8>)>,
}

impl Fields<'_> {
    fn next_key(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        if field.name() == "message" {
            return None;
        }
        if let Some((trace_id, span_id)) = self.ids.as_mut() {
            match field.name() {
                "trace_id" => return Some(&mut **trace_id),
                "span_id" => return Some(&mut **span_id),
                _ => {}
            }
        }
        if self.count > 0 {
            self.out.push(b',');
        }
        self.count += 1;
        key(self.out, field.name());
        Some(self.out)
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let Some(out) = self.next_key(field) else { return };
        number(out, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let Some(out) = self.next_key(field) else { return };
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let Some(out) = self.next_key(field) else { return };
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        let Some(out) = self.next_key(field) else { return };
        out.extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            string(self.message, value);
            return;
        }
        let Some(out) = self.next_key(field) else { return };
        string(out, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.scratch.clear();
        let _ = write!(self.scratch, "{value}");
        let text = std::mem::take(self.scratch);
        self.record_str(field, &text);
        *self.scratch = text;
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.scratch.clear();
        let _ = write!(self.scratch, "{value:?}");
        let text = std::mem::take(self.scratch);
        self.record_str(field, &text);
        *self.scratch = text;
    }
}

/// `"2026-11-21T19:58:14.629260Z"`: UTC, microseconds, as tracing-subscriber's `SystemTime` timer writes it.
pub(super) fn timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    // Lines come many to a second: the date and time up to the second are written once a second per thread.
    LAST_SECOND.with(|last| {
        let (at, prefix) = &mut *last.borrow_mut();
        if *at != Some(secs) {
            prefix.clear();
            second_prefix(prefix, secs);
            *at = Some(secs);
        }
        out.extend_from_slice(prefix);
    });
    digits(out, u64::from(since.subsec_micros()), 6);
    out.extend_from_slice(b"Z\"");
}

thread_local! {
    static LAST_SECOND: std::cell::RefCell<(Option<u64>, Vec<u8>)> = const { std::cell::RefCell::new((None, Vec::new())) };
}

/// `value` in `width` decimal digits (at most 6), zero-padded. Digit by digit: this runs for every line, and
/// `format!` machinery costs more than the rest of it.
fn digits(out: &mut Vec<u8>, value: u64, width: usize) {
    const POWERS: [u64; 6] = [100_000, 10_000, 1_000, 100, 10, 1];
    for power in &POWERS[POWERS.len() - width.min(6)..] {
        out.push(b'0' + (value / power % 10) as u8);
    }
}

/// `"2026-11-21T19:58:14.` for `secs` since the epoch.
fn second_prefix(out: &mut Vec<u8>, secs: u64) {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    out.push(b'"');
    digits(out, year.clamp(0, 9999) as u64, 4);
    out.push(b'-');
    digits(out, u64::from(month), 2);
    out.push(b'-');
    digits(out, u64::from(day), 2);
    out.push(b'T');
    digits(out, rem / 3600, 2);
    out.push(b':');
    digits(out, rem % 3600 / 60, 2);
    out.push(b':');
    digits(out, rem % 60, 2);
    out.push(b'.');
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_micros() {
        let mut out = Vec::new();
        let at = UNIX_EPOCH + Duration::from_micros(1_795_291_094_629_260);
        timestamp(&mut out, at);
        assert_eq!(String::from_utf8(out).unwrap(), "\"2026-11-21T19:58:14.629260Z\"");
        // The cached second, then the next one, then an earlier one.
        for (micros, text) in [
            (1_795_291_094_000_001, "\"2026-11-21T19:58:14.000001Z\""),
            (1_795_291_095_999_999, "\"2026-11-21T19:58:15.999999Z\""),
            (0, "\"1970-01-01T00:00:00.000000Z\""),
        ] {
            let mut out = Vec::new();
            timestamp(&mut out, UNIX_EPOCH + Duration::from_micros(micros));
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
        for (days, date) in [
            (0, (1970, 1, 1)),
            (11_016, (2000, 2, 29)),
            (-1, (1969, 12, 31)),
            (20_779, (2026, 11, 22)),
        ] {
            assert_eq!(civil_from_days(days), date);
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn millis_at_the_edges() {
        for (micros, expected) in [
            (0, "0.0"),
            (1, "0.001"),
            (10, "0.01"),
            (1000, "1.0"),
            (1001, "1.001"),
            (36_370, "36.37"),
            (999_999_999_999_999, "999999999999.999"),
            (1_000_000_000_000_000, "1000000000000.0"),
        ] {
            let mut out = Vec::new();
            millis(&mut out, micros);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{micros}");
        }
    }

    proptest::proptest! {
        /// Milliseconds from integer microseconds are what ryu writes for the float the event carries.
        #[test]
        fn millis_are_the_floats_digits(micros in proptest::prop_oneof![0u64..10_000_000, 0u64..1_000_000_000_000_000, proptest::num::u64::ANY]) {
            let mut written = Vec::new();
            millis(&mut written, micros);
            let mut float = Vec::new();
            number(&mut float, SummaryLine::ms_from_micros(micros));
            proptest::prop_assert_eq!(String::from_utf8(written).unwrap(), String::from_utf8(float).unwrap());
        }

        /// Any string, written as a JSON string by hand, reads back as itself.
        #[test]
        fn strings_round_trip(text in "\\PC*|[\\x00-\\x1f\"\\\\]{0,8}") {
            let mut out = Vec::new();
            string(&mut out, &text);
            let back: String = serde_json::from_slice(&out).expect("valid JSON");
            proptest::prop_assert_eq!(back, text);
        }
    }
}
