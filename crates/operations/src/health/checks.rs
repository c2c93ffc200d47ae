//! Built-in checks: GPU memory headroom, host memory, CPU and disk, saturation of the inference layer, and an HTTP
//! dependency. Each returns a [`Check`] to adjust (timeout, informational) before adding it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::check::Check;
use super::report::{Observation, Status};
use crate::resources::{Snapshot, Snapshots};

/// Ratios above which a check warns and fails (defaults: warn above 70 %, fail above 90 %).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Warn above this share (0–1).
    pub warn: f64,
    /// Fail above this share (0–1).
    pub fail: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { warn: 0.7, fail: 0.9 }
    }
}

impl Thresholds {
    /// The verdict for `ratio`.
    pub fn status(&self, ratio: f64) -> Status {
        if ratio > self.fail {
            Status::Fail
        } else if ratio > self.warn {
            Status::Warn
        } else {
            Status::Pass
        }
    }

    /// An observation of `ratio`, reported in percent, with a message when it is not a pass.
    fn observe(&self, ratio: f64, what: &str) -> Observation {
        let percent = (ratio * 1000.0).round() / 10.0;
        let observation = Observation::new(self.status(ratio)).observed(percent, "percent");
        let limit = match observation.status {
            Status::Pass => return observation,
            Status::Warn => self.warn,
            Status::Fail => self.fail,
        };
        observation.output(format!("{what} at {percent} %, above {} %", limit * 100.0))
    }
}

/// The sampler's latest snapshot, or a warning when there is none or it has gone stale (the sampler stopped).
fn fresh(snapshots: &Snapshots) -> Result<Arc<Snapshot>, String> {
    let snapshot = snapshots.latest();
    let Some(taken_at) = snapshot.taken_at else {
        return Err("no sample yet".into());
    };
    let age = SystemTime::now().duration_since(taken_at).unwrap_or(Duration::ZERO);
    if age > snapshots.interval() * 3 + Duration::from_secs(1) {
        return Err(format!("last sample is {} s old", age.as_secs()));
    }
    Ok(snapshot)
}

/// `gpu:memory`: memory in use on each GPU, one observation per device (componentId = UUID).
///
/// Without GPU readings (no NVML, sampler stopped) it warns: readiness stays up, `/health` shows why.
pub fn gpu_memory(snapshots: Snapshots, thresholds: Thresholds) -> Check {
    Check::new("gpu:memory", move || {
        let snapshots = snapshots.clone();
        async move {
            let snapshot = match fresh(&snapshots) {
                Ok(snapshot) => snapshot,
                Err(stale) => return vec![Observation::warn(stale)],
            };
            let Some(gpu) = snapshot.gpu.as_ref().filter(|g| g.up) else {
                return vec![Observation::warn(
                    "no GPU readings: NVML unavailable or GPU sampling off",
                )];
            };
            gpu.devices
                .iter()
                .map(|device| {
                    let observation = match (device.lost, device.memory_used_ratio()) {
                        (true, _) => Observation::fail("GPU lost"),
                        (false, Some(ratio)) => thresholds.observe(ratio, "GPU memory"),
                        (false, None) => Observation::warn("memory not readable"),
                    };
                    observation.component(device.device.uuid.clone(), "component")
                })
                .collect()
        }
    })
}

/// `memory:utilization`: host memory in use.
pub fn host_memory(snapshots: Snapshots, thresholds: Thresholds) -> Check {
    host_check("memory:utilization", snapshots, move |snapshot| {
        let host = snapshot.host.as_ref()?;
        Some(vec![
            thresholds
                .observe(host.memory_used_ratio(), "host memory")
                .component("host", "system"),
        ])
    })
}

/// `cpu:utilization`: host CPU use across all cores.
pub fn host_cpu(snapshots: Snapshots, thresholds: Thresholds) -> Check {
    host_check("cpu:utilization", snapshots, move |snapshot| {
        let host = snapshot.host.as_ref()?;
        Some(vec![
            thresholds
                .observe(host.cpu_utilization_ratio, "host CPU")
                .component("host", "system"),
        ])
    })
}

/// `disk:utilization`: each configured filesystem (componentId = mount point).
pub fn disk(snapshots: Snapshots, thresholds: Thresholds) -> Check {
    host_check("disk:utilization", snapshots, move |snapshot| {
        let host = snapshot.host.as_ref()?;
        let observations = host
            .filesystems
            .iter()
            .map(|fs| {
                thresholds
                    .observe(fs.used_ratio, "filesystem")
                    .component(fs.mount_point.clone(), "system")
            })
            .collect();
        Some(observations)
    })
}

