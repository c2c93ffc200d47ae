//! [`LogQueue`]: log lines handed to a thread of their own through a bounded, lock-free queue, so that writing
//! them never holds a request up. When the queue is full the line is dropped and counted; the writer says so once,
//! in the log itself.
//!
//! The writer thread is never woken per line (a wake-up is a system call on the logging thread): it drains the
//! queue every few milliseconds, and is woken early only when the queue is half full.
//!
//! A request's summary line travels as its values and is written out on the writer thread: formatting it was most
//! of what the line cost the request's thread. The values travel in the queue's own slot, and are dropped by the
//! writer once written: the logging thread only writes them, into the slot after the last one it wrote, and never
//! reads back memory the writer thread touched last (which would come back out of its cache).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, SystemTime};

use crossbeam_queue::ArrayQueue;
use metrics::Counter;
use tracing_subscriber::fmt::MakeWriter;

use super::json;
use inferwatch_core::contract::LOG_TARGET;
use inferwatch_core::observe::SummaryLine;

/// How long the writer sleeps between drains.
const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// How long dropping the guard waits for the last lines to be written.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// A line, written, or a request's summary line, to be written.
#[expect(
    clippy::large_enum_variant,
    reason = "a summary waits in the slot itself: a box would be one more cold line to touch"
)]
enum Entry {
    Line(Vec<u8>),
    Summary(Summary),
}

/// A summary line's values and the time it was logged.
struct Summary {
    values: SummaryLine,
    at: SystemTime,
}

struct Shared {
    lines: ArrayQueue<Entry>,
    /// Emptied buffers, back from the writer, so that steady logging allocates nothing.
    spare: ArrayQueue<Vec<u8>>,
    dropped: AtomicU64,
    dropped_metric: Counter,
    stopping: AtomicBool,
}

/// The producing side: cheap to clone, one per layer.
#[derive(Clone)]
pub(super) struct LogQueue {
    shared: Arc<Shared>,
    writer: Thread,
}

/// Stops the writer thread after it has written what is queued (waiting at most a second).
pub(super) struct LogWriterGuard {
    queue: LogQueue,
    /// In a mutex only so that the guard is `Sync`, as telemetry guards kept in statics must be.
    done: Mutex<mpsc::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LogQueue {
    /// A queue of at most `capacity` lines and its writer thread, writing into `out`.
    pub(super) fn start(
        capacity: usize,
        out: Box<dyn Write + Send>,
        dropped_metric: Counter,
    ) -> io::Result<(Self, LogWriterGuard)> {
        let capacity = capacity.max(1);
        let shared = Arc::new(Shared {
            lines: ArrayQueue::new(capacity),
            spare: ArrayQueue::new(capacity.min(1024)),
            dropped: AtomicU64::new(0),
            dropped_metric,
            stopping: AtomicBool::new(false),
        });
        let (done_tx, done) = mpsc::channel();
        let for_thread = shared.clone();
        let thread = thread::Builder::new().name("inferwatch-logs".into()).spawn(move || {
            drain_until_stopped(&for_thread, out);
            let _ = done_tx.send(());
        })?;
        let queue = Self {
            shared,
            writer: thread.thread().clone(),
        };
        let guard = LogWriterGuard {
            queue: queue.clone(),
            done: Mutex::new(done),
            thread: Some(thread),
        };
        Ok((queue, guard))
    }

    fn push(&self, line: &[u8]) {
        let mut buffer = self.shared.spare.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(line);
        self.enqueue(Entry::Line(buffer));
    }

    /// Queues the summary line of `values`, which carry the request's ids, logged `at`: taken rather than copied.
    pub(super) fn push_summary_values(&self, values: SummaryLine, at: SystemTime) {
        debug_assert!(values.ids().is_some(), "the writer writes no summary line without ids");
        self.enqueue(Entry::Summary(Summary { values, at }));
    }

    fn enqueue(&self, entry: Entry) {
        if self.shared.lines.push(entry).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            self.shared.dropped_metric.increment(1);
            self.writer.unpark();
            return;
        }
        if self.shared.lines.len() * 2 >= self.shared.lines.capacity() {
            self.writer.unpark();
        }
    }
}

