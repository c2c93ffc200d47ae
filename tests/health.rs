//! Health routes and gRPC health against real servers on loopback: status codes and the IETF JSON shape for
//! pass, warn and fail, timeouts, caching, draining, the built-in checks, and `grpc.health.v1` in step with
//! readiness.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get as get_route;
use inferwatch::health::checks::{self, Thresholds};
use inferwatch::health::{Check, Health, InFlightCounter, Observation, Status};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::resources::{GpuField, ResourceSampler};
use serde_json::Value;
use support::fake_gpu::{FakeGpus, device};
use support::{client, get, scrape, serve};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A check whose verdict the test sets: 0 pass, 1 warn, 2 fail.
fn switchable(state: Arc<AtomicU8>) -> impl Fn() -> std::future::Ready<Observation> + Send + Sync + 'static {
    move || {
        std::future::ready(match state.load(Ordering::SeqCst) {
            0 => Observation::pass().observed(3.0, "models"),
            1 => Observation::warn("warming up").observed(2.0, "models"),
            _ => Observation::fail("model not loaded").observed(0.0, "models"),
        })
    }
}

async fn probe(addr: SocketAddr, path: &str) -> (u16, Value) {
    let response = get(&client(), addr, path).await;
    assert_eq!(response.headers["content-type"], "application/health+json", "{path}");
    (
        response.status.as_u16(),
        serde_json::from_slice(&response.body).expect("JSON body"),
    )
}

#[tokio::test]
async fn livez_readyz_and_health_for_pass_warn_and_fail() {
    let state = Arc::new(AtomicU8::new(0));
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let health = Health::builder()
        .check("model:loaded", switchable(state.clone()))
        .add_check(Check::new("gpu:temperature", || async { Observation::fail("too hot") }).informational())
        .cache_for(Duration::ZERO)
        .recorder(recorder)
        .build();
    let addr = serve(health.router()).await;

    let (code, body) = probe(addr, "/livez").await;
    assert_eq!((code, body), (200, serde_json::json!({"status": "pass"})));

    let (code, body) = probe(addr, "/readyz").await;
    assert_eq!(code, 200);
    assert_eq!(body["status"], "pass");
    let checks = body["checks"].as_object().unwrap();
    assert_eq!(
        checks.keys().collect::<Vec<_>>(),
        ["model:loaded"],
        "informational checks stay out of readiness"
    );
    let entry = &body["checks"]["model:loaded"][0];
    assert_eq!(entry["status"], "pass");
    assert_eq!(entry["observedValue"], 3.0);
    assert_eq!(entry["observedUnit"], "models");
    assert!(entry.get("output").is_none());
    let time = entry["time"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");

    let (code, body) = probe(addr, "/health").await;
    assert_eq!(code, 503, "an informational fail shows in /health");
    assert_eq!(body["checks"]["gpu:temperature"][0]["output"], "too hot");
    assert_eq!(body["checks"]["model:loaded"][0]["status"], "pass");
    let s = scrape(&exporter);
    assert_eq!(s.get("inferwatch_health_status", &[("check", "model:loaded")]), 1.0);
    assert_eq!(s.get("inferwatch_health_status", &[("check", "gpu:temperature")]), 0.0);

    state.store(1, Ordering::SeqCst);
    let (code, body) = probe(addr, "/readyz").await;
    assert_eq!((code, &body["status"]), (200, &Value::from("warn")));
    assert_eq!(body["checks"]["model:loaded"][0]["output"], "warming up");
    assert_eq!(
        scrape(&exporter).get("inferwatch_health_status", &[("check", "model:loaded")]),
        0.5
    );

    state.store(2, Ordering::SeqCst);
    let (code, body) = probe(addr, "/readyz").await;
    assert_eq!((code, &body["status"]), (503, &Value::from("fail")));
    assert_eq!(body["checks"]["model:loaded"][0]["output"], "model not loaded");
    assert_eq!(
        scrape(&exporter).get("inferwatch_health_status", &[("check", "model:loaded")]),
        0.0
    );
    assert_eq!(probe(addr, "/livez").await.0, 200, "liveness never runs checks");
}

#[tokio::test]
async fn a_hanging_check_fails_by_timeout_within_its_bound() {
    let health = Health::builder()
        .check("fast:ok", || async { Observation::pass() })
        .add_check(
            Check::new("dependency:hangs", || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Observation::pass()
            })
            .timeout(Duration::from_millis(200)),
        )
        .build();
    let addr = serve(health.router()).await;
    let started = Instant::now();
    let (code, body) = probe(addr, "/readyz").await;
    let elapsed = started.elapsed();
    assert_eq!(code, 503);
    assert_eq!(body["checks"]["dependency:hangs"][0]["status"], "fail");
    assert_eq!(
        body["checks"]["dependency:hangs"][0]["output"],
        "timed out after 200 ms"
    );
    assert_eq!(body["checks"]["fast:ok"][0]["status"], "pass");
    assert!(elapsed < Duration::from_secs(2), "answered after {elapsed:?}");
}

