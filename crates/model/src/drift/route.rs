//! `GET /v1/drift/baseline`: the current window as a baseline document, to capture a known-good period.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

use super::Drift;

impl Drift {
    /// A router serving `GET /v1/drift/baseline` (opt-in: merge it where operators can reach it, not clients).
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let drift = self.clone();
        Router::new().route(
            "/v1/drift/baseline",
            get(move || {
                let body = drift.window_as_baseline().to_json();
                std::future::ready(([(CONTENT_TYPE, "application/json")], body))
            }),
        )
    }
}
