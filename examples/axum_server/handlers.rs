//! `POST /v1/completions`, `POST /v1/chat/completions` and `GET /v1/models`, reporting to inferwatch through the
//! request handle: model, operation, tokens, stages and finish reason.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use inferwatch::{FinishReason, RequestHandle, Stage, operation, stage_name};
use serde_json::{Value, json};

use crate::engine::{Engine, Generation, QueueFull};
use crate::fault::{self, Fault};
use crate::openai::{self, ChatRequest, CompletionRequest, Kind};
use crate::rollout;
use crate::toy::{self, MODELS};

pub struct AppState {
    /// One engine per served model (queue, batch, cache).
    pub engines: HashMap<&'static str, Engine>,
    /// Share of the experiment's treatment requests that fail on purpose.
    pub treatment_error_rate: f64,
    /// Share of all inference requests this replica fails by itself (--fail-rate).
    pub fail_rate: f64,
}

/// What a validated request asks the model for.
struct Job {
    kind: Kind,
    model: String,
    prompt: String,
    max_tokens: u32,
    stream: bool,
    include_usage: bool,
}

fn fault_requested(headers: &HeaderMap) -> Option<Fault> {
    fault::requested(headers.get(fault::HEADER).map(|v| v.as_bytes()))
}

pub async fn completions(
    State(state): State<Arc<AppState>>,
    handle: RequestHandle,
    headers: HeaderMap,
    body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Response {
    handle.set_operation(operation::TEXT_COMPLETION);
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return openai::rejected(rejection),
    };
    let max_tokens = match openai::max_tokens(request.max_tokens) {
        Ok(n) => n,
        Err(response) => return *response,
    };
    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    let job = Job {
        kind: Kind::Completion,
        prompt: request.prompt.text(),
        model: request.model,
        max_tokens,
        stream: request.stream,
        include_usage,
    };
    run(&state, handle, job, fault_requested(&headers)).await
}

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    handle: RequestHandle,
    headers: HeaderMap,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Response {
    handle.set_operation(operation::CHAT);
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return openai::rejected(rejection),
    };
    if request.messages.is_empty() {
        let message = "messages must contain at least one message";
        return openai::error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("messages"),
            message,
        );
    }
    let max_tokens = match openai::max_tokens(request.max_completion_tokens.or(request.max_tokens)) {
        Ok(n) => n,
        Err(response) => return *response,
    };
    // The toy's chat template: each message as "role: content", one per line.
    let prompt: Vec<String> = request
        .messages
        .iter()
        .map(|m| format!("{}: {}", m.role, m.content.text()))
        .collect();
    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    let job = Job {
        kind: Kind::Chat,
        prompt: prompt.join("\n"),
        model: request.model,
        max_tokens,
        stream: request.stream,
        include_usage,
    };
    run(&state, handle, job, fault_requested(&headers)).await
}

