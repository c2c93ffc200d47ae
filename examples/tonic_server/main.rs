//! A gRPC inference server speaking the Open Inference Protocol (KServe v2, Triton's protocol), wrapped by
//! inferwatch: gRPC metrics and spans, `grpc.health.v1` in step with readiness, server reflection, and its metrics
//! and health routes on a separate HTTP listener. The model is the same toy as the axum example's.
//!
//! ```text
//! cargo run --example tonic_server -- --addr 127.0.0.1:50051 --metrics-addr 127.0.0.1:9464
//! pip install 'tritonclient[grpc]' && python3 examples/clients/triton_client.py --url 127.0.0.1:50051
//! curl -s 127.0.0.1:9464/metrics | grep rpc_server_call_duration
//! ```

mod bytes_tensor;
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
use inferwatch::InferenceLayer;
use inferwatch::health::{Health, Observation};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::TelemetryBuilder;
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
    /// Delay before each generated token, in milliseconds.
    #[arg(long, default_value_t = 10)]
    token_delay_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let _telemetry = TelemetryBuilder::new()
        .service_name("inferwatch-tonic-example")
        .init()?;
    let exporter = PrometheusBuilder::new().install()?;
    let models = args.model.clone();
    let health = Health::builder()
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
        .grpc_descriptors([
            descriptors.as_slice(),
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ])?
        .build();

    let http: axum::Router = exporter.router().merge(health.router());
    let http_listener = tokio::net::TcpListener::bind(args.metrics_addr).await?;
    tracing::info!(addr = %http_listener.local_addr()?, "metrics and health listening");
    tokio::spawn(async move { axum::serve(http_listener, http).await });

    let server = InferenceServer {
        models: args.model.iter().map(|m| m.as_str().into()).collect(),
        token_delay: Duration::from_millis(args.token_delay_ms),
    };
    tracing::info!(addr = %args.addr, models = ?args.model, "KServe v2 gRPC server listening");
    let drain = health.clone();
    tonic::transport::Server::builder()
        .layer(layer)
        .add_service(health.grpc_service([SERVICE]))
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(server)
        .serve_with_shutdown(args.addr, async move {
            let _ = tokio::signal::ctrl_c().await;
            drain.mark_not_ready();
        })
        .await?;
    Ok(())
}
