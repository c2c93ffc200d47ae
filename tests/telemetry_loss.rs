//! Telemetry that cannot keep up loses data, never holds a request, and says so: log lines through a bounded queue
//! to a stuck writer, spans to a collector that never answers; both counted in metrics and said once in the log.

mod support;

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::TelemetryBuilder;
use support::Scrape;

/// A writer that blocks until its gate opens, then keeps what it is given.
#[derive(Clone, Default)]
struct Gated {
    open: Arc<(Mutex<bool>, Condvar)>,
    written: Arc<Mutex<Vec<u8>>>,
}

impl Gated {
    fn open(&self) {
        *self.open.0.lock().expect("lock") = true;
        self.open.1.notify_all();
    }

    fn lines(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.written.lock().expect("lock").clone()).expect("utf-8");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }
}

impl Write for Gated {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (open, cv) = &*self.open;
        let mut open = open.lock().expect("lock");
        while !*open {
            open = cv.wait(open).expect("wait");
        }
        self.written.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stuck_writer_costs_lines_not_time_and_the_loss_is_counted_and_said_once() {
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let writer = Gated::default();
    let (dispatch, guard) = TelemetryBuilder::new()
        .writer(writer.clone())
        .log_queue(16)
        .recorder(recorder)
        .dispatch()
        .expect("telemetry");
    const SENT: usize = 500;
    let started = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..SENT {
            tracing::info!(target: "app", i, "line");
        }
    });
    // The writer is stuck the whole time, and logging did not wait for it.
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    writer.open();
    drop(guard);

    let lines = writer.lines();
    let warnings: Vec<&serde_json::Value> = lines.iter().filter(|l| l["level"] == "WARN").collect();
    assert_eq!(warnings.len(), 1, "the loss is said once");
    let written = lines.iter().filter(|l| l["message"] == "line").count();
    let dropped = SENT - written;
    // A queue of 16 lines, and what the writer thread took before it blocked: most lines are lost.
    assert!(dropped > SENT / 2, "{dropped}");
    // The warning gives the count when it was written; the metric, every line lost.
    let told = warnings[0]["fields"]["dropped_lines"].as_u64().expect("count");
    assert!(told >= 1 && told <= dropped as u64, "{told} of {dropped}");
    assert_eq!(warnings[0]["target"], "inferwatch");
    let scrape = Scrape::parse(&exporter.render());
    assert_eq!(
        scrape.get("inferwatch_telemetry_log_lines_dropped_total", &[]),
        dropped as f64
    );
    // What got through is in order.
    let kept: Vec<u64> = lines.iter().filter_map(|l| l["fields"]["i"].as_u64()).collect();
    assert!(kept.windows(2).all(|w| w[0] < w[1]), "{kept:?}");
}

#[test]
fn a_collector_that_never_answers_drops_spans_on_a_full_queue_and_counts_them() {
    // Accepts connections and never answers: every export waits for its timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = silent.local_addr().expect("addr");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let logs = Gated::default();
    logs.open();
    let (dispatch, guard) = {
        let _runtime = runtime.enter();
        TelemetryBuilder::new()
            .otlp_endpoint(format!("http://{address}"))
            .otlp_protocol(inferwatch::telemetry::OtlpProtocol::Grpc)
            .export_timeout(Duration::from_secs(2))
            .max_queue_size(8)
            .writer(logs.clone())
            .log_queue(0)
            .recorder(recorder)
            .dispatch()
            .expect("telemetry")
    };
    const SPANS: usize = 300;
    let started = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..SPANS {
            let _span = tracing::info_span!("work", i).entered();
        }
    });
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "ending spans never waits for the collector"
    );
    let scrape = Scrape::parse(&exporter.render());
    let dropped = scrape.get("inferwatch_telemetry_spans_dropped_total", &[("reason", "queue_full")]);
    // A queue of 8, and a batch taken by the stuck exporter: most spans are dropped, and counted.
    assert!(dropped > (SPANS / 2) as f64, "{dropped}");
    let warnings = logs
        .lines()
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("span export queue full"))
        })
        .count();
    assert_eq!(warnings, 1, "said once");
    // The collector goes away: the export it holds fails, and shutting down exports (and fails) what is queued.
    drop(silent);
    drop(guard);
    drop(runtime);
    // Every span is accounted for, exactly: dropped on the full queue, or handed to the exporter and lost with its
    // failed export (nothing was exported: the collector never answered).
    let scrape = Scrape::parse(&exporter.render());
    let counted = |reason| scrape.get("inferwatch_telemetry_spans_dropped_total", &[("reason", reason)]);
    assert_eq!(counted("queue_full"), dropped, "no span dropped after the burst");
    assert_eq!(scrape.get("inferwatch_telemetry_spans_exported_total", &[]), 0.0);
    let failed = counted("export_failed");
    assert!(failed >= 1.0, "the queue held spans when the exporter stalled");
    assert_eq!(dropped + failed, SPANS as f64, "{dropped} dropped + {failed} failed");
}
