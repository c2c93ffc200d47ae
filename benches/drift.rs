//! What a drift observation costs on the request path: the feature's lookup, the series' lookup and a bin
//! increment, through the drift observer as a handler's `record_feature` reaches it (target: under 50 ns).
//!
//! `cargo bench --bench drift --features full`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use inferwatch::SharedRecorder;
use inferwatch::drift::{Drift, Feature};
use inferwatch::observe::{Event, FeatureValue, Observer};

fn observations(c: &mut Criterion) {
    let drift = Drift::builder()
        .feature(Feature::categorical("language", ["en", "fr", "de", "ja"]))
        .feature(Feature::numeric("retrieval_score", [0.2, 0.4, 0.6, 0.8]))
        .recorder(SharedRecorder::new(metrics::NoopRecorder))
        .build()
        .expect("drift");
    let observer = drift.clone();
    let request = ();
    let scores = [0.1, 0.3, 0.5, 0.7, 0.9];
    let languages = ["en", "fr", "de", "ja", "tlh"];
    let mut i = 0;
    // During the warm-up an observation also counts towards the baseline.
    c.bench_function("drift/observe_number_during_warmup", |b| {
        b.iter(|| {
            i = (i + 1) % scores.len();
            observer.on_event(
                &request,
                &Event::Feature {
                    model: None,
                    name: "retrieval_score",
                    value: FeatureValue::Number(black_box(scores[i])),
                },
            );
        })
    });
    // The warm-up is long over: the steady state.
    for (score, language) in scores.iter().zip(languages).cycle().take(2_000) {
        observer.on_event(
            &request,
            &Event::Feature {
                model: None,
                name: "retrieval_score",
                value: FeatureValue::Number(*score),
            },
        );
        observer.on_event(
            &request,
            &Event::Feature {
                model: None,
                name: "language",
                value: FeatureValue::Category(language),
            },
        );
    }
    drift.evaluate();
    c.bench_function("drift/observe_number", |b| {
        b.iter(|| {
            i = (i + 1) % scores.len();
            observer.on_event(
                &request,
                &Event::Feature {
                    model: None,
                    name: "retrieval_score",
                    value: FeatureValue::Number(black_box(scores[i])),
                },
            );
        })
    });
    c.bench_function("drift/observe_category", |b| {
        b.iter(|| {
            i = (i + 1) % languages.len();
            observer.on_event(
                &request,
                &Event::Feature {
                    model: None,
                    name: "language",
                    value: FeatureValue::Category(black_box(languages[i])),
                },
            );
        })
    });
}

criterion_group!(benches, observations);
criterion_main!(benches);
