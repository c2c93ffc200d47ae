//! A Prometheus exporter set up for the contract: buckets on every histogram, counted as samples are recorded
//! (a count per bucket, rather than every sample kept until a scrape), counters, gauges and buckets in cells of
//! each recording thread's own (no locked instruction, no cache line the server's threads fight over), HELP text
//! on every metric, other histograms kept bounded when nobody scrapes, and `/metrics` served on the user's router
//! or its own listener.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusHandle};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;

use inferwatch_core::SharedRecorder;
use inferwatch_core::contract::{self, LOG_TARGET, MetricKind};
use inferwatch_model::cost::Prices;
use recorder::{PerThreadRecorder, Series};

mod cells;
mod histograms;
mod recorder;
mod registry;
mod scalars;

/// The content type of the text exposition format.
const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why the exporter could not be built or installed.
pub struct PrometheusError(Failure);

#[derive(Debug)]
enum Failure {
    Build(BuildError),
    GlobalRecorderInstalled,
}

impl fmt::Display for PrometheusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Failure::Build(error) => write!(f, "prometheus exporter: {error}"),
            Failure::GlobalRecorderInstalled => {
                f.write_str("prometheus exporter: a global metrics recorder is installed already")
            }
        }
    }
}

inferwatch_core::debug_is_display!(PrometheusError);

impl std::error::Error for PrometheusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Failure::Build(error) => Some(error),
            Failure::GlobalRecorderInstalled => None,
        }
    }
}

/// Configures the exporter. Every histogram of the contract gets its default buckets unless overridden.
///
/// ```
/// let (recorder, exporter) = inferwatch_prometheus::PrometheusBuilder::new()
///     .buckets("gen_ai_server_time_to_first_token_seconds", &[0.05, 0.1, 0.5, 1.0, 5.0])
///     .build()
///     .unwrap();
/// let layer = inferwatch_core::InferenceLayer::builder().recorder(recorder).build();
/// # let _ = (layer, exporter);
/// ```
#[derive(Clone, Debug)]
pub struct PrometheusBuilder {
    buckets: BTreeMap<String, Vec<f64>>,
    global_labels: Vec<(String, String)>,
    upkeep_interval: Duration,
    prices: Option<Prices>,
}

impl Default for PrometheusBuilder {
    fn default() -> Self {
        let buckets = contract::ALL
            .iter()
            .filter(|m| m.kind == MetricKind::Histogram)
            .map(|m| (m.name.to_owned(), m.buckets.to_vec()))
            .collect();
        Self {
            buckets,
            global_labels: Vec::new(),
            upkeep_interval: Duration::from_secs(5),
            prices: None,
        }
    }
}

impl PrometheusBuilder {
    /// The contract's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bucket upper bounds for the histogram `metric` (any name, not only the contract's). Empty bounds are
    /// rejected when building.
    pub fn buckets(mut self, metric: &str, bounds: &[f64]) -> Self {
        self.buckets.insert(metric.to_owned(), bounds.to_vec());
        self
    }

