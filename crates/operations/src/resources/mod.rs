//! Background sampling of GPUs (NVML) and the host, off every request's path.
//!
//! One pass reads every GPU field through a [`GpuSource`], the process metrics (`metrics-process`) and the
//! system's CPU, memory and filesystems (`sysinfo`), records them under the [contract](inferwatch_core::contract)'s names,
//! and publishes a [`Snapshot`] that health checks and the application read through [`Snapshots`].
//!
//! Start it with [`ResourceSamplerBuilder::spawn`]: it runs on a thread of its own until the
//! [`ResourceSamplerHandle`] it returns is dropped (keep it in `main`). Or run it pass by pass from your own
//! scheduler with [`ResourceSampler::sample`].
//!
//! ```
//! use std::time::Duration;
//! use inferwatch_operations::resources::ResourceSampler;
//!
//! let sampler = ResourceSampler::builder().interval(Duration::from_secs(10)).filesystem("/").spawn();
//! let snapshots = sampler.snapshots();
//! // ... later, anywhere:
//! let gpus_up = snapshots.latest().gpu.as_ref().is_some_and(|g| g.up);
//! # let _ = gpus_up;
//! ```

mod gpu;
#[cfg(feature = "host")]
mod host;
#[cfg(feature = "gpu")]
mod nvml;
mod snapshot;

pub use gpu::{GpuDevice, GpuError, GpuField, GpuReading, GpuSnapshot, GpuSource};
#[cfg(feature = "gpu")]
pub use nvml::NvmlSource;
pub use snapshot::{FilesystemReading, HostSnapshot, Snapshot, Snapshots};

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use gpu::GpuSampling;
use inferwatch_core::SharedRecorder;
use inferwatch_model::cost::Prices;

/// Default time between passes.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Default time between quiet attempts to load NVML after it was unavailable.
const DEFAULT_NVML_RETRY: Duration = Duration::from_secs(300);

/// Configures a [`ResourceSampler`]. GPU sampling (with the `gpu` feature) and host sampling (with `host`) are on by default.
pub struct ResourceSamplerBuilder {
    interval: Duration,
    gpu: Option<Box<dyn GpuSource>>,
    host: bool,
    filesystems: Vec<PathBuf>,
    recorder: SharedRecorder,
    nvml_retry: Duration,
    prices: Option<Prices>,
}

impl fmt::Debug for ResourceSamplerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceSamplerBuilder")
            .field("interval", &self.interval)
            .field("gpu", &self.gpu.is_some())
            .field("host", &self.host)
            .field("filesystems", &self.filesystems)
            .finish_non_exhaustive()
    }
}

impl Default for ResourceSamplerBuilder {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            gpu: default_gpu_source(),
            host: cfg!(feature = "host"),
            filesystems: Vec::new(),
            recorder: SharedRecorder::global(),
            nvml_retry: DEFAULT_NVML_RETRY,
            prices: None,
        }
    }
}

#[cfg(feature = "gpu")]
fn default_gpu_source() -> Option<Box<dyn GpuSource>> {
    Some(Box::new(NvmlSource::new()))
}

#[cfg(not(feature = "gpu"))]
fn default_gpu_source() -> Option<Box<dyn GpuSource>> {
    None
}

impl ResourceSamplerBuilder {
    /// Time between passes (default 10 s; at least 10 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Reads GPUs from `source` instead of NVML (a fake in tests, another vendor's library).
    pub fn gpu_source(mut self, source: impl GpuSource) -> Self {
        self.gpu = Some(Box::new(source));
        self
    }

    /// No GPU sampling.
    pub fn without_gpu(mut self) -> Self {
        self.gpu = None;
        self
    }

    /// No host sampling (process, CPU, memory, filesystems).
    pub fn without_host(mut self) -> Self {
        self.host = false;
        self
    }

    /// Samples the use of the filesystem holding `path` (`system_filesystem_utilization_ratio{mountpoint}`).
    pub fn filesystem(mut self, path: impl Into<PathBuf>) -> Self {
        self.filesystems.push(path.into());
        self
    }

    /// How long to wait before trying NVML again after it was unavailable (default 5 minutes; no log line).
    pub fn nvml_retry(mut self, retry: Duration) -> Self {
        self.nvml_retry = retry;
        self
    }

    /// Where readings are recorded (default: the global `metrics` recorder).
    pub fn recorder(mut self, recorder: SharedRecorder) -> Self {
        self.recorder = recorder;
        self
    }

