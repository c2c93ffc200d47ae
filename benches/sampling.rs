//! Cost of the background work: one sampling pass over 8 fake GPUs, over the host, and over both (recording into
//! a Prometheus recorder), and one `/readyz` answered from cache.
//!
//! `cargo bench --bench sampling`

#[path = "../tests/support/fake_gpu.rs"]
mod fake_gpu;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use http_body_util::BodyExt;
use inferwatch::health::checks::{self, Thresholds};
use inferwatch::health::{Health, Observation};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::resources::ResourceSampler;
use tower::ServiceExt;

fn eight_gpus() -> fake_gpu::FakeGpus {
    fake_gpu::FakeGpus::new((0..8).map(fake_gpu::device).collect())
}

fn sampling(c: &mut Criterion) {
    let mut group = c.benchmark_group("sampling_pass");
    let (recorder, _exporter) = PrometheusBuilder::new().build().expect("exporter");
    let mut gpus = ResourceSampler::builder()
        .without_host()
        .gpu_source(eight_gpus())
        .recorder(recorder)
        .build();
    group.bench_function("8_fake_gpus", |b| b.iter(|| gpus.sample()));

    let (recorder, _exporter) = PrometheusBuilder::new().build().expect("exporter");
    let mut host = ResourceSampler::builder()
        .without_gpu()
        .filesystem("/")
        .recorder(recorder)
        .build();
    group.bench_function("host", |b| b.iter(|| host.sample()));

    let (recorder, _exporter) = PrometheusBuilder::new().build().expect("exporter");
    let mut both = ResourceSampler::builder()
        .gpu_source(eight_gpus())
        .filesystem("/")
        .recorder(recorder)
        .build();
    group.bench_function("8_fake_gpus_and_host", |b| b.iter(|| both.sample()));
    group.finish();
}

fn readyz(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut sampler = ResourceSampler::builder()
        .gpu_source(eight_gpus())
        .filesystem("/")
        .build();
    sampler.sample();
    let snapshots = sampler.snapshots();
    let (recorder, _exporter) = PrometheusBuilder::new().build().expect("exporter");
    let health = Health::builder()
        .add_check(checks::gpu_memory(snapshots.clone(), Thresholds::default()))
        .add_check(checks::host_memory(snapshots.clone(), Thresholds::default()))
        .add_check(checks::host_cpu(snapshots.clone(), Thresholds::default()))
        .add_check(checks::disk(snapshots, Thresholds::default()))
        .add_check(checks::saturation(|| 0, 64, Thresholds::default()))
        .check("model:loaded", || async { Observation::pass() })
        .cache_for(Duration::from_secs(3600))
        .recorder(recorder)
        .build();
    let router: Router = health.router();
    let probe = || async {
        let response = router
            .clone()
            .oneshot(Request::get("/readyz").body(Body::empty()).expect("request"))
            .await;
        let response = response.expect("infallible");
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.expect("body").to_bytes();
        assert!(body.starts_with(b"{\"status\":"), "{body:?}");
    };
    runtime.block_on(probe());
    c.bench_function("readyz_from_cache", |b| b.to_async(&runtime).iter(probe));
}

criterion_group!(benches, sampling, readyz);
criterion_main!(benches);
