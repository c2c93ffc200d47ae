//! The OpenAI-compatible side: `POST /v1/completions` and `/v1/chat/completions`, streamed as server-sent events or
//! whole.

use std::time::Instant;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::fault;
use crate::{Invalid, Mix, Record};

/// How users rate answers.
#[derive(Clone)]
pub struct Ratings {
    pub negative_rate: f64,
    pub worse_models: Vec<String>,
    pub worse_negative_rate: f64,
}

#[derive(Clone)]
pub struct Target {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    ratings: std::sync::Arc<Ratings>,
}

impl Target {
    pub fn new(url: &str, ratings: Ratings) -> Self {
        Target {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: url.trim_end_matches('/').to_string(),
            ratings: std::sync::Arc::new(ratings),
        }
    }

    /// Rates an answer as its user would: `POST /v1/feedback` with its id. Returns the rating and whether the
    /// server attributed it.
    async fn rate(&self, answer: &[u8], stream: bool, draw: f64) -> Option<(&'static str, bool)> {
        let (id, model) = answer_id(answer, stream)?;
        let worse = self.ratings.worse_models.contains(&model);
        let negative_rate = if worse {
            self.ratings.worse_negative_rate
        } else {
            self.ratings.negative_rate
        };
        let rating = if draw < negative_rate { "negative" } else { "positive" };
        let body = json!({"response_id": id, "rating": rating}).to_string();
        let request = Request::post(format!("{}/v1/feedback", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .ok()?;
        let response = self.client.request(request).await.ok()?;
        let body = response.into_body().collect().await.ok()?.to_bytes();
        let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        Some((rating, answer["attributed"] == true))
    }

    pub async fn send(&self, mix: Mix) -> Record {
        let started = Instant::now();
        let path = if mix.chat {
            "/v1/chat/completions"
        } else {
            "/v1/completions"
        };
        let mut request = Request::post(format!("{}{path}", self.base)).header("content-type", "application/json");
        if let Some(user) = mix.user {
            request = request.header("x-user-id", format!("user-{user}"));
        }
        if mix.fault {
            request = request.header(fault::HEADER, fault::SERVER_ERROR);
        }
        let Ok(request) = request.body(Full::new(body(&mix))) else {
            return Record::failed("connection_error");
        };
        let Ok(response) = self.client.request(request).await else {
            return Record::failed("connection_error");
        };
        let status = response.status();
        let mut body = response.into_body();
        let mut ttft = None;
        let mut text = Vec::new();
        let mut hung_up = false;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(data) = frame.data_ref() {
                ttft.get_or_insert_with(|| started.elapsed());
                text.extend_from_slice(data);
                // Only a stream that is actually streaming can be hung up on; errors are read whole.
                if mix.hang_up && status == StatusCode::OK {
                    hung_up = true;
                    break;
                }
            }
        }
        let outcome = match (hung_up, status.as_u16()) {
            (true, _) => "hung_up",
            (_, 200..=399) => "ok",
            (_, 400..=499) => "client_error",
            _ => "server_error",
        };
        if outcome != "ok" {
            return Record::failed(outcome);
        }
        let latency = started.elapsed();
        let feedback = match mix.rates {
            true => self.rate(&text, mix.stream, mix.rating_draw).await,
            false => None,
        };
        Record {
            outcome,
            latency: Some(latency),
            ttft: ttft.filter(|_| mix.stream),
            output_tokens: output_tokens(&text, mix.stream),
            feedback,
            usage: usage(&text, mix.stream).map(|(input, output)| (mix.model.clone(), input, output)),
        }
    }
}

fn body(mix: &Mix) -> Bytes {
    let (model, prompt, max_tokens, stream) = (&mix.model, &mix.prompt, mix.max_tokens, mix.stream);
    let mut body = if mix.chat {
        json!({"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "stream": stream})
    } else {
        json!({"model": model, "prompt": prompt, "max_tokens": max_tokens, "stream": stream})
    };
    if mix.include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    match mix.invalid {
        None => Bytes::from(body.to_string()),
        Some(Invalid::UnknownModel) => Bytes::from(json!({"model": "no-such-model", "prompt": "x"}).to_string()),
        Some(Invalid::Malformed) => Bytes::from_static(b"{\"model\": \"toy\", \"prompt\": "),
        Some(Invalid::ZeroMaxTokens) => {
            Bytes::from(json!({"model": model, "prompt": "x", "max_tokens": 0}).to_string())
        }
    }
}

/// Tokens the answer carried: `usage.completion_tokens` of a JSON body, or one per streamed content chunk.
fn output_tokens(body: &[u8], stream: bool) -> u64 {
    let text = String::from_utf8_lossy(body);
    if !stream {
        let value: Value = serde_json::from_str(&text).unwrap_or_default();
        return value["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| {
            let choice = &v["choices"][0];
            let piece = choice["text"].as_str().or_else(|| choice["delta"]["content"].as_str());
            piece.is_some_and(|p| !p.is_empty())
        })
        .count() as u64
}

/// `usage.prompt_tokens` and `usage.completion_tokens`: of the JSON body, or of a stream's usage chunk (sent when
/// `stream_options.include_usage` asked for it).
fn usage(body: &[u8], stream: bool) -> Option<(u64, u64)> {
    let text = String::from_utf8_lossy(body);
    let value: Value = if stream {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .find(|v| v["usage"].is_object())?
    } else {
        serde_json::from_str(&text).ok()?
    };
    let usage = &value["usage"];
    Some((usage["prompt_tokens"].as_u64()?, usage["completion_tokens"].as_u64()?))
}

/// The answer's `id` and `model`: from the JSON body, or from the first chunk of a stream.
fn answer_id(body: &[u8], stream: bool) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let value: Value = if stream {
        let first = text.lines().filter_map(|l| l.strip_prefix("data: ")).next()?;
        serde_json::from_str(first).ok()?
    } else {
        serde_json::from_str(&text).ok()?
    };
    Some((value["id"].as_str()?.to_owned(), value["model"].as_str()?.to_owned()))
}
