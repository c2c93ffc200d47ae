//! What both benchmarks share: one request, one answer, a call that reads the whole body.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const ANSWER: &str = "{\"choices\":[{\"text\":\"hello world\"}]}";

pub async fn plain() -> &'static str {
    ANSWER
}

pub fn request() -> Request<Body> {
    Request::post("/v1/completions")
        .header("content-type", "application/json")
        .body(Body::from("{\"prompt\":\"hi\"}"))
        .expect("request")
}

/// One request through `router`, in process, body read to the end.
pub async fn call(router: &Router) {
    let response = router.clone().oneshot(request()).await.expect("infallible");
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(body.len(), ANSWER.len());
}

/// The value of the sample `series` (name and labels exactly as rendered) in an exposition, or `None`: a HELP or
/// TYPE line naming the metric is not a sample.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().expect("a sample's value"))
        .next()
}