fn host_check(
    name: &'static str,
    snapshots: Snapshots,
    read: impl Fn(&Snapshot) -> Option<Vec<Observation>> + Send + Sync + 'static,
) -> Check {
    let read = Arc::new(read);
    Check::new(name, move || {
        let (snapshots, read) = (snapshots.clone(), read.clone());
        async move {
            match fresh(&snapshots) {
                Ok(snapshot) => read(&snapshot).unwrap_or_else(|| vec![Observation::warn("host sampling off")]),
                Err(stale) => vec![Observation::warn(stale)],
            }
        }
    })
}

/// `inference:saturation`: the work in progress that `current` reads (requests in flight, an engine's queue)
/// against `limit`, the concurrency the server is sized for.
///
/// ```
/// use inferwatch_core::InferenceLayer;
/// use inferwatch_operations::health::{Health, InFlightCounter, checks};
///
/// let in_flight = InFlightCounter::new();
/// let layer = InferenceLayer::builder().with(in_flight.clone()).build();
/// let saturation = checks::saturation(move || in_flight.get(), 64, Default::default());
/// let health = Health::builder().add_check(saturation).build();
/// # let _ = (layer, health);
/// ```
pub fn saturation(current: impl Fn() -> usize + Send + Sync + 'static, limit: usize, thresholds: Thresholds) -> Check {
    let limit = limit.max(1);
    Check::new("inference:saturation", move || {
        let current = current();
        async move {
            let ratio = current as f64 / limit as f64;
            let status = thresholds.status(ratio);
            let observation = Observation::new(status)
                .observed(current as f64, "requests")
                .component("inference", "component");
            match status {
                Status::Pass => observation,
                _ => observation.output(format!("{current} requests in flight of a limit of {limit}")),
            }
        }
    })
}

/// `{name}:responds`: `GET url` answers 2xx or 3xx, as a Kubernetes probe counts it (redirects are not
/// followed). Plain `http://` only. The registry's timeout bounds it.
///
/// ```
/// let check = inferwatch_operations::health::checks::http_dependency("tokenizer", "http://tokenizer:8080/livez");
/// assert_eq!(check.name(), "tokenizer:responds");
/// ```
pub fn http_dependency(name: &str, url: impl Into<String>) -> Check {
    let url: Arc<str> = url.into().into();
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    Check::new(format!("{name}:responds"), move || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let observation = match probe(&client, &url).await {
                Ok(status) if status.is_success() || status.is_redirection() => Observation::pass(),
                Ok(status) => Observation::fail(format!("answered HTTP {}", status.as_u16())),
                Err(error) => Observation::fail(format!("unreachable: {error}")),
            };
            observation.component(url.to_string(), "component")
        }
    })
}

async fn probe(client: &Client<HttpConnector, Empty<Bytes>>, url: &str) -> Result<http::StatusCode, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url:?}: only http:// URLs are supported"));
    }
    let response = client.get(uri).await.map_err(|e| e.to_string())?;
    Ok(response.status())
}

/// `kv-cache:utilization`: the highest KV-cache usage the engine last reported
/// ([`EngineMetrics::set_kv_cache_usage`](crate::engine::EngineMetrics::set_kv_cache_usage)). It warns above
/// `warn_above` (0–1; 0.95 is a good start) and never fails: a full cache slows new requests (they queue, or
/// preempt others) but the server still serves, so it should stay in rotation while the alert on sustained
/// saturation tells a human. Passes before the engine's first report.
///
/// ```
/// use inferwatch_operations::engine::EngineMetrics;
/// use inferwatch_operations::health::{Health, checks};
///
/// let engine = EngineMetrics::new();
/// let health = Health::builder().add_check(checks::kv_cache(engine.clone(), 0.95)).build();
/// # let _ = health;
/// ```
pub fn kv_cache(engine: crate::engine::EngineMetrics, warn_above: f64) -> Check {
    Check::new("kv-cache:utilization", move || {
        let usage = engine.kv_cache_usage();
        async move {
            let Some(ratio) = usage else {
                return Observation::new(Status::Pass).output("no report from the engine yet");
            };
            let percent = (ratio * 1000.0).round() / 10.0;
            let observation = Observation::new(if ratio > warn_above { Status::Warn } else { Status::Pass })
                .observed(percent, "percent")
                .component("kv-cache", "component");
            match observation.status {
                Status::Pass => observation,
                _ => observation.output(format!("KV cache at {percent} %, above {} %", warn_above * 100.0)),
            }
        }
    })
}
