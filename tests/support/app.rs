//! The axum application the HTTP tests drive: a few routes with known behaviour and known timings.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::stream;
use http_body::Frame;
use http_body_util::StreamBody;
use inferwatch::{FinishReason, RequestHandle, TokenUsage};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct StreamParams {
    pub tokens: u64,
    pub first_delay_ms: u64,
    pub delay_ms: u64,
    #[serde(default)]
    pub mark: bool,
}

/// Streams `tokens` chunks: the first after `first_delay_ms`, the rest `delay_ms` apart. Tokens are counted as
/// they are sent; with `mark`, the handler marks the first token itself, `first_delay_ms / 2` in.
async fn stream_tokens(handle: RequestHandle, Query(p): Query<StreamParams>) -> Response {
    handle.set_model("toy");
    handle.set_operation("text_completion");
    handle.add_input_tokens(7);
    let chunks = stream::unfold(0u64, move |i| {
        let handle = handle.clone();
        async move {
            if i == p.tokens {
                handle.set_finish_reason(FinishReason::Length);
                return None;
            }
            if i == 0 {
                if p.mark {
                    tokio::time::sleep(Duration::from_millis(p.first_delay_ms / 2)).await;
                    handle.mark_first_token();
                    tokio::time::sleep(Duration::from_millis(p.first_delay_ms / 2)).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(p.first_delay_ms)).await;
                }
            } else {
                tokio::time::sleep(Duration::from_millis(p.delay_ms)).await;
            }
            handle.add_output_tokens(1);
            Some((Ok::<_, Infallible>(Bytes::from(format!("data: token{i}\n\n"))), i + 1))
        }
    });
    ([("content-type", "text/event-stream")], Body::from_stream(chunks)).into_response()
}

/// Names the model from the `x-model` header, reports 3 input and 5 output tokens.
async fn model_from_header(handle: RequestHandle, headers: HeaderMap) -> &'static str {
    if let Some(model) = headers.get("x-model") {
        handle.set_model_bytes(model.as_bytes());
    }
    handle.add_input_tokens(3);
    handle.add_output_tokens(5);
    "generated"
}

/// Reports tokens through the response extensions only.
async fn usage_extension(handle: RequestHandle) -> Response {
    handle.set_model("ext-model");
    let mut response = "{\"usage\":{}}".into_response();
    response.extensions_mut().insert(TokenUsage::new(11, 13));
    response
}

async fn with_trailers() -> Response {
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", "abc123".parse().expect("header"));
    let frames = vec![
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"part one,"))),
        Ok(Frame::data(Bytes::from_static(b"part two"))),
        Ok(Frame::trailers(trailers)),
    ];
    Response::builder()
        .header("x-custom", "kept")
        .body(Body::new(StreamBody::new(stream::iter(frames))))
        .expect("response")
}

async fn panics() -> &'static str {
    panic!("handler panicked on purpose")
}

pub fn routes() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/json",
            post(|body: String| async move {
                (
                    [("content-type", "application/json")],
                    format!("{{\"echo\":{}}}", body.len()),
                )
            }),
        )
        .route(
            "/client-error",
            get(|| async { (StatusCode::BAD_REQUEST, "bad request") }),
        )
        .route(
            "/server-error",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "overloaded") }),
        )
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/stream", get(stream_tokens))
        .route("/model", get(model_from_header))
        .route("/usage", get(usage_extension))
        .route("/trailers", get(with_trailers))
        .route("/panic", get(panics))
}
