//! Summary lines handed straight to the log queue (the guard's tracing observer's `SummaryWriter`): the lines the
//! event path writes, filtered alike, and the event path kept wherever the writer is not the lines' only reader.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use super::TelemetryBuilder;
use inferwatch_core::InferenceLayer;

thread_local! {
    /// Summary lines handed to the log queue directly on this thread, for tests to tell the two ways apart.
    pub(super) static DIRECT_LINES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A writer keeping what is written, for the telemetry tests to read back.
#[derive(Clone, Default)]
pub(super) struct Lines(pub(super) Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Answers with the status its path names.
async fn status(Path(code): Path<u16>) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

/// Requests answered 200, 404 and 500 under telemetry's subscriber with a log queue of `queue` lines (0: none) and
/// `filter`: the summary lines written, with what differs between two runs (duration, time, ids) replaced by `"X"`
/// once checked, and how many lines went to the writer directly.
fn summary_lines(queue: usize, filter: &str) -> (Vec<String>, usize) {
    summary_lines_with(queue, filter, |b| b)
}

/// [`summary_lines`] with more settings.
fn summary_lines_with(
    queue: usize,
    filter: &str,
    configure: impl FnOnce(TelemetryBuilder) -> TelemetryBuilder,
) -> (Vec<String>, usize) {
    let lines = Lines::default();
    let (dispatch, guard) = configure(TelemetryBuilder::new())
        .writer(lines.clone())
        .log_queue(queue)
        .default_log_filter(filter)
        .dispatch()
        .expect("telemetry");
    let router = Router::new()
        .route("/status/{code}", get(status))
        .layer(InferenceLayer::builder().observer(guard.tracing_observer()).build());
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let before = DIRECT_LINES.get();
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            for code in [200, 404, 500] {
                let request = Request::get(format!("/status/{code}"))
                    .body(Body::empty())
                    .expect("request");
                let response = router.clone().oneshot(request).await.expect("response");
                assert_eq!(response.status().as_u16(), code);
                // The line is written at the end of the body.
                response.into_body().collect().await.expect("body");
            }
        })
    });
    let direct = DIRECT_LINES.get() - before;
    drop(guard);
    let text = String::from_utf8(lines.0.lock().expect("lock").clone()).expect("utf-8");
    let summaries = text
        .lines()
        .filter(|l| l.contains("\"message\":\"request finished\""))
        .map(|line| {
            let mut line = line.to_owned();
            let number = |c: char| c.is_ascii_digit() || c == '.';
            let time = |c: char| c.is_ascii_digit() || "TZ:.-\"".contains(c);
            let hex = |c: char| c.is_ascii_hexdigit() && !c.is_ascii_uppercase() || c == '"';
            let fields: [(&str, &dyn Fn(char) -> bool); 4] = [
                ("duration_ms", &number),
                ("timestamp", &time),
                ("trace_id", &hex),
                ("span_id", &hex),
            ];
            for (key, fits) in fields {
                line = cut(&line, key, fits);
            }
            line
        })
        .collect();
    (summaries, direct)
}

/// `line` with the value of `key` replaced by `"X"`, after checking that every character of it `fits`.
fn cut(line: &str, key: &str, fits: &dyn Fn(char) -> bool) -> String {
    let start = line
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} in {line}"))
        + key.len()
        + 3;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    let value = &rest[..end];
    assert!(
        !value.is_empty() && value.chars().all(fits),
        "{key}: {value:?} in {line}"
    );
    if let Some(digits) = [("trace_id", 32), ("span_id", 16)]
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, n)| *n)
    {
        assert_eq!(value.trim_matches('"').len(), digits, "{line}");
    }
    format!("{}\"X\"{}", &line[..start], &rest[end..])
}

#[test]
fn summary_lines_handed_over_directly_are_the_lines_of_the_event_path() {
    // The filter below is the builder's default, which `RUST_LOG` overrides.
    if std::env::var_os("RUST_LOG").is_some() {
        eprintln!("skipped: RUST_LOG is set");
        return;
    }
    let (direct, handed) = summary_lines(64, "info");
    let (event, not_handed) = summary_lines(0, "info");
    assert_eq!(
        handed, 3,
        "a queued JSON writer and a plain filter: every line handed over"
    );
    assert_eq!(not_handed, 0, "no queue: the event path");
    assert_eq!(direct, event);
    let levels: Vec<serde_json::Value> = direct
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["level"].clone())
        .collect();
    assert_eq!(levels, ["INFO", "WARN", "ERROR"]);
    assert!(direct[1].contains("\"outcome\":\"client_error\"") && direct[1].contains("\"span\":\"request\""));

    // Filtered alike: lines below WARN are not written either way, and those are not handed over.
    let (direct, handed) = summary_lines(64, "inferwatch=warn");
    let (event, _) = summary_lines(0, "inferwatch=warn");
    assert_eq!(handed, 2);
    assert_eq!(direct, event);
    assert_eq!(direct.len(), 2);
    let (direct, handed) = summary_lines(64, "off");
    assert_eq!((direct.len(), handed), (0, 0));

    // Requests the sampler drops have no span, and their lines the same ids and keys.
    let unsampled = |b: TelemetryBuilder| b.sampling_ratio(0.0);
    let (direct, handed) = summary_lines_with(64, "info", unsampled);
    let (event, _) = summary_lines_with(0, "info", unsampled);
    assert_eq!(handed, 3);
    assert_eq!(direct, event);
    assert!(direct.iter().all(|l| l.contains("\"span\":\"request\"")));

    // A filter that looks inside spans is left to decide on the event.
    let (lines, handed) = summary_lines(64, "inferwatch[request]=info");
    assert_eq!(handed, 0);
    assert_eq!(lines.len(), 3);
}
