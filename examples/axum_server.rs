//! A small OpenAI-compatible text-generation server wrapped by inferwatch.
//!
//! The model is a toy: a deterministic word generator, honestly labelled as one. Tokens are whitespace-separated
//! words, counted from what it reads and produces, and emitted at a configurable pace so that time to first token,
//! time per output token and client hang-ups behave as they do in front of a real model.
//!
//! ```text
//! cargo run --example axum_server -- --addr 127.0.0.1:8080 --token-delay-ms 10
//! curl -s localhost:8080/v1/completions -H 'content-type: application/json' \
//!      -d '{"model":"toy","prompt":"Say hello","max_tokens":8}'
//! curl -sN localhost:8080/v1/completions -H 'content-type: application/json' \
//!      -d '{"model":"toy","prompt":"Say hello","max_tokens":8,"stream":true}'
//! curl -s localhost:8080/metrics
//! ```
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318` (or `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` and port 4317)
//! each request is exported as a span with `tokenize`, `generate` and `decode` children.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use futures_util::stream::{self, Stream, StreamExt};
use inferwatch::health::{Health, InFlightCounter, Observation, checks};
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::sampler::Sampler;
use inferwatch::telemetry::TelemetryBuilder;
use inferwatch::{FinishReason, InferenceLayer, RequestHandle, Stage, operation, stage_name};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceBuilder;

/// The models this toy serves.
const MODELS: &[&str] = &["toy", "toy-large"];
const VOCABULARY: &[&str] = &[
    "the", "model", "answers", "with", "a", "few", "plain", "words", "and", "then", "stops", "politely",
];

#[derive(Parser, Debug)]
#[command(about = "OpenAI-compatible toy completion server instrumented with inferwatch")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Delay before each generated token, in milliseconds.
    #[arg(long, default_value_t = 10)]
    token_delay_ms: u64,
    /// Requests in flight the server is sized for (readiness warns above 70 %, fails above 90 %).
    #[arg(long, default_value_t = 256)]
    max_concurrency: usize,
    /// Seconds between GPU and host samples.
    #[arg(long, default_value_t = 10.0)]
    sample_interval_s: f64,
    /// Seconds to keep serving after SIGTERM / Ctrl-C while `/readyz` answers 503, so load balancers drain.
    #[arg(long, default_value_t = 0.0)]
    drain_s: f64,
}

#[derive(Clone)]
struct AppState {
    token_delay: Duration,
}

#[derive(Deserialize)]
struct CompletionRequest {
    model: String,
    #[serde(default)]
    prompt: Prompt,
    #[serde(default = "default_max_tokens")]
    max_tokens: u32,
    #[serde(default)]
    stream: bool,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Prompt {
    #[default]
    Empty,
    One(String),
    Many(Vec<String>),
}

impl Prompt {
    fn text(&self) -> String {
        match self {
            Prompt::Empty => String::new(),
            Prompt::One(s) => s.clone(),
            Prompt::Many(v) => v.join(" "),
        }
    }
}

fn default_max_tokens() -> u32 {
    16
}

/// Whitespace tokenizer: the toy's notion of a token.
fn count_tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The toy's deterministic generation: words picked from the prompt's bytes. Ends early ("stop") once the
/// prompt's length in words is produced twice over, else at `max_tokens` ("length").
fn generate(prompt: &str, max_tokens: u32) -> (Vec<String>, FinishReason) {
    let seed = prompt
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let natural = 2 * count_tokens(prompt).max(2);
    let n = u64::from(max_tokens).min(natural);
    let words = (0..n).map(|i| VOCABULARY[((seed >> (i % 48)) as usize + i as usize) % VOCABULARY.len()]);
    let words = words
        .enumerate()
        .map(|(i, w)| if i == 0 { w.to_string() } else { format!(" {w}") })
        .collect();
    (
        words,
        if n < u64::from(max_tokens) {
            FinishReason::Stop
        } else {
            FinishReason::Length
        },
    )
}

fn openai_error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"message": message.into(), "type": kind, "param": null, "code": null}});
    (status, Json(body)).into_response()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn completions(
    State(state): State<Arc<AppState>>,
    handle: RequestHandle,
    body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return openai_error(rejection.status(), "invalid_request_error", rejection.body_text()),
    };
    if !MODELS.contains(&request.model.as_str()) {
        let message = format!("The model `{}` does not exist", request.model);
        return openai_error(StatusCode::NOT_FOUND, "invalid_request_error", message);
    }
    handle.set_model(&request.model);
    handle.set_operation(operation::TEXT_COMPLETION);
    handle.set_stream(request.stream);
    let prompt = request.prompt.text();
    handle.record_prompt(&prompt);
    let input_tokens = {
        let _tokenize = handle.stage(stage_name::TOKENIZE).entered();
        count_tokens(&prompt)
    };
    handle.add_input_tokens(input_tokens);
    tracing::info!(input_tokens, max_tokens = request.max_tokens, "prompt tokenized");
    let (words, finish) = generate(&prompt, request.max_tokens);
    let id = format!("cmpl-{:016x}", rand_id());
    if request.stream {
        let generate = handle.stage(stage_name::GENERATE);
        let events = stream_completion(state.token_delay, handle, generate, id, request.model, words, finish);
        return Sse::new(events).into_response();
    }
    let generation = async {
        for _ in &words {
            tokio::time::sleep(state.token_delay).await;
            // The client sees nothing until the end, but the model knows when its first token came out.
            handle.mark_first_token();
            handle.add_output_tokens(1);
        }
    };
    handle.stage(stage_name::GENERATE).instrument(generation).await;
    handle.set_finish_reason(finish);
    let output_tokens = words.len() as u64;
    // Detokenizing is CPU work: off the async runtime, still under the request's span.
    let decode = handle.stage(stage_name::DECODE);
    let text = tokio::task::spawn_blocking(move || decode.in_scope(|| words.concat()))
        .await
        .unwrap_or_default();
    handle.record_completion(&text);
    Json(json!({
        "id": id,
        "object": "text_completion",
        "created": unix_now(),
        "model": request.model,
        "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish.as_str()}],
        "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens, "total_tokens": input_tokens + output_tokens},
    }))
    .into_response()
}

/// One server-sent event per token, a last one carrying the finish reason, then `[DONE]`.
fn stream_completion(
    delay: Duration,
    handle: RequestHandle,
    generate: Stage,
    id: String,
    model: String,
    words: Vec<String>,
    finish: FinishReason,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let chunk = move |text: &str, finish: Option<&str>| {
        json!({
            "id": id, "object": "text_completion", "created": unix_now(), "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}],
        })
    };
    let tokens = stream::iter(words).then({
        let (handle, chunk) = (handle.clone(), chunk.clone());
        move |word| {
            let (handle, chunk) = (handle.clone(), chunk.clone());
            async move {
                tokio::time::sleep(delay).await;
                handle.add_output_tokens(1);
                Event::default().data(chunk(&word, None).to_string())
            }
        }
    });
    let last = stream::once(async move {
        // The generate stage ends with the last token (or when the client hangs up and the stream is dropped).
        generate.end();
        handle.set_finish_reason(finish);
        Event::default().data(chunk("", Some(finish.as_str())).to_string())
    });
    tokens
        .chain(last)
        .chain(stream::once(async { Event::default().data("[DONE]") }))
        .map(Ok)
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) ^ unix_now().rotate_left(20)
}

async fn models() -> Json<Value> {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "inferwatch-example"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // JSON logs on stdout; spans go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set.
    let _telemetry = TelemetryBuilder::new().service_name("inferwatch-axum-example").init()?;
    let exporter = PrometheusBuilder::new().install()?;
    let state = Arc::new(AppState {
        token_delay: Duration::from_millis(args.token_delay_ms),
    });
    let in_flight = InFlightCounter::new();
    let layer = InferenceLayer::builder()
        .allowed_models(MODELS.iter().copied())
        .build_with(in_flight.clone());
    // GPUs through NVML (sampler_up 0 where there is none) and the host, every --sample-interval-s.
    let sampling = Sampler::builder()
        .interval(Duration::from_secs_f64(args.sample_interval_s))
        .filesystem(".")
        .layer();
    let snapshots = sampling.snapshots();
    let health = Health::builder()
        .add_check(checks::gpu_memory(snapshots.clone(), Default::default()))
        .add_check(checks::host_memory(snapshots.clone(), Default::default()))
        .add_check(checks::host_cpu(snapshots.clone(), Default::default()).informational())
        .add_check(checks::disk(snapshots, Default::default()))
        .add_check(checks::saturation(in_flight, args.max_concurrency, Default::default()))
        .check("model:loaded", || async {
            Observation::pass().observed(MODELS.len() as f64, "models")
        })
        .build();
    let app = Router::new()
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .with_state(state)
        .layer(ServiceBuilder::new().layer(sampling).layer(layer))
        // Merged after the layer: scrapes and probes are not inference traffic.
        .merge(exporter.router())
        .merge(health.router());
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "inferwatch example listening");
    let drain = Duration::from_secs_f64(args.drain_s);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Readiness fails at once; in-flight and new requests are still served while balancers notice.
            health.mark_not_ready();
            tracing::info!(drain_s = drain.as_secs_f64(), "shutting down: marked not ready");
            tokio::time::sleep(drain).await;
        })
        .await?;
    Ok(())
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
