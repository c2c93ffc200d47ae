//! The host part of a pass: process metrics through `metrics-process`, system CPU, memory and filesystems
//! through `sysinfo`.

use std::path::{Path, PathBuf};

use metrics::Gauge;
use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, System};

use inferwatch_core::SharedRecorder;
use inferwatch_core::contract as c;

use super::snapshot::{FilesystemReading, HostSnapshot};

struct Filesystem {
    disk: usize,
    mount_point: String,
    gauge: Gauge,
}

pub(crate) struct HostSampling {
    recorder: SharedRecorder,
    process: metrics_process::Collector,
    system: System,
    disks: Disks,
    filesystems: Vec<Filesystem>,
    cpu: Gauge,
    memory_used: Gauge,
    memory_limit: Gauge,
}

impl HostSampling {
    pub(crate) fn new(recorder: SharedRecorder, paths: &[PathBuf]) -> Self {
        let process = metrics_process::Collector::default();
        recorder.in_scope(|| process.describe());
        let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing());
        let mut filesystems: Vec<Filesystem> = Vec::new();
        for path in paths {
            let Some(disk) = holding_disk(&disks, path) else {
                tracing::warn!(target: inferwatch_core::contract::LOG_TARGET, path = %path.display(), "no filesystem found for this path; not sampled");
                continue;
            };
            if filesystems.iter().any(|f| f.disk == disk) {
                continue;
            }
            let mount_point = disks.list()[disk].mount_point().to_string_lossy().into_owned();
            let gauge = recorder.gauge(c::Metric::SystemFilesystemUtilization.def(), &[&mount_point]);
            filesystems.push(Filesystem {
                disk,
                mount_point,
                gauge,
            });
        }
        Self {
            process,
            system: System::new(),
            disks,
            filesystems,
            cpu: recorder.gauge(c::Metric::SystemCpuUtilization.def(), &[]),
            memory_used: recorder.gauge(c::Metric::SystemMemoryUsage.def(), &[]),
            memory_limit: recorder.gauge(c::Metric::SystemMemoryLimit.def(), &[]),
            recorder,
        }
    }

    pub(crate) fn sample(&mut self) -> HostSnapshot {
        self.recorder.in_scope(|| self.process.collect());
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let cpu = f64::from(self.system.global_cpu_usage()) / 100.0;
        let (used, total) = (self.system.used_memory(), self.system.total_memory());
        self.cpu.set(cpu);
        self.memory_used.set(used as f64);
        self.memory_limit.set(total as f64);
        let disks = self.disks.list_mut();
        let filesystems = self
            .filesystems
            .iter()
            .filter_map(|fs| {
                let disk = disks.get_mut(fs.disk)?;
                disk.refresh_specifics(DiskRefreshKind::nothing().with_storage());
                let total = disk.total_space();
                let used_ratio = if total == 0 {
                    0.0
                } else {
                    1.0 - disk.available_space() as f64 / total as f64
                };
                fs.gauge.set(used_ratio);
                Some(FilesystemReading {
                    mount_point: fs.mount_point.clone(),
                    used_ratio,
                })
            })
            .collect();
        HostSnapshot {
            cpu_utilization_ratio: cpu,
            memory_used_bytes: used,
            memory_limit_bytes: total,
            filesystems,
        }
    }
}

/// The disk whose mount point is the longest prefix of `path`.
fn holding_disk(disks: &Disks, path: &Path) -> Option<usize> {
    let path = path.canonicalize().ok()?;
    disks
        .list()
        .iter()
        .enumerate()
        .filter(|(_, d)| path.starts_with(d.mount_point()))
        .max_by_key(|(_, d)| d.mount_point().components().count())
        .map(|(i, _)| i)
}