async fn run(state: &AppState, handle: RequestHandle, mut job: Job, fault: Option<Fault>) -> Response {
    let Some(engine) = state.engines.get(job.model.as_str()) else {
        return openai::not_found(&job.model);
    };
    handle.set_model(&job.model);
    // Drift: which language the prompts are in (the monitor compares the mix with its baseline).
    handle.record_category("language", toy::language(&job.prompt));
    // The experiment's treatment is answered by the candidate build, which may be made to fail.
    if let Some(candidate) = rollout::answering_model(&handle, &job.model) {
        handle.set_response_model(&candidate);
        if rollout::treatment_fails(state.treatment_error_rate) {
            let message = "the candidate model failed (--treatment-error-rate)";
            return openai::error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None, message);
        }
        job.model = candidate;
    }
    if rollout::replica_fails(state.fail_rate) {
        tracing::error!("this replica fails the request (--fail-rate)");
        let message = "this replica is failing (--fail-rate)";
        return openai::error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None, message);
    }
    match fault {
        Some(Fault::ServerError) => {
            tracing::error!("injected fault: failing the request");
            let message = "injected fault (x-inferwatch-fault: server-error)";
            return openai::error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None, message);
        }
        Some(Fault::Panic) => panic!("injected fault (x-inferwatch-fault: panic)"),
        None => {}
    }
    handle.set_stream(job.stream);
    handle.record_prompt(&job.prompt);
    let input_tokens = {
        let _tokenize = handle.stage(stage_name::TOKENIZE).entered();
        toy::count_tokens(&job.prompt)
    };
    tracing::info!(input_tokens, max_tokens = job.max_tokens, "prompt tokenized");
    let (words, finish) = toy::generate(&job.prompt, job.max_tokens);
    // Every answer is scored; the score lands on the request's span and in inferwatch_quality_score.
    let _ = handle.record_score(rollout::EVALUATOR, rollout::score(&words));
    // The engine's admission queue: a full one refuses at once, as vLLM and TGI do under overload.
    let mut generation = match engine.submit(&handle, input_tokens, words.len() as u64) {
        Ok(generation) => generation,
        Err(QueueFull) => {
            let message = "the engine's queue is full (--queue-capacity); retry later";
            return openai::error(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", None, message);
        }
    };
    // Counted once admitted: a refused request is not billed.
    handle.add_input_tokens(input_tokens);
    generation.scheduled().await;
    // The response id carries the model and variant, signed: feedback on it is attributed on any replica.
    let id = handle.response_id().unwrap_or_else(|| openai::new_id(job.kind));
    if job.stream {
        let generate = handle.stage(stage_name::GENERATE);
        let events = stream_tokens(generation, handle, generate, id, job, input_tokens, words, finish);
        return Sse::new(events).into_response();
    }
    let tokens = async {
        while generation.next_token().await {
            // The client sees nothing until the end, but the model knows when its first token came out.
            handle.mark_first_token();
            handle.add_output_tokens(1);
        }
    };
    handle.stage(stage_name::GENERATE).instrument(tokens).await;
    handle.set_finish_reason(finish);
    let output_tokens = words.len() as u64;
    // Detokenizing is CPU work: off the async runtime, still under the request's span.
    let decode = handle.stage(stage_name::DECODE);
    let text = tokio::task::spawn_blocking(move || decode.in_scope(|| words.concat()))
        .await
        .unwrap_or_default();
    handle.record_completion(&text);
    let usage = openai::usage(input_tokens, output_tokens);
    Json(job.kind.response(&id, &job.model, &text, finish.as_str(), usage)).into_response()
}

/// One server-sent event per token, one carrying the finish reason, the usage when asked for, then `[DONE]`.
#[allow(clippy::too_many_arguments)]
fn stream_tokens(
    generation: Generation,
    handle: RequestHandle,
    generate: Stage,
    id: String,
    job: Job,
    input_tokens: u64,
    words: Vec<String>,
    finish: FinishReason,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let (kind, model) = (job.kind, Arc::<str>::from(job.model));
    let id = Arc::<str>::from(id);
    let output_tokens = words.len() as u64;
    let state = (
        generation,
        words.into_iter().enumerate(),
        handle.clone(),
        id.clone(),
        model.clone(),
    );
    let tokens = stream::unfold(
        state,
        move |(mut generation, mut words, handle, id, model)| async move {
            let (i, word) = words.next()?;
            if !generation.next_token().await {
                return None;
            }
            handle.add_output_tokens(1);
            let event = Event::default().data(kind.chunk(&id, &model, &word, None, i == 0).to_string());
            Some((event, (generation, words, handle, id, model)))
        },
    );
    let last = stream::once({
        let (id, model) = (id.clone(), model.clone());
        async move {
            // The generate stage ends with the last token (or when the client hangs up and the stream is dropped).
            generate.end();
            handle.set_finish_reason(finish);
            let first = output_tokens == 0;
            Event::default().data(kind.chunk(&id, &model, "", Some(finish.as_str()), first).to_string())
        }
    });
    let usage = job.include_usage.then(|| {
        let usage = openai::usage(input_tokens, output_tokens);
        Event::default().data(kind.usage_chunk(&id, &model, usage).to_string())
    });
    tokens
        .chain(last)
        .chain(stream::iter(usage))
        .chain(stream::once(async { Event::default().data("[DONE]") }))
        .map(Ok)
}

pub async fn models() -> Json<Value> {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "inferwatch-example"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// Unknown paths: an OpenAI-style 404 rather than an empty body.
pub async fn fallback() -> Response {
    openai::error(StatusCode::NOT_FOUND, "invalid_request_error", None, "Unknown endpoint")
}

/// A known path with the wrong method: an OpenAI-style 405 rather than axum's empty one.
pub async fn method_not_allowed() -> Response {
    openai::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        None,
        "Method not allowed for this endpoint",
    )
}
