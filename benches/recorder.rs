//! What a sample costs in the Prometheus exporter's recorder, from one thread and from two threads recording into
//! the same series at once (as a multi-threaded server's workers do): a histogram sample, a counter increment, and
//! the in-flight gauge's increment and decrement. The recorder keeps each series in cells of the recording
//! thread's own.
//!
//! `cargo bench --bench recorder`

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use inferwatch::prometheus::PrometheusBuilder;

/// Nanoseconds per call of `record`, each of `threads` threads calling it `calls` times on the same series.
fn per_call(threads: u32, calls: u32, record: &(dyn Fn(u32) + Sync)) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || (0..calls).for_each(|i| record(i * 7 + t)));
        }
    });
    start.elapsed().as_secs_f64() * 1e9 / f64::from(calls)
}

fn recorder(c: &mut Criterion) {
    let exporter = PrometheusBuilder::new().install().expect("exporter");
    let labels = [("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "toy")];
    let histogram = metrics::histogram!("gen_ai_server_request_duration_seconds", &labels);
    let counter = metrics::counter!("inferwatch_requests_total", "route" => "/v1/chat/completions");
    let gauge = metrics::gauge!("inferwatch_requests_in_flight", "route" => "/v1/chat/completions");
    // Values spread over the buckets, as request durations are.
    let sample = |i: u32| histogram.record(f64::from(i % 97) * 0.05);
    let increment = |_: u32| counter.increment(1);
    let in_flight = |_: u32| {
        gauge.increment(1.0);
        gauge.decrement(1.0);
    };
    let kinds: [(&str, &(dyn Fn(u32) + Sync)); 3] = [
        ("histogram sample", &sample),
        ("counter increment", &increment),
        ("gauge increment and decrement", &in_flight),
    ];
    let mut group = c.benchmark_group("recorder, one thread");
    for (name, record) in kinds {
        group.bench_function(name, |b| {
            let mut i = 0u32;
            b.iter(|| {
                i = i.wrapping_add(7);
                record(i);
            })
        });
    }
    group.finish();
    // Threads are started per measurement, so these are timed over many calls each rather than by criterion.
    for (name, record) in kinds {
        for threads in [1, 2] {
            let mut times: Vec<f64> = (0..15).map(|_| per_call(threads, 2_000_000, record)).collect();
            times.sort_by(f64::total_cmp);
            println!(
                "{name}, {threads} thread(s) on one series at once: {:.1} ns a call and thread (median of 15)",
                times[7]
            );
        }
    }
    // At least the timed loops' increments (criterion's own count is not known here), as a sample, not a HELP line.
    let text = exporter.render();
    let increments = text
        .lines()
        .filter_map(|l| l.strip_prefix("inferwatch_requests_total{route=\"/v1/chat/completions\"} "))
        .map(|v| v.trim().parse::<f64>().expect("value"))
        .next();
    let timed = 15.0 * (1.0 + 2.0) * 2_000_000.0;
    assert!(increments.is_some_and(|n| n >= timed), "{increments:?} in\n{text}");
}

criterion_group!(benches, recorder);
criterion_main!(benches);
