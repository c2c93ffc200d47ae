//! What one sampling pass saw, readable in process by health checks and the application.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::gpu::GpuSnapshot;

/// Everything one pass read. Before the first pass every field is empty.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// When the pass ended.
    pub taken_at: Option<SystemTime>,
    /// How long the pass took.
    pub pass_duration: Duration,
    /// GPUs, when GPU sampling is on.
    pub gpu: Option<GpuSnapshot>,
    /// Host, when host sampling is on.
    pub host: Option<HostSnapshot>,
}

/// The latest [`Snapshot`], shared between the sampler and its readers. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Snapshots {
    latest: Arc<RwLock<Arc<Snapshot>>>,
    interval: Duration,
}

impl Snapshots {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            latest: Arc::default(),
            interval,
        }
    }

    /// The latest snapshot (a reference count, no copy).
    pub fn latest(&self) -> Arc<Snapshot> {
        self.latest.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The sampling interval: a snapshot older than a few of these means the sampler has stopped.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    pub(crate) fn store(&self, snapshot: Arc<Snapshot>) {
        *self.latest.write().unwrap_or_else(PoisonError::into_inner) = snapshot;
    }
}

/// Host readings after one pass.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct HostSnapshot {
    /// CPU use across all cores since the previous pass, 0 to 1 (0 on the first pass, which sets the baseline).
    pub cpu_utilization_ratio: f64,
    /// Memory in use, bytes.
    pub memory_used_bytes: u64,
    /// Memory installed, bytes.
    pub memory_limit_bytes: u64,
    /// One entry per filesystem holding a configured path.
    pub filesystems: Vec<FilesystemReading>,
}

impl HostSnapshot {
    /// Memory in use over memory installed (0 when the total is unknown).
    pub fn memory_used_ratio(&self) -> f64 {
        if self.memory_limit_bytes == 0 {
            return 0.0;
        }
        self.memory_used_bytes as f64 / self.memory_limit_bytes as f64
    }
}

/// Use of the filesystem holding a configured path.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct FilesystemReading {
    /// Where the filesystem is mounted (the `mountpoint` label).
    pub mount_point: String,
    /// Share in use, 0 to 1.
    pub used_ratio: f64,
}