#[tokio::test]
async fn a_panicking_check_fails_and_the_others_still_report() {
    let health = Health::builder()
        .check("fast:ok", || async { Observation::pass() })
        .check("buggy:check", || async {
            if true {
                panic!("bug in a check");
            }
            Observation::pass()
        })
        .build();
    let report = health.ready().await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        report.checks["buggy:check"][0].output.as_deref(),
        Some("check panicked")
    );
    assert_eq!(report.checks["fast:ok"][0].status, Status::Pass);
}

#[tokio::test]
async fn results_are_cached_so_a_probe_storm_runs_checks_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let health = Health::builder()
        .check("model:loaded", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Observation::pass()
            }
        })
        .cache_for(Duration::from_millis(300))
        .build();
    let addr = serve(health.router()).await;
    let client = client();
    let probes = (0..50).map(|i| {
        let client = client.clone();
        let path = if i % 2 == 0 { "/readyz" } else { "/health" };
        async move { get(&client, addr, path).await.status.as_u16() }
    });
    let codes = futures_util::future::join_all(probes).await;
    assert!(codes.iter().all(|&c| c == 200), "{codes:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(probe(addr, "/readyz").await.0, 200);
    assert_eq!(runs.load(Ordering::SeqCst), 2, "stale results are refreshed");
}

#[tokio::test]
async fn marking_not_ready_fails_readiness_at_once_and_can_be_undone() {
    let health = Health::builder()
        .check("model:loaded", || async { Observation::pass() })
        .build();
    let addr = serve(health.router()).await;
    assert_eq!(probe(addr, "/readyz").await.0, 200);
    health.mark_not_ready();
    let (code, body) = probe(addr, "/readyz").await;
    assert_eq!(code, 503);
    assert_eq!(
        body["checks"]["inferwatch:ready"][0]["output"],
        "marked not ready (draining)"
    );
    assert_eq!(probe(addr, "/livez").await.0, 200);
    health.mark_ready();
    assert_eq!(probe(addr, "/readyz").await.0, 200);
}

#[tokio::test]
async fn gpu_memory_check_reads_the_sampler_snapshot() {
    let gpus = FakeGpus::new(vec![device(0), device(1)]);
    // GPU 1: 76 of 80 GiB in use, 95 %.
    gpus.set(1, GpuField::MemoryUsed, Ok(76.0 * 1024.0 * 1024.0 * 1024.0));
    let mut sampler = ResourceSampler::builder()
        .without_host()
        .gpu_source(gpus.clone())
        .build();
    sampler.sample();
    let health = Health::builder()
        .add_check(checks::gpu_memory(sampler.snapshots(), Thresholds::default()))
        .build();
    let report = health.ready().await;
    let gpu = &report.checks["gpu:memory"];
    assert_eq!(gpu.len(), 2);
    assert_eq!(
        (gpu[0].component_id.as_deref(), gpu[0].status),
        (Some("GPU-00000000"), Status::Pass)
    );
    assert_eq!(gpu[0].observed_value, Some(50.0));
    assert_eq!(gpu[1].status, Status::Fail);
    assert_eq!(gpu[1].observed_value, Some(95.0));
    assert_eq!(gpu[1].observed_unit.as_deref(), Some("percent"));
    assert_eq!(report.status, Status::Fail);

    // No NVML: a warning, so readiness stays up.
    let mut down = ResourceSampler::builder()
        .without_host()
        .gpu_source(FakeGpus::unavailable())
        .build();
    down.sample();
    let health = Health::builder()
        .add_check(checks::gpu_memory(down.snapshots(), Thresholds::default()))
        .build();
    let report = health.ready().await;
    assert_eq!(report.status, Status::Warn);
    assert_eq!(report.checks["gpu:memory"].len(), 1);
    assert_eq!(
        report.checks["gpu:memory"][0].output.as_deref(),
        Some("no GPU readings: NVML unavailable or GPU sampling off")
    );

    // A sampler that never ran: a warning too.
    let idle = ResourceSampler::builder()
        .without_host()
        .gpu_source(FakeGpus::unavailable())
        .build();
    let health = Health::builder()
        .add_check(checks::gpu_memory(idle.snapshots(), Thresholds::default()))
        .build();
    assert_eq!(
        health.ready().await.checks["gpu:memory"][0].output.as_deref(),
        Some("no sample yet")
    );
}