fn drain_until_stopped(shared: &Shared, out: Box<dyn Write + Send>) {
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let mut summary_line = Vec::with_capacity(1024);
    let mut reported = 0;
    loop {
        let stopping = shared.stopping.load(Ordering::Acquire);
        let mut wrote = false;
        while let Some(entry) = shared.lines.pop() {
            match entry {
                Entry::Line(mut line) => {
                    let _ = out.write_all(&line);
                    line.clear();
                    let _ = shared.spare.push(line);
                }
                Entry::Summary(summary) => {
                    summary_line.clear();
                    json::summary_line(&mut summary_line, &summary.values, summary.at);
                    let _ = out.write_all(&summary_line);
                }
            }
            wrote = true;
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if reported == 0 && dropped > 0 {
            let _ = out.write_all(&dropped_warning(dropped));
            reported = dropped;
            wrote = true;
        }
        if wrote {
            let _ = out.flush();
        }
        if stopping {
            return;
        }
        thread::park_timeout(DRAIN_EVERY);
    }
}

/// The one line that says lines were lost, shaped like every other line.
fn dropped_warning(dropped: u64) -> Vec<u8> {
    let mut line = Vec::with_capacity(256);
    line.extend_from_slice(b"{\"fields\":{\"dropped_lines\":");
    line.extend_from_slice(itoa::Buffer::new().format(dropped).as_bytes());
    line.extend_from_slice(b"},\"level\":\"WARN\",\"message\":");
    json::string(
        &mut line,
        "log lines dropped: the log writer's queue was full; inferwatch_telemetry_log_lines_dropped_total counts them",
    );
    line.extend_from_slice(b",\"target\":");
    json::string(&mut line, LOG_TARGET);
    line.extend_from_slice(b",\"timestamp\":");
    json::timestamp(&mut line, SystemTime::now());
    line.extend_from_slice(b"}\n");
    line
}

impl Drop for LogWriterGuard {
    fn drop(&mut self) {
        self.queue.shared.stopping.store(true, Ordering::Release);
        self.queue.writer.unpark();
        // A writer stuck on a full pipe must not keep the process from exiting.
        let done = self.done.lock().map(|d| d.recv_timeout(SHUTDOWN_WAIT).is_ok());
        if done.unwrap_or(false)
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}

/// One line's writer: each `write` is a whole line (the JSON layer and tracing-subscriber's `fmt` layer both
/// write a line in one call).
pub(super) struct QueuedLine<'a>(&'a LogQueue);

impl Write for QueuedLine<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.0.push(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogQueue {
    type Writer = QueuedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        QueuedLine(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_in_order_and_the_guard_writes_the_rest() {
        let sink = Sink::default();
        let (queue, guard) = LogQueue::start(64, Box::new(sink.clone()), Counter::noop()).unwrap();
        for i in 0..50 {
            queue.push(format!("line {i}\n").as_bytes());
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let expected: String = (0..50).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, expected);
    }

    /// Summaries wait in the queue as their values, between plain lines, and come out in order, each written once;
    /// the writer, not the logging thread, lets go of the values it wrote.
    #[test]
    fn summaries_keep_their_place_and_the_writer_drops_their_values() {
        use inferwatch_core::observe::testing::{route_shared, test_values};

        let sink = Sink::default();
        let (queue, guard) = LogQueue::start(64, Box::new(sink.clone()), Counter::noop()).unwrap();
        let values = test_values("/v1/chat", "m", true, false);
        let route = route_shared(&values);
        let held = Arc::strong_count(&route);
        queue.push(b"first\n");
        queue.push_summary_values(values.clone(), SystemTime::UNIX_EPOCH);
        queue.push(b"last\n");
        assert_eq!(Arc::strong_count(&route), held + 1, "the queued copy holds the route");
        drop(guard);
        assert_eq!(
            Arc::strong_count(&route),
            held,
            "the writer dropped the values it wrote"
        );
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!((lines[0], lines[2]), ("first", "last"));
        let mut expected = Vec::new();
        json::summary_line(&mut expected, &values, SystemTime::UNIX_EPOCH);
        assert_eq!(format!("{}\n", lines[1]).as_bytes(), expected.as_slice());
        let summary: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(summary["fields"]["route"], "/v1/chat");
        assert_eq!(summary["timestamp"], "1970-01-01T00:00:00.000000Z");
    }

    /// What the builder's documentation says a queued line takes.
    #[test]
    fn a_slot_stays_under_300_bytes() {
        assert!(std::mem::size_of::<Entry>() + std::mem::size_of::<usize>() <= 300);
    }

    /// A writer that blocks until told to go on, so that the queue fills up.
    struct Gate(Arc<(Mutex<bool>, std::sync::Condvar)>, Sink);

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (open, cv) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            self.1.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_queue_drops_counts_and_says_so_once() {
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let sink = Sink::default();
        let out = Gate(gate.clone(), sink.clone());
        let (queue, guard) = LogQueue::start(4, Box::new(out), Counter::noop()).unwrap();
        // The writer may hold one line while blocked; the queue holds 4 more; the rest are dropped.
        for i in 0..20 {
            queue.push(format!("line {i}\n").as_bytes());
        }
        let dropped = queue.shared.dropped.load(Ordering::Relaxed);
        assert!((15..=16).contains(&dropped), "{dropped}");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() as u64, 20 - dropped + 1, "{text}");
        let warnings: Vec<&&str> = lines.iter().filter(|l| l.contains("log lines dropped")).collect();
        assert_eq!(warnings.len(), 1);
        let warning: serde_json::Value = serde_json::from_str(warnings[0]).unwrap();
        assert_eq!(warning["fields"]["dropped_lines"], dropped);
        assert_eq!(warning["level"], "WARN");
    }
}
