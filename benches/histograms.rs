//! What a histogram sample costs in the Prometheus exporter's recorder, from one thread and from two threads
//! recording into the same series at once (as a multi-threaded server's workers do): the exporter counts a sample
//! into its bucket as it is recorded, in cells of the recording thread's own.
//!
//! `cargo bench --bench histograms`

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use inferwatch::prometheus::PrometheusBuilder;

const NAME: &str = "gen_ai_server_request_duration_seconds";

/// Nanoseconds per sample, each of `threads` threads recording `samples` samples into the same series.
fn per_sample(histogram: &metrics::Histogram, threads: u32, samples: u32) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..samples {
                    // Values spread over the buckets, as request durations are.
                    histogram.record(f64::from((i * 7 + t) % 97) * 0.05);
                }
            });
        }
    });
    start.elapsed().as_secs_f64() * 1e9 / f64::from(samples)
}

fn histograms(c: &mut Criterion) {
    let exporter = PrometheusBuilder::new().install().expect("exporter");
    let histogram = metrics::histogram!(NAME, "gen_ai.operation.name" => "chat", "gen_ai.request.model" => "toy");
    let mut group = c.benchmark_group("histogram sample");
    group.bench_function("one thread", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(7);
            histogram.record(f64::from(i % 97) * 0.05);
        })
    });
    group.finish();
    // Threads are started per measurement, so these are timed over many samples each rather than by criterion.
    for threads in [1, 2] {
        let mut times: Vec<f64> = (0..15).map(|_| per_sample(&histogram, threads, 2_000_000)).collect();
        times.sort_by(f64::total_cmp);
        println!(
            "histogram sample, {threads} thread(s) on one series at once: {:.1} ns per sample and thread (median of 15)",
            times[7]
        );
    }
    assert!(exporter.render().contains(NAME));
}

criterion_group!(benches, histograms);
criterion_main!(benches);
