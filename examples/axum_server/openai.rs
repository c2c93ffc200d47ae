//! The OpenAI wire format this example speaks: requests, response and chunk bodies, and errors.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// Largest `max_tokens` the toy accepts.
pub const MAX_TOKENS_LIMIT: u32 = 4096;

#[derive(Deserialize)]
pub struct CompletionRequest {
    pub model: String,
    #[serde(default)]
    pub prompt: Prompt,
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Content,
}

#[derive(Deserialize, Default)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// `prompt`: a string or an array of strings.
#[derive(Deserialize, Default)]
#[serde(untagged)]
pub enum Prompt {
    #[default]
    Empty,
    One(String),
    Many(Vec<String>),
}

impl Prompt {
    pub fn text(&self) -> String {
        match self {
            Prompt::Empty => String::new(),
            Prompt::One(s) => s.clone(),
            Prompt::Many(v) => v.join(" "),
        }
    }
}

/// A message's `content`: a string, or an array of parts of which the text parts count.
#[derive(Deserialize, Default)]
#[serde(untagged)]
pub enum Content {
    #[default]
    Empty,
    Text(String),
    Parts(Vec<Value>),
}

impl Content {
    pub fn text(&self) -> String {
        match self {
            Content::Empty => String::new(),
            Content::Text(s) => s.clone(),
            Content::Parts(parts) => {
                let texts: Vec<&str> = parts.iter().filter_map(|p| p.get("text")?.as_str()).collect();
                texts.join(" ")
            }
        }
    }
}

/// Whether a body is a text completion or a chat completion: they differ only in their JSON shapes.
#[derive(Clone, Copy)]
pub enum Kind {
    Completion,
    Chat,
}

impl Kind {
    pub fn id_prefix(self) -> &'static str {
        match self {
            Kind::Completion => "cmpl",
            Kind::Chat => "chatcmpl",
        }
    }

    /// The whole (non-streamed) response.
    pub fn response(self, id: &str, model: &str, text: &str, finish: &str, usage: Value) -> Value {
        let (object, choice) = match self {
            Kind::Completion => (
                "text_completion",
                json!({"text": text, "index": 0, "logprobs": null, "finish_reason": finish}),
            ),
            Kind::Chat => (
                "chat.completion",
                json!({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": finish}),
            ),
        };
        json!({"id": id, "object": object, "created": unix_now(), "model": model, "choices": [choice], "usage": usage})
    }

    /// One streamed chunk; `first` adds the chat role, `usage` is `null` unless this is the usage chunk.
    pub fn chunk(self, id: &str, model: &str, text: &str, finish: Option<&str>, first: bool) -> Value {
        let (object, choice) = match self {
            Kind::Completion => (
                "text_completion",
                json!({"text": text, "index": 0, "logprobs": null, "finish_reason": finish}),
            ),
            Kind::Chat => {
                let delta = if first {
                    json!({"role": "assistant", "content": text})
                } else {
                    json!({"content": text})
                };
                (
                    "chat.completion.chunk",
                    json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}),
                )
            }
        };
        json!({"id": id, "object": object, "created": unix_now(), "model": model, "choices": [choice], "usage": null})
    }

    /// The last chunk when the client asked for `stream_options.include_usage`: no choices, the usage.
    pub fn usage_chunk(self, id: &str, model: &str, usage: Value) -> Value {
        let object = match self {
            Kind::Completion => "text_completion",
            Kind::Chat => "chat.completion.chunk",
        };
        json!({"id": id, "object": object, "created": unix_now(), "model": model, "choices": [], "usage": usage})
    }
}

pub fn usage(input: u64, output: u64) -> Value {
    json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output})
}

pub fn error(status: StatusCode, kind: &str, param: Option<&str>, message: impl Into<String>) -> Response {
    let body = json!({"error": {"message": message.into(), "type": kind, "param": param, "code": null}});
    (status, Json(body)).into_response()
}

/// A body axum could not read as the request type: 400 malformed JSON, 413 too large, 415 not JSON, 422 wrong
/// fields, each as an OpenAI error.
pub fn rejected(rejection: JsonRejection) -> Response {
    error(rejection.status(), "invalid_request_error", None, rejection.body_text())
}

pub fn not_found(model: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("model"),
        format!("The model `{model}` does not exist"),
    )
}

/// `max_tokens` given or 16, within 1..=4096; else the 400 to answer with.
pub fn max_tokens(requested: Option<u32>) -> Result<u32, Box<Response>> {
    match requested.unwrap_or(16) {
        n @ 1..=MAX_TOKENS_LIMIT => Ok(n),
        n => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("max_tokens"),
            format!("max_tokens must be between 1 and {MAX_TOKENS_LIMIT}, got {n}"),
        ))),
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub fn new_id(kind: Kind) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) ^ unix_now().rotate_left(20);
    format!("{}-{n:016x}", kind.id_prefix())
}
