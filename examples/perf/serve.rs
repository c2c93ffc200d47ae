//! One server configuration on one worker thread, for the load generator: the bare router, inferwatch's metrics
//! only, or the full stack as `telemetry::init()` sets it up from the `OTEL_*` variables (JSON logs on stdout,
//! spans exported where an endpoint is configured).

use std::net::SocketAddr;

use axum::Router;
use inferwatch::InferenceLayer;
use inferwatch::observe::MetricsObserver;
use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::telemetry::TelemetryGuard;

use crate::routes::{plain_router, reporting_router};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Stack {
    /// No layer at all.
    Bare,
    /// `MetricsObserver` alone, into the global Prometheus recorder.
    Metrics,
    /// axum-prometheus's layer, the peer: request count, latency and in-flight by method, path and status.
    AxumPrometheus,
    /// `telemetry::init()` and the default layer: metrics, spans, JSON summary lines.
    Full,
}

pub fn serve(stack: Stack, addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut _telemetry: Option<TelemetryGuard> = None;
    let router: Router = match stack {
        Stack::Bare => plain_router(),
        Stack::Metrics => {
            let exporter = PrometheusBuilder::new().install()?;
            let layer = InferenceLayer::builder().observer(MetricsObserver::new()).build();
            reporting_router().layer(layer).merge(exporter.router())
        }
        Stack::AxumPrometheus => {
            // Its upkeep task needs the runtime.
            let _runtime = runtime.enter();
            let (layer, handle) = axum_prometheus::PrometheusMetricLayer::pair();
            let metrics = Router::new().route("/metrics", axum::routing::get(move || async move { handle.render() }));
            plain_router().layer(layer).merge(metrics)
        }
        Stack::Full => {
            let telemetry = inferwatch::telemetry::TelemetryBuilder::new()
                .service_name("inferwatch-perf")
                .init()?;
            let layer = InferenceLayer::builder().tracing(telemetry.tracing_observer()).build();
            _telemetry = Some(telemetry);
            let exporter = PrometheusBuilder::new().install()?;
            reporting_router().layer(layer).merge(exporter.router())
        }
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        axum::serve(listener, router).with_graceful_shutdown(shutdown).await
    })?;
    Ok(())
}
