//! `POST /v1/feedback`: the JSON route in front of [`Feedback`].

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::{Feedback, FeedbackError, Rating, Unattributed};

/// A feedback body is a few hundred bytes; anything much larger is not one.
const MAX_BODY_BYTES: usize = 8 * 1024;

/// `{"response_id": "...", "rating": "positive" | "negative" | "neutral"}` or `{"response_id": "...", "score":
/// -1..1}`, with an optional `comment` that is accepted and dropped (never logged or exported).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    response_id: String,
    #[serde(default)]
    rating: Option<String>,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    #[allow(dead_code)] // accepted, never kept
    comment: Option<serde::de::IgnoredAny>,
}

impl Feedback {
    /// `POST /v1/feedback` (see [`router_at`](Self::router_at)).
    pub fn router<S>(&self) -> axum::Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        self.router_at("/v1/feedback")
    }

    /// A route at `path` taking `{"response_id": "...", "rating": "positive"|"negative"|"neutral"}` or
    /// `{"response_id": "...", "score": -1..1}` as JSON, with an optional `comment` that is dropped, never logged.
    /// Answers 202 `{"attributed": true}`, or `{"attributed": false, "reason": "invalid"|"expired"}` when the id
    /// could not be attributed (the feedback is then counted under `_OTHER`); 409 when feedback on the id was
    /// counted already (the first rating stands); 400 for a malformed body, 413 for a body over 8 KiB, 415 for a
    /// body that is not JSON, with an OpenAI-shaped error.
    pub fn router_at<S>(&self, path: &str) -> axum::Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        axum::Router::new()
            .route(path, post(receive))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }
}

async fn receive(State(feedback): State<Feedback>, body: Result<Json<Body>, JsonRejection>) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        // 422 (wrong fields) is a malformed body here: 400, as the other shape errors.
        Err(rejection) => {
            let status = match rejection.status() {
                StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
                status => status,
            };
            return error(status, None, &rejection.body_text());
        }
    };
    let result = match (body.rating.as_deref(), body.score) {
        (Some(rating), None) => match parse_rating(rating) {
            Some(rating) => feedback.record(&body.response_id, rating),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    Some("rating"),
                    "rating must be positive, negative or neutral",
                );
            }
        },
        (None, Some(score)) => feedback.record_signed_score(&body.response_id, score),
        _ => return error(StatusCode::BAD_REQUEST, None, "give exactly one of rating and score"),
    };
    match result {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({"attributed": true}))).into_response(),
        Err(FeedbackError::Unattributed(reason)) => {
            let body = json!({"attributed": false, "reason": reason_str(reason)});
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Err(FeedbackError::Repeated) => error(
            StatusCode::CONFLICT,
            Some("response_id"),
            "feedback on this response id was counted already",
        ),
        Err(FeedbackError::ScoreOutOfRange(_)) => error(
            StatusCode::BAD_REQUEST,
            Some("score"),
            "score must be a number in [-1, 1]",
        ),
    }
}

fn parse_rating(rating: &str) -> Option<Rating> {
    Rating::ALL.into_iter().find(|r| r.as_str() == rating)
}

fn reason_str(reason: Unattributed) -> &'static str {
    reason.as_str()
}

fn error(status: StatusCode, param: Option<&str>, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}});
    (status, Json(body)).into_response()
}