    /// A label added to every series (e.g. the deployment's region).
    pub fn global_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.global_labels.push((key.into(), value.into()));
        self
    }

    /// How often histograms without buckets (summaries) are drained when nobody scrapes. Default 5 s. Histograms
    /// with buckets are counted into them as they are recorded, and hold nothing to drain.
    pub fn upkeep_interval(mut self, interval: Duration) -> Self {
        self.upkeep_interval = interval;
        self
    }

    /// Renders the spend of `prices` (the same table, or a clone of it, that the layer prices requests with):
    /// `inferwatch_cost_total`, `inferwatch_experiment_cost_total` and `inferwatch_gpu_cost_total`, as exact
    /// decimals in the table's currency, named in their HELP text.
    pub fn prices(mut self, prices: &Prices) -> Self {
        self.prices = Some(prices.clone());
        self
    }

    fn exporter_builder(&self) -> Result<metrics_exporter_prometheus::PrometheusBuilder, PrometheusError> {
        let mut builder = metrics_exporter_prometheus::PrometheusBuilder::new();
        for (name, bounds) in &self.buckets {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.clone()), bounds)
                .map_err(|e| PrometheusError(Failure::Build(e)))?;
        }
        for (key, value) in &self.global_labels {
            builder = builder.add_global_label(key, value);
        }
        Ok(builder)
    }

    /// The recorder, described by the contract, and the exporter that renders it.
    fn recorder(&self) -> Result<(PerThreadRecorder, PrometheusExporter), PrometheusError> {
        let inner = self.exporter_builder()?.build_recorder();
        let series = Arc::new(Series::new(&self.buckets, &self.global_labels));
        let exporter = PrometheusExporter::start(inner.handle(), series.clone(), self);
        let recorder = PerThreadRecorder { inner, series };
        contract::describe(&recorder);
        Ok((recorder, exporter))
    }

    /// Builds a recorder without installing it, for the layer, the sampler and health to share (see
    /// [`SharedRecorder`]); the exporter renders what it records.
    pub fn build(self) -> Result<(SharedRecorder, PrometheusExporter), PrometheusError> {
        let (recorder, exporter) = self.recorder()?;
        Ok((SharedRecorder::new(recorder), exporter))
    }

    /// Builds the recorder and installs it as the global `metrics` recorder. Fails if one is installed already.
    pub fn install(self) -> Result<PrometheusExporter, PrometheusError> {
        let (recorder, exporter) = self.recorder()?;
        metrics::set_global_recorder(recorder).map_err(|_| PrometheusError(Failure::GlobalRecorderInstalled))?;
        SharedRecorder::global_installed();
        Ok(exporter)
    }
}

/// Renders the exposition; clones share one registry. Keep one alive: the upkeep thread stops with the last.
#[derive(Clone)]
pub struct PrometheusExporter {
    handle: PrometheusHandle,
    series: Arc<Series>,
    _upkeep: Arc<Sender<()>>,
    spend: Option<Arc<Spend>>,
}

/// What the exporter renders beside the recorder's series: the exact cost totals.
struct Spend {
    prices: Prices,
    global_labels: Vec<(String, String)>,
}

impl fmt::Debug for PrometheusExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusExporter").finish_non_exhaustive()
    }
}

impl PrometheusExporter {
    /// Installs the contract's exporter as the global recorder: the one call most services need.
    pub fn install() -> Result<Self, PrometheusError> {
        PrometheusBuilder::new().install()
    }

    fn start(handle: PrometheusHandle, series: Arc<Series>, config: &PrometheusBuilder) -> Self {
        let interval = config.upkeep_interval;
        let (stop, stopped) = mpsc::channel::<()>();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("inferwatch-upkeep".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    upkeep.run_upkeep();
                }
            });
        if spawned.is_err() {
            // Scrapes drain histograms too; without the thread only an unscraped exporter grows.
            tracing::warn!(target: LOG_TARGET, "could not start the Prometheus upkeep thread");
        }
        let spend = config.prices.clone().map(|prices| {
            Arc::new(Spend {
                prices,
                global_labels: config.global_labels.clone(),
            })
        });
        Self {
            handle,
            series,
            _upkeep: Arc::new(stop),
            spend,
        }
    }

    /// The exposition in the text format.
    pub fn render(&self) -> String {
        let mut text = self.handle.render();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        self.series.render(&mut text);
        if let Some(spend) = &self.spend {
            text.push_str(&spend.prices.render_totals(&spend.global_labels));
        }
        text
    }

    /// A router serving `GET /metrics`, to merge into the application's router.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let exporter = self.clone();
        Router::new().route("/metrics", get(move || std::future::ready(exporter.response())))
    }

    fn response(&self) -> impl IntoResponse + use<> {
        ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], self.render())
    }

    /// Serves `/metrics` on its own address (so it need not be public), in a task of the current tokio
    /// runtime. Returns once the address is bound.
    pub async fn spawn_listener(&self, addr: impl ToSocketAddrs) -> std::io::Result<MetricsListener> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let router: Router = self.router();
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(target: LOG_TARGET, %error, "metrics listener stopped");
            }
        });
        Ok(MetricsListener { local_addr, task })
    }
}

/// A running standalone `/metrics` listener; it stops when dropped.
#[derive(Debug)]
pub struct MetricsListener {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsListener {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MetricsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