    /// Charges the GPUs each pass sees at `prices`' GPU-hour price, for the time since the previous pass, into
    /// `inferwatch_gpu_cost_total` (rendered by an exporter given the same table). Without a GPU-hour price in
    /// the table this does nothing.
    pub fn prices(mut self, prices: &Prices) -> Self {
        self.prices = Some(prices.clone());
        self
    }

    /// The sampler, to drive pass by pass.
    pub fn build(self) -> ResourceSampler {
        // Without the `gpu` and `host` features (or with both sources turned off) a pass reads nothing: said once,
        // rather than a thread that runs and records nothing without a word.
        if self.gpu.is_none() && !(cfg!(feature = "host") && self.host) {
            tracing::warn!(
                target: inferwatch_core::contract::LOG_TARGET,
                "the resource sampler has nothing to read: build with the `gpu` or `host` feature, or give it a GPU source"
            );
        }
        ResourceSampler {
            prices: self.prices,
            last_pass: None,
            snapshots: Snapshots::new(self.interval),
            gpu: self
                .gpu
                .map(|source| GpuSampling::new(source, self.recorder.clone(), self.nvml_retry)),
            #[cfg(feature = "host")]
            host: self
                .host
                .then(|| host::HostSampling::new(self.recorder.clone(), &self.filesystems)),
        }
    }

    /// Starts the sampler on a thread of its own; it stops when the handle is dropped.
    pub fn spawn(self) -> ResourceSamplerHandle {
        self.build().spawn()
    }
}

/// Reads GPUs and host once per [`sample`](ResourceSampler::sample) call.
pub struct ResourceSampler {
    snapshots: Snapshots,
    prices: Option<Prices>,
    /// When the previous pass started: GPU time is charged from there.
    last_pass: Option<Instant>,
    gpu: Option<GpuSampling>,
    #[cfg(feature = "host")]
    host: Option<host::HostSampling>,
}

impl fmt::Debug for ResourceSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceSampler")
            .field("interval", &self.snapshots.interval())
            .finish_non_exhaustive()
    }
}

impl ResourceSampler {
    /// A builder with the defaults.
    pub fn builder() -> ResourceSamplerBuilder {
        ResourceSamplerBuilder::default()
    }

    /// Where this sampler publishes its snapshots.
    pub fn snapshots(&self) -> Snapshots {
        self.snapshots.clone()
    }

    /// One pass: reads everything, records it, publishes and returns the snapshot.
    pub fn sample(&mut self) -> Arc<Snapshot> {
        let started = Instant::now();
        let gpu = self.gpu.as_mut().map(|g| g.sample(started));
        if let (Some(prices), Some(gpu)) = (&self.prices, &gpu) {
            // The GPUs seen now are charged for the time since the previous pass: the first pass starts the clock.
            if let Some(last) = self.last_pass {
                let gpus = u32::try_from(gpu.devices.len()).unwrap_or(u32::MAX);
                prices.add_gpu_time(gpus, started.saturating_duration_since(last));
            }
        }
        self.last_pass = Some(started);
        #[cfg(feature = "host")]
        let host = self.host.as_mut().map(host::HostSampling::sample);
        #[cfg(not(feature = "host"))]
        let host = None;
        let snapshot = Arc::new(Snapshot {
            taken_at: Some(SystemTime::now()),
            pass_duration: started.elapsed(),
            gpu,
            host,
        });
        self.snapshots.store(snapshot.clone());
        snapshot
    }

    /// Runs a pass every interval on a thread of its own, the first one at once.
    pub fn spawn(mut self) -> ResourceSamplerHandle {
        let snapshots = self.snapshots();
        let interval = snapshots.interval();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("inferwatch-sampler".into())
            .spawn(move || {
                loop {
                    self.sample();
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            });
        let thread = thread
            .inspect_err(
                |error| tracing::error!(target: inferwatch_core::contract::LOG_TARGET, %error, "could not start the sampler thread"),
            )
            .ok();
        ResourceSamplerHandle {
            snapshots,
            stop: Some(stop),
            thread,
        }
    }
}

/// A running sampler. Dropping it stops the thread after its current pass; [`stop`](Self::stop) also waits for it.
pub struct ResourceSamplerHandle {
    snapshots: Snapshots,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for ResourceSamplerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceSamplerHandle")
            .field("running", &self.is_running())
            .finish()
    }
}

impl ResourceSamplerHandle {
    /// Where the sampler publishes its snapshots.
    pub fn snapshots(&self) -> Snapshots {
        self.snapshots.clone()
    }

    /// Whether the sampling thread is alive.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the sampler and waits for its thread to end.
    pub fn stop(mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ResourceSamplerHandle {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread; not joining keeps a drop on an async runtime from blocking.
        self.stop.take();
    }
}
