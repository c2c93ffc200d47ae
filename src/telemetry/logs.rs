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
use super::queue::LogQueue;
use crate::contract::LOG_TARGET;
use crate::observe::{REQUEST_SPAN_NAME, current_request, renderer_installed, with_pending};

/// Writes each event as one line of JSON: `fields` (the event's fields but its message), `level`, `message`,
/// `span`, `span_id`, `target`, `timestamp` and `trace_id`, keys in that order, the span keys only inside a span
/// (or inside a request that inferwatch's head sampling left without one: then they are the request's).
///
/// [`telemetry::init`](super::init) installs it; use it directly to compose a subscriber of your own:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(inferwatch::telemetry::JsonLayer::new(std::io::stdout));
/// # let _ = subscriber;
/// ```
pub struct JsonLayer<W> {
    writer: W,
    /// Telemetry's log queue, which takes summary lines as their values and writes them out on its own thread.
    queue: Option<LogQueue>,
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
        renderer_installed();
        Self { writer, queue: None }
    }
}

impl JsonLayer<LogQueue> {
    /// Lines to the log queue, summary lines as their values.
    pub(super) fn queued(queue: LogQueue) -> Self {
        renderer_installed();
        Self {
            writer: queue.clone(),
            queue: Some(queue),
        }
    }
}

/// The valid trace and span ids of span `id`, from tracing-opentelemetry.
fn otel_ids(id: &Id) -> Option<(TraceId, SpanId)> {
    let cx = tracing::dispatcher::get_default(|d| tracing_opentelemetry::get_otel_context(id, d))?;
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
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
        // A request's summary line with its ids is made of its values alone: queued as they are, or written here.
        let summary = with_pending(meta, |values| match &self.queue {
            Some(queue) => queue.push_summary(values, SystemTime::now()),
            None => BUFFERS.with(|buffers| {
                let Ok(mut buffers) = buffers.try_borrow_mut() else {
                    return true;
                };
                let line = &mut buffers.line;
                line.clear();
                let whole = json::summary_line(line, values, SystemTime::now());
                if whole {
                    let _ = self.writer.make_writer_for(meta).write_all(line);
                }
                whole
            }),
        });
        if summary == Some(true) {
            return;
        }
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
            // A summary line without ids: its values, when they are at hand, are written as they are, rather than
            // visited field by field.
            let rendered = with_pending(meta, |values| json::summary_head(&mut b.line, values));
            let carried = match rendered {
                Some(()) => false,
                None => {
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
                None => match current_request() {
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
    use crate::observe::{SUMMARY_MESSAGE, log_rendered, log_visited, test_values as values};
    use crate::telemetry::tests::Lines;

    /// The summary line written from its values and written by visiting its fields, timestamps cut out.
    fn both_ways(make: impl Fn() -> crate::observe::SummaryValues) -> (String, String) {
        let lines = Lines::default();
        let dispatch =
            tracing::Dispatch::new(tracing_subscriber::registry().with(JsonLayer::new(Mutex::new(lines.clone()))));
        // As the observer logs it: inside the request's span.
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("request").in_scope(|| {
                log_rendered(make());
                log_visited(&make());
            })
        });
        let mut written = cut_lines(&lines);
        (written.next().expect("rendered"), written.next().expect("visited"))
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
    fn queued(values: crate::observe::SummaryValues) -> (String, String) {
        let lines = Lines::default();
        let (queue, guard) = LogQueue::start(64, Box::new(lines.clone()), metrics::Counter::noop()).expect("queue");
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(JsonLayer::queued(queue)));
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("request").in_scope(|| {
                log_rendered(values);
                tracing::info!("after");
            })
        });
        drop(guard);
        let mut written = cut_lines(&lines);
        (written.next().expect("summary"), written.next().expect("after"))
    }

    #[test]
    fn queued_summary_lines_are_the_lines_written_at_once_in_order() {
        for (ids, grpc) in [(true, false), (false, true), (false, false), (true, true)] {
            let (rendered, _) = both_ways(|| values("/v1/{id}", "m\\x", ids, grpc));
            let (summary, after) = queued(values("/v1/{id}", "m\\x", ids, grpc));
            assert_eq!(summary, rendered);
            let after: serde_json::Value = serde_json::from_str(&after).expect("JSON");
            assert_eq!(after["message"], "after");
        }
    }

    #[test]
    fn rendered_summary_lines_are_the_visited_lines() {
        for (ids, grpc) in [(true, false), (false, true), (false, false), (true, true)] {
            let (rendered, visited) = both_ways(|| values("/v1/{id}", "m\\x", ids, grpc));
            assert_eq!(rendered, visited);
            let line: serde_json::Value = serde_json::from_str(&rendered).expect("JSON");
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
        fn any_labels_render_as_visited(route in "\\PC{0,40}|[\\x00-\\x1f\"\\\\]{0,8}", model in "\\PC{0,20}") {
            let (rendered, visited) = both_ways(|| values(&route, &model, true, false));
            proptest::prop_assert_eq!(rendered, visited);
        }
    }
}