#[tokio::test]
async fn host_checks_follow_thresholds() {
    let mut sampler = ResourceSampler::builder().without_gpu().filesystem("/").build();
    sampler.sample();
    let snapshot = sampler.snapshots().latest();
    let host = snapshot.host.as_ref().unwrap();
    let everything_fails = Thresholds { warn: -1.0, fail: -0.5 };
    let health = Health::builder()
        .add_check(checks::host_memory(sampler.snapshots(), Thresholds::default()))
        .add_check(checks::disk(sampler.snapshots(), everything_fails))
        .add_check(checks::host_cpu(
            sampler.snapshots(),
            Thresholds { warn: 2.0, fail: 3.0 },
        ))
        .build();
    let report = health.report().await;
    let memory = &report.checks["memory:utilization"][0];
    let expected = (host.memory_used_ratio() * 1000.0).round() / 10.0;
    assert_eq!(memory.observed_value, Some(expected));
    assert_eq!(memory.status, Thresholds::default().status(host.memory_used_ratio()));
    let disk = &report.checks["disk:utilization"][0];
    assert_eq!(disk.status, Status::Fail);
    assert_eq!(
        disk.component_id.as_deref(),
        Some(host.filesystems[0].mount_point.as_str())
    );
    assert_eq!(report.checks["cpu:utilization"][0].status, Status::Pass);
}

#[tokio::test]
async fn saturation_counts_requests_in_flight_through_the_layer() {
    let in_flight = InFlightCounter::new();
    let (recorder, _exporter) = PrometheusBuilder::new().build().expect("exporter");
    let layer = inferwatch::InferenceLayer::builder()
        .recorder(recorder)
        .with(in_flight.clone())
        .build();
    let release = Arc::new(tokio::sync::Notify::new());
    let waiting = release.clone();
    let app = Router::new()
        .route(
            "/slow",
            get_route(move || {
                let waiting = waiting.clone();
                async move {
                    waiting.notified().await;
                    "done"
                }
            }),
        )
        .layer(layer);
    let addr = serve(app).await;
    let health = Health::builder()
        .add_check(checks::saturation(
            {
                let in_flight = in_flight.clone();
                move || in_flight.get()
            },
            4,
            Thresholds::default(),
        ))
        .cache_for(Duration::ZERO)
        .build();
    assert_eq!(health.ready().await.status, Status::Pass);

    let client = client();
    let requests: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn({
                let client = client.clone();
                async move { get(&client, addr, "/slow").await.status.as_u16() }
            })
        })
        .collect();
    assert!(support::eventually(Duration::from_secs(5), || in_flight.get() == 3).await);
    let report = health.ready().await;
    let entry = &report.checks["inference:saturation"][0];
    assert_eq!(
        (entry.status, entry.observed_value),
        (Status::Warn, Some(3.0)),
        "3 of 4 is 75 %"
    );
    assert_eq!(entry.output.as_deref(), Some("3 requests in flight of a limit of 4"));

    release.notify_waiters();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert!(support::eventually(Duration::from_secs(5), || in_flight.get() == 0).await);
    assert_eq!(health.ready().await.status, Status::Pass);
}

