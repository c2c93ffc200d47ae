//! [`JsonLayer`]: one JSON object per event, with the trace and span ids of the span it happened in.
//!
//! A layer of its own rather than tracing-subscriber's `fmt` layer: that one formats every span's fields into
//! the span's extensions on creation and on every `record`, though a JSON line never prints them, and builds each
//! line as a map. This one touches spans only to read the event's span name and ids, and writes the line straight
//! into a reused buffer. Handed to the log queue, the line leaves the request's thread at once; a request's summary
//! line leaves before it is written, as its values, and the queue's thread writes it.

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use tracing::span::Id;
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::json::{self, Fields};
use inferwatch_core::contract::LOG_TARGET;
use inferwatch_core::observe::REQUEST_SPAN_NAME;

/// Writes each event as one line of JSON: `fields` (the event's fields but its message), `level`, `message`,
/// `span`, `span_id`, `target`, `timestamp` and `trace_id`, keys in that order, the span keys only inside a span
/// (or inside a request that inferwatch's head sampling left without one: then they are the request's).
///
/// [`telemetry::init`](super::init) installs it; use it directly to compose a subscriber of your own:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(inferwatch_telemetry::JsonLayer::new(std::io::stdout));
/// # let _ = subscriber;
/// ```
pub struct JsonLayer<W> {
    writer: W,
}

impl<W> std::fmt::Debug for JsonLayer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLayer").finish_non_exhaustive()
    }
}

impl<W> JsonLayer<W>
where
    W: for<'a> MakeWriter<'a> + 'static,
{
    /// Lines go to `writer`, one `write` call a line.
    pub fn new(writer: W) -> Self {
        Self { writer }
    }
}

/// The valid trace and span ids of span `id`, from tracing-opentelemetry.
fn otel_ids(id: &Id) -> Option<(TraceId, SpanId)> {
    let cx = tracing::dispatcher::get_default(|d| tracing_opentelemetry::get_otel_context(id, d))?;
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
}

/// The ids of the unsampled request being polled, if any: head sampling gave it no span, and made its (unsampled,
/// valid) context the current OpenTelemetry context while it is polled.
fn unsampled_request() -> Option<(TraceId, SpanId)> {
    opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        (sc.is_valid() && !sc.is_sampled()).then(|| (sc.trace_id(), sc.span_id()))
    })
}

/// One thread's buffers, reused for every line it writes.
#[derive(Default)]
struct Buffers {
    line: Vec<u8>,
    fields: Vec<u8>,
    message: Vec<u8>,
    scratch: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// The `tracing` name every stage span of inferwatch's shares (`observe`'s stage spans), and the field that names
/// the stage itself.
const STAGE_SPAN: &str = "stage";
const STAGE_FIELD: &str = "inferwatch.stage";

/// A stage span's name, kept in its extensions for the lines logged inside it.
struct StageName(Arc<str>);

/// Finds the stage's name among a new span's fields.
struct StageVisitor(Option<Arc<str>>);

impl tracing::field::Visit for StageVisitor {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == STAGE_FIELD {
            self.0 = Some(value.into());
        }
    }

    fn record_debug(&mut self, _field: &tracing::field::Field, _value: &dyn std::fmt::Debug) {}
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        if meta.name() != STAGE_SPAN || meta.target() != LOG_TARGET {
            return;
        }
        let mut visitor = StageVisitor(None);
        attrs.record(&mut visitor);
        if let (Some(name), Some(span)) = (visitor.0, ctx.span(id)) {
            span.extensions_mut().insert(StageName(name));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        BUFFERS.with(|buffers| {
            // An event logged while a field of this one is formatted finds the buffers taken: it is dropped.
            let Ok(mut buffers) = buffers.try_borrow_mut() else {
                return;
            };
            let b = &mut *buffers;
            b.trace_id.clear();
            b.span_id.clear();
            b.line.clear();
            // inferwatch's summary line carries its span's ids: no lookup for them.
            let carries_ids = meta.target() == LOG_TARGET;
            let carried = {
                {
                    b.fields.clear();
                    b.message.clear();
                    let mut fields = Fields {
                        out: &mut b.fields,
                        message: &mut b.message,
                        scratch: &mut b.scratch,
                        count: 0,
                        ids: carries_ids.then_some((&mut b.trace_id, &mut b.span_id)),
                    };
                    event.record(&mut fields);
                    let has_fields = fields.count > 0;
                    let line = &mut b.line;
                    line.reserve(512 + b.fields.len());
                    line.push(b'{');
                    if has_fields {
                        line.extend_from_slice(b"\"fields\":{");
                        line.extend_from_slice(&b.fields);
                        line.extend_from_slice(b"},");
                    }
                    let message = &b.message;
                    level_and_message(line, meta, |line| match message.is_empty() {
                        true => line.extend_from_slice(b"\"\""),
                        false => line.extend_from_slice(message),
                    });
                    !b.trace_id.is_empty() && !b.span_id.is_empty()
                }
            };
            // The id and names only: the span must not stay borrowed while tracing-opentelemetry looks it up.
            let span = ctx.event_span(event).map(|span| {
                let stage = (span.name() == STAGE_SPAN)
                    .then(|| span.extensions().get::<StageName>().map(|s| s.0.clone()))
                    .flatten();
                (span.id(), span.name(), stage)
            });
            let line = &mut b.line;
            // The span keys: the event's span, or the unsampled request being polled (which has no span); the ids
            // to look up only when the line did not carry them.
            let (name, looked_up) = match &span {
                Some((id, name, stage)) => (
                    Some(stage.as_deref().unwrap_or(name)),
                    (!carried).then(|| otel_ids(id)).flatten(),
                ),
                // A summary line carries its request span's ids, and is that span's line wherever it is logged.
                None if carried => (Some(REQUEST_SPAN_NAME), None),
                None => match unsampled_request() {
                    Some(ids) => (Some(REQUEST_SPAN_NAME), (!carried).then_some(ids)),
                    None => (None, None),
                },
            };
            if let Some(name) = name {
                line.push(b',');
                line.extend_from_slice(b"\"span\":");
                if name == REQUEST_SPAN_NAME {
                    json::plain_string(line, name.as_bytes());
                } else {
                    json::string(line, name);
                }
                if carried {
                    line.push(b',');
                    line.extend_from_slice(b"\"span_id\":");
                    line.extend_from_slice(&b.span_id);
                } else if let Some((_, span_id)) = looked_up {
                    line.push(b',');
                    line.extend_from_slice(b"\"span_id\":");
                    json::hex(line, &span_id.to_bytes());
                }
            }
            line.push(b',');
            line.extend_from_slice(b"\"target\":");
            if carries_ids {
                // inferwatch's own target: nothing to escape.
                json::plain_string(line, LOG_TARGET.as_bytes());
            } else {
                json::string(line, meta.target());
            }
            line.push(b',');
            line.extend_from_slice(b"\"timestamp\":");
            json::timestamp(line, SystemTime::now());
            if name.is_some() && carried {
                line.push(b',');
                line.extend_from_slice(b"\"trace_id\":");
                line.extend_from_slice(&b.trace_id);
            } else if let Some((trace_id, _)) = looked_up {
                line.push(b',');
                line.extend_from_slice(b"\"trace_id\":");
                json::hex(line, &trace_id.to_bytes());
            }
            line.extend_from_slice(b"}\n");
            let _ = self.writer.make_writer_for(meta).write_all(line);
        });
    }
}

