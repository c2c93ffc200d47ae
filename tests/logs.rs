//! Log lines leave the request's thread through a bounded queue: a writer that cannot keep up loses lines, never
//! holds a request; the loss is counted in a metric and said once in the log.

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
    assert_eq!(warnings[0]["fields"]["dropped_lines"], dropped as u64);
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