#[tokio::test]
async fn http_dependency_passes_on_2xx_only() {
    let upstream = serve(Router::new().route("/ok", get_route(|| async { "fine" })).route(
        "/broken",
        get_route(|| async { (http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
    ))
    .await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let health = Health::builder()
        .add_check(checks::http_dependency("tokenizer", format!("http://{upstream}/ok")))
        .add_check(checks::http_dependency("store", format!("http://{upstream}/broken")))
        .add_check(checks::http_dependency("cache", format!("http://{closed}/")))
        .build();
    let report = health.ready().await;
    assert_eq!(report.checks["tokenizer:responds"][0].status, Status::Pass);
    assert_eq!(
        report.checks["store:responds"][0].output.as_deref(),
        Some("answered HTTP 500")
    );
    let cache = &report.checks["cache:responds"][0];
    assert_eq!(cache.status, Status::Fail);
    assert!(cache.output.as_deref().unwrap().starts_with("unreachable"), "{cache:?}");
}

#[tokio::test]
async fn grpc_health_follows_readiness() {
    let state = Arc::new(AtomicU8::new(0));
    let health = Health::builder()
        .check("model:loaded", switchable(state.clone()))
        .cache_for(Duration::from_millis(50))
        .build();
    let service = health.grpc_service(["inference.GRPCInferenceService"]);
    let (addr, incoming) = support::grpc::listener().await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming),
    );
    let mut client = HealthClient::new(support::grpc::channel(addr).await);
    let status_of = |client: &mut HealthClient<_>, service: &'static str| {
        let mut client = client.clone();
        async move {
            let request = HealthCheckRequest {
                service: service.into(),
            };
            client.check(request).await.map(|r| r.into_inner().status())
        }
    };
    let all_are = |want: ServingStatus| {
        let client = client.clone();
        async move {
            for _ in 0..200 {
                let mut client = client.clone();
                let whole = status_of(&mut client, "").await;
                let named = status_of(&mut client, "inference.GRPCInferenceService").await;
                if whole.as_ref().ok() == Some(&want) && named.as_ref().ok() == Some(&want) {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        }
    };
    assert!(all_are(ServingStatus::Serving).await, "SERVING at start");
    state.store(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(all_are(ServingStatus::Serving).await, "warn keeps SERVING");
    state.store(2, Ordering::SeqCst);
    assert!(
        all_are(ServingStatus::NotServing).await,
        "NOT_SERVING after a readiness failure"
    );
    state.store(0, Ordering::SeqCst);
    assert!(all_are(ServingStatus::Serving).await, "SERVING again");
    health.mark_not_ready();
    assert!(all_are(ServingStatus::NotServing).await, "NOT_SERVING while draining");
    let unknown = status_of(&mut client, "no.Such").await.expect_err("unknown service");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn checks_run_in_the_background_and_no_series_exists_before_the_first_result() {
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let gate = Arc::new(tokio::sync::Notify::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let check = {
        let (gate, runs) = (gate.clone(), runs.clone());
        move || {
            let (gate, runs) = (gate.clone(), runs.clone());
            async move {
                // The first run waits for the test; later ones answer at once.
                if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                    gate.notified().await;
                }
                Observation::pass()
            }
        }
    };
    let health = Health::builder()
        .add_check(Check::new("model:loaded", check).timeout(Duration::from_secs(30)))
        .cache_for(Duration::ZERO)
        .evaluate_every(Duration::from_millis(20))
        .recorder(recorder)
        .build();
    let started = support::eventually(Duration::from_secs(2), || runs.load(Ordering::SeqCst) == 1).await;
    assert!(started, "the first run starts with the registry, with nobody probing");
    // Not evaluated yet: no series at all, rather than a 0 that reads as "fail".
    assert!(!exporter.render().contains("inferwatch_health_status"));
    gate.notify_one();
    let evaluated = support::eventually(Duration::from_secs(2), || {
        scrape(&exporter).try_get("inferwatch_health_status", &[("check", "model:loaded")]) == Some(1.0)
    })
    .await;
    assert!(evaluated);
    // And again on its own rhythm, still without a probe.
    let rerun = support::eventually(Duration::from_secs(2), || runs.load(Ordering::SeqCst) >= 4).await;
    assert!(rerun, "{} runs", runs.load(Ordering::SeqCst));
    drop(health);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_saturation_ignores_uploads_still_arriving_from_slow_clients() {
    use tokio::io::AsyncWriteExt;
    let serving = InFlightCounter::serving();
    let arrived = InFlightCounter::new();
    let layer = inferwatch::InferenceLayer::builder()
        .observer((serving.clone(), arrived.clone()))
        .build();
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let waiting = release.clone();
    let handler = move |handle: inferwatch::RequestHandle, body: String| {
        let waiting = waiting.clone();
        async move {
            handle.set_model(body.trim());
            let _permit = waiting.acquire().await;
            "done"
        }
    };
    let app = Router::new().route("/gen", axum::routing::post(handler)).layer(layer);
    let addr = serve(app).await;

    // 20 clients send their headers and one byte of a 100-byte body, then nothing.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(b"POST /gen HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nt")
            .await
            .expect("write");
        slow.push(tcp);
    }
    // 2 whole requests whose handler is working.
    let working: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { support::send(&client(), addr, "POST", "/gen", &[], "toy").await.status }))
        .collect();
    assert!(
        support::eventually(Duration::from_secs(5), || arrived.get() == 22).await,
        "{}",
        arrived.get()
    );
    assert!(
        support::eventually(Duration::from_secs(5), || serving.get() == 2).await,
        "{}",
        serving.get()
    );
    release.add_permits(2);
    for request in working {
        assert_eq!(request.await.expect("join"), 200);
    }
    drop(slow);
    assert!(support::eventually(Duration::from_secs(5), || serving.get() == 0 && arrived.get() == 0).await);
}
