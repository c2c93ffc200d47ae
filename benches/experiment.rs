//! What experiments cost per request: assigning a key to a variant (the hash and the split), and the whole
//! `ExperimentLayer` step on a request (reading the header, assigning, putting the assignment into the extensions
//! and onto the handle): `with_layer` minus `without_layer`, which builds the same request.
//!
//! `cargo bench --bench experiment`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use inferwatch::RequestHandle;
use inferwatch::experiment::Experiment;
use tower::{Service, ServiceExt};

fn experiment() -> Experiment {
    Experiment::builder("model-rollout")
        .variant("control", 0.9)
        .variant("treatment", 0.1)
        .key_header("x-user-id")
        .build()
        .expect("experiment")
}

fn assignment(c: &mut Criterion) {
    let rollout = experiment();
    let keys: Vec<String> = (0..1024).map(|i| format!("user-{i:08}")).collect();
    let mut i = 0;
    c.bench_function("experiment/assign_by_key", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(rollout.assign(Some(black_box(keys[i].as_bytes()))))
        })
    });

    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let inner = tower::service_fn(|request: Request<()>| async move {
        Ok::<_, std::convert::Infallible>(request.extensions().len())
    });
    let request = |i: usize| {
        let mut request = Request::new(());
        request
            .headers_mut()
            .insert("x-user-id", keys[i].parse().expect("header"));
        request.extensions_mut().insert(RequestHandle::detached());
        request
    };
    // The same request through the inner service alone: the layer's cost is the difference.
    let mut bare = inner;
    c.bench_function("experiment/without_layer", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            let request = request(i);
            runtime.block_on(async { black_box(bare.ready().await.expect("ready").call(request).await) })
        })
    });
    let mut service = tower::ServiceBuilder::new().layer(rollout.layer()).service(inner);
    c.bench_function("experiment/with_layer", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            let request = request(i);
            runtime.block_on(async { black_box(service.ready().await.expect("ready").call(request).await) })
        })
    });
}

criterion_group!(benches, assignment);
criterion_main!(benches);
