//! GPU, system and process metrics: recorded by the background sampler, never on a request's path.
//!
//! NVML's units are converted on the way in: percent to a 0–1 ratio, mW to W, mJ to J, MHz to Hz.

use super::def::{MetricDef, MetricKind};
use super::label;

const GPU_LABELS: &[&str] = &[label::HW_ID, label::HW_NAME, label::GPU];

const fn gpu_gauge(
    name: &'static str,
    otel_name: Option<&'static str>,
    unit: &'static str,
    description: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        otel_name,
        kind: MetricKind::Gauge,
        unit,
        labels: GPU_LABELS,
        buckets: &[],
        description,
    }
}

const fn plain(name: &'static str, kind: MetricKind, unit: &'static str, description: &'static str) -> MetricDef {
    MetricDef {
        name,
        otel_name: None,
        kind,
        unit,
        labels: &[],
        buckets: &[],
        description,
    }
}

/// GPU utilisation (NVML percent ÷ 100).
pub(crate) const HW_GPU_UTILIZATION: MetricDef = gpu_gauge(
    "hw_gpu_utilization_ratio",
    Some("hw.gpu.utilization"),
    "1",
    "Share of the last sample period in which a kernel ran on the GPU, 0 to 1.",
);

/// GPU memory in use.
pub(crate) const HW_GPU_MEMORY_USAGE: MetricDef = gpu_gauge(
    "hw_gpu_memory_usage_bytes",
    Some("hw.gpu.memory.usage"),
    "By",
    "GPU memory allocated, in bytes.",
);

/// GPU memory installed.
pub(crate) const HW_GPU_MEMORY_LIMIT: MetricDef = gpu_gauge(
    "hw_gpu_memory_limit_bytes",
    Some("hw.gpu.memory.limit"),
    "By",
    "GPU memory installed, in bytes.",
);

/// Board power draw (NVML mW ÷ 1000).
pub(crate) const HW_POWER: MetricDef = gpu_gauge(
    "hw_power_watts",
    Some("hw.power"),
    "W",
    "GPU board power draw, in watts.",
);

/// Energy since the driver loaded (NVML mJ ÷ 1000; Volta or newer).
pub(crate) const HW_ENERGY: MetricDef = MetricDef {
    kind: MetricKind::Counter,
    ..gpu_gauge(
        "hw_energy_joules_total",
        Some("hw.energy"),
        "J",
        "GPU energy consumed since the driver was loaded, in whole joules.",
    )
};

/// GPU die temperature.
pub(crate) const HW_TEMPERATURE: MetricDef = gpu_gauge(
    "hw_temperature_celsius",
    Some("hw.temperature"),
    "Cel",
    "GPU die temperature, in degrees Celsius.",
);

/// Streaming-multiprocessor clock (NVML MHz × 10^6).
pub(crate) const GPU_SM_CLOCK: MetricDef = gpu_gauge(
    "inferwatch_gpu_sm_clock_hertz",
    None,
    "Hz",
    "GPU streaming-multiprocessor clock, in hertz.",
);

/// 1 while a device answers, 0 once NVML reports it lost.
pub(crate) const GPU_DEVICE_UP: MetricDef = gpu_gauge(
    "inferwatch_gpu_device_up",
    None,
    "1",
    "1 while the device answers NVML, 0 once it is reported lost (its other gauges keep their last value).",
);

/// Whether NVML answers at all.
pub(crate) const GPU_SAMPLER_UP: MetricDef = plain(
    "inferwatch_gpu_sampler_up",
    MetricKind::Gauge,
    "1",
    "1 when NVML answered the last sampling pass, 0 when it is unavailable (no driver, no GPU).",
);

/// Readings that failed, by GPU and field.
pub(crate) const GPU_SAMPLE_ERRORS: MetricDef = MetricDef {
    labels: &[label::GPU, label::FIELD],
    ..plain(
        "inferwatch_gpu_sample_errors_total",
        MetricKind::Counter,
        "{error}",
        "GPU readings that failed, by device index and field (a field the device does not support is skipped, not counted).",
    )
};

/// Host CPU use across all cores.
pub(crate) const SYSTEM_CPU_UTILIZATION: MetricDef = MetricDef {
    otel_name: Some("system.cpu.utilization"),
    ..plain(
        "system_cpu_utilization_ratio",
        MetricKind::Gauge,
        "1",
        "Host CPU use across all cores since the previous sample, 0 to 1.",
    )
};

/// Host memory in use.
pub(crate) const SYSTEM_MEMORY_USAGE: MetricDef = MetricDef {
    otel_name: Some("system.memory.usage"),
    ..plain(
        "system_memory_usage_bytes",
        MetricKind::Gauge,
        "By",
        "Host memory in use, in bytes.",
    )
};

/// Host memory installed.
pub(crate) const SYSTEM_MEMORY_LIMIT: MetricDef = MetricDef {
    otel_name: Some("system.memory.limit"),
    ..plain(
        "system_memory_limit_bytes",
        MetricKind::Gauge,
        "By",
        "Host memory installed, in bytes.",
    )
};

/// Share of a configured filesystem in use.
pub(crate) const SYSTEM_FILESYSTEM_UTILIZATION: MetricDef = MetricDef {
    otel_name: Some("system.filesystem.utilization"),
    labels: &[label::MOUNTPOINT],
    ..plain(
        "system_filesystem_utilization_ratio",
        MetricKind::Gauge,
        "1",
        "Share of the filesystem holding each configured path that is in use, 0 to 1.",
    )
};

// The process metrics are recorded by the `metrics-process` crate under the Prometheus client's standard names;
// they are listed so that dashboards and rules can be checked against one contract.

/// CPU time of the process.
pub(crate) const PROCESS_CPU_SECONDS: MetricDef = plain(
    "process_cpu_seconds_total",
    MetricKind::Counter,
    "s",
    "Total user and system CPU time spent in seconds (metrics-process).",
);
/// Open file descriptors.
pub(crate) const PROCESS_OPEN_FDS: MetricDef = plain(
    "process_open_fds",
    MetricKind::Gauge,
    "{fd}",
    "Number of open file descriptors (metrics-process).",
);
/// File descriptor limit.
pub(crate) const PROCESS_MAX_FDS: MetricDef = plain(
    "process_max_fds",
    MetricKind::Gauge,
    "{fd}",
    "Maximum number of open file descriptors (metrics-process).",
);
/// Virtual memory size.
pub(crate) const PROCESS_VIRTUAL_MEMORY: MetricDef = plain(
    "process_virtual_memory_bytes",
    MetricKind::Gauge,
    "By",
    "Virtual memory size in bytes (metrics-process).",
);
/// Virtual memory limit.
pub(crate) const PROCESS_VIRTUAL_MEMORY_MAX: MetricDef = plain(
    "process_virtual_memory_max_bytes",
    MetricKind::Gauge,
    "By",
    "Maximum amount of virtual memory available in bytes (metrics-process).",
);
/// Resident set size.
pub(crate) const PROCESS_RESIDENT_MEMORY: MetricDef = plain(
    "process_resident_memory_bytes",
    MetricKind::Gauge,
    "By",
    "Resident memory size in bytes (metrics-process).",
);
/// Process start time.
pub(crate) const PROCESS_START_TIME: MetricDef = plain(
    "process_start_time_seconds",
    MetricKind::Gauge,
    "s",
    "Start time of the process since unix epoch in seconds (metrics-process).",
);
/// OS threads.
pub(crate) const PROCESS_THREADS: MetricDef = plain(
    "process_threads",
    MetricKind::Gauge,
    "{thread}",
    "Number of OS threads in the process (metrics-process).",
);
