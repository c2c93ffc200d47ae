//! The routers every measurement uses: one POST route, a handler that reports what an inference handler reports.

use axum::Router;
use axum::routing::post;
use inferwatch::{RequestHandle, operation};

pub const ANSWER: &str = "{\"choices\":[{\"text\":\"hello world\"}]}";
pub const PATH: &str = "/v1/completions";
pub const BODY: &str = "{\"prompt\":\"hi\"}";

pub async fn plain() -> &'static str {
    ANSWER
}

/// Model, operation, tokens and first token: every metric of the contract is recorded, every span attribute set.
pub async fn reporting(handle: RequestHandle) -> &'static str {
    handle.set_model("toy");
    handle.set_operation(operation::TEXT_COMPLETION);
    handle.add_input_tokens(12);
    handle.mark_first_token();
    handle.add_output_tokens(2);
    ANSWER
}

pub fn plain_router() -> Router {
    Router::new().route(PATH, post(plain))
}

pub fn reporting_router() -> Router {
    Router::new().route(PATH, post(reporting))
}
