//! The quick start: an axum server whose streamed completions report their model and tokens, with Prometheus
//! metrics on `/metrics`, a span per request and stage, and JSON log lines on stdout.
//!
//! `cargo run --example minimal`, then `curl -N localhost:3000/v1/completions -d 'hello there'` and
//! `curl localhost:3000/metrics`. Ctrl-C stops it.

use std::time::Duration;

use axum::{Router, body::Body, routing::post};
use futures_util::StreamExt as _;
use inferwatch::{InferenceLayer, RequestHandle, operation, prometheus::PrometheusBuilder};

async fn complete(handle: RequestHandle, prompt: String) -> Body {
    handle.set_model("toy-1b");
    {
        let _tokenize = handle.stage("tokenize").entered();
        handle.add_input_tokens(prompt.split_whitespace().count() as u64);
    }
    // Ends when the stream is dropped, after its last token: the layer too measures to the end of the body.
    let generate = handle.stage("generate");
    let tokens = tokio_stream::iter(["Hello", " from", " inferwatch", "\n"]).then(move |token| {
        let _generating = &generate;
        let handle = handle.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            handle.add_output_tokens(1);
            Ok::<_, std::convert::Infallible>(token)
        }
    });
    Body::from_stream(tokens)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = PrometheusBuilder::new().install()?;
    // JSON logs; spans go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set (feature `otlp`).
    let telemetry = inferwatch::telemetry::init()?;
    let layer = InferenceLayer::builder()
        .allowed_models(["toy-1b"])
        .default_operation(operation::TEXT_COMPLETION)
        .tracing(telemetry.tracing_observer())
        .build();
    let app = Router::new()
        .route("/v1/completions", post(complete))
        .layer(layer)
        .merge(exporter.router());
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    // Graceful: on Ctrl-C the requests in flight finish, then dropping `telemetry` exports the spans still
    // queued. A server stopped without it loses the spans of its last requests.
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    drop(telemetry);
    Ok(())
}
