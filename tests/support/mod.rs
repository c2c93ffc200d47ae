//! Shared by the integration tests: a real server on loopback, a real client, and a parsed exposition.
#![allow(dead_code)]

pub mod app;
pub mod exposition;
pub mod fake_gpu;
pub mod grpc;
pub mod otlp;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use inferwatch::prometheus::{PrometheusBuilder, PrometheusExporter};
use inferwatch::{InferenceLayer, InferenceLayerBuilder};

pub use exposition::Scrape;

/// A layer recording into its own (not global) Prometheus registry, so tests don't share counts.
pub fn isolated_layer(
    configure: impl FnOnce(InferenceLayerBuilder) -> InferenceLayerBuilder,
) -> (InferenceLayer, PrometheusExporter) {
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let layer = configure(InferenceLayer::builder().recorder(recorder)).build();
    (layer, exporter)
}

/// Serves `router` on an ephemeral loopback port.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    addr
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn h2_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).http2_only(true).build_http()
}

/// A whole response: status, headers, body bytes and trailers.
#[derive(Debug)]
pub struct Collected {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

pub async fn send(
    client: &HttpClient,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Collected {
    let mut request = Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Full::new(Bytes::from(body.to_owned()))).expect("request");
    let response = client.request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    Collected {
        status: parts.status,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

pub async fn get(client: &HttpClient, addr: SocketAddr, path: &str) -> Collected {
    send(client, addr, "GET", path, &[], "").await
}

pub fn scrape(exporter: &PrometheusExporter) -> Scrape {
    Scrape::parse(&exporter.render())
}

/// Polls `check` until it holds or `timeout` passes; returns whether it held.
pub async fn eventually<F: Fn() -> bool>(timeout: Duration, check: F) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

/// Runs `f` `n` times with at most `concurrency` at once.
pub async fn run_concurrently<F, Fut>(n: usize, concurrency: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    use futures_util::StreamExt;
    futures_util::stream::iter(0..n)
        .for_each_concurrent(concurrency, f)
        .await;
}

pub fn empty_body() -> Empty<Bytes> {
    Empty::new()
}
