//! A small OpenAI-compatible text-generation server wrapped by inferwatch.
//!
//! The model is a toy: a deterministic word generator, honestly labelled as one. Tokens are whitespace-separated
//! words, counted from what it reads and produces, and emitted at a configurable pace so that time to first token,
//! time per output token and client hang-ups behave as they do in front of a real model.
//!
//! ```text
//! cargo run --example axum_server --features full -- --addr 127.0.0.1:8080 --token-delay-ms 10
//! curl -s localhost:8080/v1/completions -H 'content-type: application/json' \
//!      -d '{"model":"toy","prompt":"Say hello","max_tokens":8}'
//! curl -sN localhost:8080/v1/completions -H 'content-type: application/json' \
//!      -d '{"model":"toy","prompt":"Say hello","max_tokens":8,"stream":true}'
//! curl -s localhost:8080/metrics
//! ```
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318` (or `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` and port 4317)
//! each request is exported as a span with `tokenize`, `generate` and `decode` children.

#[path = "../shared/engine.rs"]
mod engine;
#[path = "../shared/fault.rs"]
mod fault;
mod handlers;
mod openai;
mod rollout;
#[path = "../shared/serve.rs"]
mod serve;
mod toy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use clap::Parser;
use inferwatch::cost::{CostObserver, Prices};
use inferwatch::drift::{Baseline, Drift, Feature, Warmup};
use inferwatch::engine::EngineMetrics;
use inferwatch::health::{Health, InFlightCounter, Observation, checks};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::resources::ResourceSampler;
use inferwatch::slo::ExperimentRules;
use inferwatch::telemetry::TelemetryBuilder;
use inferwatch::{InferenceLayer, operation};
use tower_http::timeout::RequestBodyTimeoutLayer;

use engine::{Engine, EngineArgs};
use handlers::AppState;
use toy::MODELS;

#[derive(Parser, Debug)]
#[command(about = "OpenAI-compatible toy completion server instrumented with inferwatch")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The engine: token delay, batch, queue, cache, prices.
    #[command(flatten)]
    engine: EngineArgs,
    /// Requests in flight the server is sized for (readiness warns above 70 %, fails above 90 %).
    #[arg(long, default_value_t = 256)]
    max_concurrency: usize,
    /// Seconds between GPU and host samples.
    #[arg(long, default_value_t = 10.0)]
    sample_interval_s: f64,
    /// Largest request body accepted, in bytes (larger ones get 413).
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Seconds to keep serving after SIGTERM / Ctrl-C while `/readyz` answers 503, so load balancers drain.
    #[arg(long, default_value_t = 0.0)]
    drain_s: f64,
    /// Seconds open connections get to finish after the drain; then they are closed and telemetry is flushed.
    #[arg(long, default_value_t = 10.0)]
    shutdown_timeout_s: f64,
    /// Seconds a connection may take to send a request's head (the first one, whatever the protocol; then each
    /// HTTP/1 one); slower connections are closed.
    #[arg(long, default_value_t = 10.0)]
    header_read_timeout_s: f64,
    /// Seconds a client may take to send its request body (slower ones get a 400).
    #[arg(long, default_value_t = 30.0)]
    body_timeout_s: f64,
    /// Share of the `model-rollout` experiment's treatment requests that fail with a 500 (a worse candidate).
    #[arg(long, default_value_t = 0.0)]
    treatment_error_rate: f64,
    /// Share of inference requests this replica fails by itself with a 500, as one with a broken GPU or a bad
    /// model load would (a fleet's bad replica; the fault header asks per request instead).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Print the Prometheus rules that judge the example's experiment, and exit.
    #[arg(long)]
    print_experiment_rules: bool,
    /// Drift: observations of each feature and model that become its baseline (unless --drift-baseline is given).
    #[arg(long, default_value_t = 1000)]
    drift_warmup: u64,
    /// Serves operators' routes (`GET /v1/drift/baseline`, the current window as a baseline document) to requests
    /// with `Authorization: Bearer <token>`; without a token they are not served.
    #[arg(long)]
    operator_token: Option<String>,
    /// Drift: a baseline document (saved from `GET /v1/drift/baseline`) to judge against instead of a warm-up.
    #[arg(long)]
    drift_baseline: Option<std::path::PathBuf>,
    /// Drift: seconds between evaluations of the statistics.
    #[arg(long, default_value_t = 10.0)]
    drift_interval_s: f64,
    /// With --print-experiment-rules: the comparison window.
    #[arg(long, default_value = "1h")]
    rules_window: String,
    /// With --print-experiment-rules: how long a verdict holds before its alert fires.
    #[arg(long, default_value = "10m")]
    rules_for: String,
    /// With --print-experiment-rules: requests (or ratings) each variant needs before a verdict.
    #[arg(long, default_value_t = 500)]
    rules_min_samples: u64,
}

/// The routes, named once for the router and for the layer (which creates their series before any traffic).
const COMPLETIONS: &str = "/v1/completions";
const CHAT_COMPLETIONS: &str = "/v1/chat/completions";
const MODELS_ROUTE: &str = "/v1/models";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let rollout = rollout::experiment();
    if args.print_experiment_rules {
        let rules = ExperimentRules::new()
            .experiment(&rollout)
            .window(&args.rules_window)
            .for_duration(&args.rules_for)
            .min_samples(args.rules_min_samples);
        print!("{}", rules.to_yaml());
        return Ok(());
    }
    let prices = Prices::from_json_file(&args.engine.prices)?;
    // The recorder first: telemetry counts what it loses (log lines, spans) into it. Given the prices, the
    // exporter renders the exact spend.
    let exporter = PrometheusBuilder::new().prices(&prices).install()?;
    // JSON logs on stdout; spans go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set.
    let telemetry = TelemetryBuilder::new().service_name("inferwatch-axum-example").init()?;
    let config = args.engine.config();
    let engine_metrics = EngineMetrics::new();
    let state = Arc::new(AppState {
        engines: MODELS
            .iter()
            .map(|m| (*m, Engine::start(m, config, engine_metrics.clone())))
            .collect(),
        treatment_error_rate: args.treatment_error_rate,
        fail_rate: args.fail_rate,
    });
    // Saturation counts requests being served, not uploads still arriving from slow clients.
    let in_flight = InFlightCounter::serving();
    let mut drift = Drift::builder()
        .feature(Feature::categorical("language", toy::LANGUAGES.iter().copied()))
        .warmup(Warmup::Observations(args.drift_warmup))
        .interval(Duration::from_secs_f64(args.drift_interval_s));
    if let Some(path) = &args.drift_baseline {
        drift = drift.baseline(Baseline::load(path)?);
    }
    let drift = drift.build()?;
    let layer = InferenceLayer::builder()
        .allowed_models(MODELS.iter().chain(rollout::CANDIDATES).copied())
        .http_routes([COMPLETIONS, CHAT_COMPLETIONS, MODELS_ROUTE])
        .operations([operation::TEXT_COMPLETION, operation::CHAT])
        .experiment(&rollout)
        .evaluators([rollout::EVALUATOR])
        .feedback_key(rollout::feedback_key())
        .tracing(telemetry.tracing_observer())
        .with(CostObserver::new(&prices))
        .with(drift.clone())
        .with(in_flight.clone())
        .build();
    let feedback = layer.feedback();
    // GPUs through NVML (sampler_up 0 where there is none) and the host, every --sample-interval-s, on a thread
    // of its own until `sampler` is dropped at the end of `main`.
    let sampler = ResourceSampler::builder()
        .interval(Duration::from_secs_f64(args.sample_interval_s))
        .filesystem(".")
        .prices(&prices)
        .spawn();
    let snapshots = sampler.snapshots();
    let health = Health::builder()
        .add_check(checks::gpu_memory(snapshots.clone(), Default::default()))
        .add_check(checks::host_memory(snapshots.clone(), Default::default()))
        .add_check(checks::host_cpu(snapshots.clone(), Default::default()).informational())
        .add_check(checks::disk(snapshots, Default::default()))
        .add_check(checks::kv_cache(engine_metrics, 0.95))
        .add_check(checks::saturation(
            move || in_flight.get(),
            args.max_concurrency,
            Default::default(),
        ))
        .check("model:loaded", || async {
            Observation::pass().observed(MODELS.len() as f64, "models")
        })
        .build();
    let app = Router::new()
        // The experiment assigns completions only (inside the inference layer, whose handle it reads).
        .route(COMPLETIONS, post(handlers::completions).layer(rollout.layer()))
        .route(
            CHAT_COMPLETIONS,
            post(handlers::chat_completions).layer(rollout.layer()),
        )
        .route(MODELS_ROUTE, get(handlers::models))
        .fallback(handlers::fallback)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(args.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs_f64(
            args.body_timeout_s,
        )))
        .with_state(state)
        .layer(layer)
        // Merged after the layer: scrapes, probes and feedback are not inference traffic.
        .merge(feedback.router())
        .merge(exporter.router())
        .merge(health.router());
    // The current window as a baseline document, for operators to capture a known-good period: it tells what
    // clients send, so clients do not get it.
    let app = match &args.operator_token {
        Some(token) => {
            let expected = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| "--operator-token: visible ASCII only")?;
            app.merge(
                drift
                    .router()
                    .layer(axum::middleware::from_fn_with_state(expected, operators_only)),
            )
        }
        None => app,
    };
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "inferwatch example listening");
    let drain = Duration::from_secs_f64(args.drain_s);
    let shutdown = async move {
        shutdown_signal().await;
        // Readiness fails at once; in-flight and new requests are still served while balancers notice.
        health.mark_not_ready();
        tracing::info!(drain_s = drain.as_secs_f64(), "shutting down: marked not ready");
        tokio::time::sleep(drain).await;
    };
    serve::serve(
        listener,
        app,
        Duration::from_secs_f64(args.header_read_timeout_s),
        shutdown,
        Duration::from_secs_f64(args.shutdown_timeout_s),
    )
    .await?;
    sampler.stop();
    tracing::info!("stopped");
    Ok(())
}

/// Lets requests with the operators' `Authorization` header through; 401 for the others.
async fn operators_only(
    axum::extract::State(expected): axum::extract::State<HeaderValue>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let given = request.headers().get(axum::http::header::AUTHORIZATION);
    // Compared in full whatever the first difference, so that the time taken does not say how much matched.
    let matches = given.is_some_and(|given| {
        let (given, expected) = (given.as_bytes(), expected.as_bytes());
        given.len() == expected.len() && given.iter().zip(expected).fold(0, |d, (a, b)| d | (a ^ b)) == 0
    });
    if matches {
        next.run(request).await
    } else {
        axum::http::StatusCode::UNAUTHORIZED.into_response()
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        // Without a signal handler the server just runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
