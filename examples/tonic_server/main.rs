//! A gRPC inference server speaking the Open Inference Protocol (KServe v2, Triton's protocol), wrapped by
//! inferwatch: gRPC metrics and spans, `grpc.health.v1` in step with readiness, server reflection, and its metrics
//! and health routes on a separate HTTP listener. The model is the same toy as the axum example's.
//!
//! ```text
//! cargo run --example tonic_server --features full -- --addr 127.0.0.1:50051 --metrics-addr 127.0.0.1:9464
//! pip install 'tritonclient[grpc]' && python3 examples/clients/triton_client.py --url 127.0.0.1:50051
//! curl -s 127.0.0.1:9464/metrics | grep rpc_server_call_duration
//! ```

mod bytes_tensor;
#[path = "../shared/engine.rs"]
mod engine;
#[path = "../shared/fault.rs"]
mod fault;
mod messages;
mod service;
#[allow(dead_code)] // the model list is the HTTP example's
#[path = "../axum_server/toy.rs"]
mod toy;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use engine::{Engine, EngineArgs};
use inferwatch::cost::{CostObserver, Prices};
use inferwatch::engine::EngineMetrics;
use inferwatch::health::{Health, Observation, checks};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::TelemetryBuilder;
use inferwatch::{InferenceLayer, operation};
use prost::Message;
use service::{InferenceServer, SERVICE};

const PROTO: &str = include_str!("grpc_service.proto");

#[derive(Parser, Debug)]
#[command(about = "KServe v2 / Triton-compatible gRPC toy server instrumented with inferwatch")]
struct Args {
    /// gRPC address.
    #[arg(long, default_value = "127.0.0.1:50051")]
    addr: SocketAddr,
    /// Address of /metrics, /livez, /readyz and /health.
    #[arg(long, default_value = "127.0.0.1:9464")]
    metrics_addr: SocketAddr,
    /// The models served, comma-separated (every one is the same toy).
    #[arg(long, value_delimiter = ',', default_value = "toy")]
    model: Vec<String>,
    /// The engine: token delay, batch, queue, cache, prices.
    #[command(flatten)]
    engine: EngineArgs,
    /// Seconds to keep serving after SIGTERM / Ctrl-C while readiness answers NOT_SERVING, so balancers drain.
    #[arg(long, default_value_t = 0.0)]
    drain_s: f64,
    /// Seconds open calls get to finish after the drain; then they are cut and telemetry is flushed.
    #[arg(long, default_value_t = 10.0)]
    shutdown_timeout_s: f64,
    /// Seconds a call may run before it fails with `CANCELLED` (a unary call's request included).
    #[arg(long, default_value_t = 600.0)]
    request_timeout_s: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let prices = Prices::from_json_file(&args.engine.prices)?;
    // The recorder first: telemetry counts what it loses (log lines, spans) into it. Given the prices, the
    // exporter renders the exact spend.
    let exporter = PrometheusBuilder::new().prices(&prices).install()?;
    let telemetry = TelemetryBuilder::new()
        .service_name("inferwatch-tonic-example")
        .init()?;
    let models = args.model.clone();
    let engine_metrics = EngineMetrics::new();
    let health = Health::builder()
        .add_check(checks::kv_cache(engine_metrics.clone(), 0.95))
        .check("model:loaded", move || {
            let models = models.clone();
            async move {
                models
                    .into_iter()
                    .map(|model| Observation::pass().component(model, "component"))
                    .collect::<Vec<_>>()
            }
        })
        .build();

    // Reflection from the service definition itself, parsed at run time: no protoc anywhere.
    let file = protox_parse::parse("grpc_service.proto", PROTO).map_err(|e| format!("grpc_service.proto: {e}"))?;
    let descriptors = prost_types::FileDescriptorSet { file: vec![file] }.encode_to_vec();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(&descriptors)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(&descriptors)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // The layer learns the served methods from the same descriptor sets reflection serves: none listed by hand,
    // and calls to any other method are one `_OTHER` label and client errors.
    let layer = InferenceLayer::builder()
        .allowed_models(args.model.clone())
        .operations([operation::TEXT_COMPLETION])
        .grpc_descriptors([
            descriptors.as_slice(),
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ])?
        .tracing(telemetry.tracing_observer())
        .with(CostObserver::new(&prices))
        .build();

    let http: axum::Router = exporter.router().merge(health.router());
    let http_listener = tokio::net::TcpListener::bind(args.metrics_addr).await?;
    tracing::info!(addr = %http_listener.local_addr()?, "metrics and health listening");
    tokio::spawn(async move { axum::serve(http_listener, http).await });

    let config = args.engine.config();
    let server = InferenceServer {
        engines: std::sync::Arc::new(
            args.model
                .iter()
                .map(|m| (m.clone(), Engine::start(m, config, engine_metrics.clone())))
                .collect(),
        ),
    };
    tracing::info!(addr = %args.addr, models = ?args.model, "KServe v2 gRPC server listening");
    let drain = health.clone();
    let (drain_for, shutdown_timeout) = (
        Duration::from_secs_f64(args.drain_s),
        Duration::from_secs_f64(args.shutdown_timeout_s),
    );
    let drained = std::sync::Arc::new(tokio::sync::Notify::new());
    let draining = drained.clone();
    let serving = tonic::transport::Server::builder()
        .timeout(Duration::from_secs_f64(args.request_timeout_s))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .layer(layer)
        .add_service(health.grpc_service([SERVICE]))
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(server)
        .serve_with_shutdown(args.addr, async move {
            shutdown_signal().await;
            drain.mark_not_ready();
            tracing::info!(drain_s = drain_for.as_secs_f64(), "shutting down: marked not ready");
            tokio::time::sleep(drain_for).await;
            draining.notify_one();
        });
    // A call that never ends (a client that stops sending mid-stream) must not keep the process from flushing its
    // telemetry and exiting.
    tokio::select! {
        served = serving => served?,
        _ = async {
            drained.notified().await;
            tokio::time::sleep(shutdown_timeout).await;
        } => tracing::warn!(timeout_s = shutdown_timeout.as_secs_f64(), "shutdown: calls still open after the timeout are cut"),
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        #[cfg(unix)]
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