/// The `"level"` and `"message"` keys, which follow the fields (the message written by `message`).
fn level_and_message(line: &mut Vec<u8>, meta: &tracing::Metadata<'_>, message: impl FnOnce(&mut Vec<u8>)) {
    line.extend_from_slice(b"\"level\":");
    json::plain_string(line, meta.level().as_str().as_bytes());
    line.push(b',');
    line.extend_from_slice(b"\"message\":");
    message(line);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::queue::LogQueue;
    use crate::tests::Lines;
    use inferwatch_core::observe::testing::{log_visited, test_values as values};
    use inferwatch_core::observe::{SUMMARY_MESSAGE, SummaryLine};

    /// The summary line as a `tracing` event inside the request's span, its fields visited one by one.
    fn visited(values: &SummaryLine) -> String {
        let lines = Lines::default();
        let dispatch =
            tracing::Dispatch::new(tracing_subscriber::registry().with(JsonLayer::new(Mutex::new(lines.clone()))));
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("request").in_scope(|| log_visited(values))
        });
        cut_lines(&lines).next().expect("visited")
    }

    /// The lines written, timestamps cut out.
    fn cut_lines(lines: &Lines) -> impl Iterator<Item = String> {
        let text = String::from_utf8(lines.0.lock().expect("lock").clone()).expect("utf-8");
        let cut = |line: &str| {
            let at = line.find("\"timestamp\":").expect("timestamp") + "\"timestamp\":".len();
            format!("{}\"T\"{}", &line[..at], &line[at + 29..])
        };
        text.lines().map(cut).collect::<Vec<_>>().into_iter()
    }

    /// The summary line as telemetry's queue writes it (from its values, on the writer's thread), then the line
    /// logged after it.
    fn queued(values: SummaryLine) -> (String, String) {
        let lines = Lines::default();
        let (queue, guard) = LogQueue::start(64, Box::new(lines.clone()), metrics::Counter::noop()).expect("queue");
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(JsonLayer::new(queue.clone())));
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("request").in_scope(|| {
                queue.push_summary_values(values, SystemTime::now());
                tracing::info!("after");
            })
        });
        drop(guard);
        let mut written = cut_lines(&lines);
        (written.next().expect("summary"), written.next().expect("after"))
    }

    #[test]
    fn queued_summary_lines_are_the_visited_lines_in_order() {
        for grpc in [false, true] {
            let (summary, after) = queued(values("/v1/{id}", "m\\x", true, grpc));
            assert_eq!(summary, visited(&values("/v1/{id}", "m\\x", true, grpc)));
            let after: serde_json::Value = serde_json::from_str(&after).expect("JSON");
            assert_eq!(after["message"], "after");
        }
    }

    #[test]
    fn visited_summary_lines_carry_every_field() {
        for (ids, grpc) in [(true, false), (false, true), (false, false), (true, true)] {
            let line: serde_json::Value =
                serde_json::from_str(&visited(&values("/v1/{id}", "m\\x", ids, grpc))).expect("JSON");
            assert_eq!(line["fields"]["output_tokens"], u64::MAX);
            assert_eq!(line["fields"]["experiment"], "exp \"q\"");
            assert_eq!(line["message"], SUMMARY_MESSAGE);
            assert_eq!(line["trace_id"].is_string(), ids);
            assert_eq!(line["span"], REQUEST_SPAN_NAME);
            if grpc {
                assert_eq!(line["fields"]["status"], "UNAVAILABLE");
                assert!(line["fields"]["ttft_ms"].is_null());
            } else {
                assert_eq!(line["fields"]["method"], "X-JUNK!#~");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_labels_queue_as_visited(route in "\\PC{0,40}|[\\x00-\\x1f\"\\\\]{0,8}", model in "\\PC{0,20}") {
            let (queued, _) = queued(values(&route, &model, true, false));
            proptest::prop_assert_eq!(queued, visited(&values(&route, &model, true, false)));
        }
    }
}
