//! `/livez`, `/readyz` and `/health` as an axum router.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE as CONTENT_TYPE_HEADER};

use super::registry::Health;
use super::report::{CONTENT_TYPE, Report};

impl Health {
    /// `GET /livez`, `GET /readyz` and `GET /health`, to merge into the application's router (outside the
    /// inference layer, so probes don't count as traffic).
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let (ready, full) = (self.clone(), self.clone());
        let live = self.clone();
        Router::new()
            .route("/livez", get(move || std::future::ready(respond(&live.live()))))
            .route(
                "/readyz",
                get(move || {
                    let health = ready.clone();
                    async move { respond(&health.ready().await) }
                }),
            )
            .route(
                "/health",
                get(move || {
                    let health = full.clone();
                    async move { respond(&health.report().await) }
                }),
            )
    }
}

fn respond(report: &Report) -> Response {
    (
        report.http_status(),
        [(CONTENT_TYPE_HEADER, CONTENT_TYPE), (CACHE_CONTROL, "no-store")],
        report.to_json(),
    )
        .into_response()
}
