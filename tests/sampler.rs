//! The background sampler: fake GPUs give exact values in the exposition, no NVML gives a sampler that is down
//! with one log line, the host part records the standard process and system metrics, and a spawned sampler runs
//! until its handle stops it.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inferwatch::prometheus::PrometheusBuilder;
use inferwatch::resources::{GpuError, GpuField, GpuSource, NvmlSource, ResourceSampler};
use support::fake_gpu::{FakeGpus, device};
use support::{Scrape, scrape};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn gpu_labels(gpu: &'static str) -> [(&'static str, &'static str); 3] {
    let uuid = if gpu == "0" { "GPU-00000000" } else { "GPU-00000001" };
    [("hw_id", uuid), ("hw_name", "NVIDIA H100 80GB HBM3"), ("gpu", gpu)]
}

#[test]
fn two_fake_gpus_give_exact_values_and_a_lost_gpu_is_reported() {
    let gpus = FakeGpus::new(vec![device(0), device(1)]);
    gpus.set(1, GpuField::Energy, Err(GpuError::NotSupported));
    gpus.set(1, GpuField::Power, Err(GpuError::Failed("Unknown Error".into())));
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let mut sampler = ResourceSampler::builder()
        .without_host()
        .gpu_source(gpus.clone())
        .recorder(recorder)
        .build();

    let snapshot = sampler.sample();
    let s = scrape(&exporter);
    assert_eq!(s.get("inferwatch_gpu_sampler_up", &[]), 1.0);
    for gpu in ["0", "1"] {
        let l = gpu_labels(gpu);
        assert_eq!(s.get("hw_gpu_utilization_ratio", &l), 0.87);
        assert_eq!(s.get("hw_gpu_memory_usage_bytes", &l), 40.0 * GIB);
        assert_eq!(s.get("hw_gpu_memory_limit_bytes", &l), 80.0 * GIB);
        assert_eq!(s.get("hw_temperature_celsius", &l), 65.0);
        assert_eq!(s.get("inferwatch_gpu_sm_clock_hertz", &l), 1.98e9);
        assert_eq!(s.get("inferwatch_gpu_device_up", &l), 1.0);
    }
    assert_eq!(s.get("hw_power_watts", &gpu_labels("0")), 350.25);
    assert_eq!(s.get("hw_energy_joules_total", &gpu_labels("0")), 1_234_567.0);
    // Unsupported: skipped, no series, no error. Failed: no series, one error.
    assert_eq!(s.try_get("hw_energy_joules_total", &gpu_labels("1")), None);
    assert_eq!(s.try_get("hw_power_watts", &gpu_labels("1")), None);
    assert_eq!(
        s.get(
            "inferwatch_gpu_sample_errors_total",
            &[("gpu", "1"), ("field", "power")]
        ),
        1.0
    );
    assert_eq!(s.series("inferwatch_gpu_sample_errors_total"), 1);
    assert_eq!(
        s.types.get("hw_energy_joules_total").map(String::as_str),
        Some("counter")
    );

    let gpu = snapshot.gpu.as_ref().expect("gpu part");
    assert!(gpu.up);
    assert_eq!(gpu.devices.len(), 2);
    assert_eq!(gpu.devices[0].memory_used_ratio(), Some(0.5));
    assert_eq!(gpu.devices[1].energy_joules, None);
    assert_eq!(gpu.devices[1].power_watts, None);

    // GPU 1 falls off the bus; GPU 0 keeps being read.
    gpus.lose(1);
    gpus.set(0, GpuField::Utilization, Ok(50.0));
    let snapshot = sampler.sample();
    let reads_after_loss = gpus.reads();
    sampler.sample();
    let s = scrape(&exporter);
    assert_eq!(s.get("hw_gpu_utilization_ratio", &gpu_labels("0")), 0.5);
    assert_eq!(s.get("inferwatch_gpu_device_up", &gpu_labels("0")), 1.0);
    assert_eq!(s.get("inferwatch_gpu_device_up", &gpu_labels("1")), 0.0);
    assert_eq!(
        s.get(
            "inferwatch_gpu_sample_errors_total",
            &[("gpu", "1"), ("field", "device")]
        ),
        1.0
    );
    assert_eq!(
        s.get(
            "inferwatch_gpu_sample_errors_total",
            &[("gpu", "1"), ("field", "power")]
        ),
        1.0
    );
    assert_eq!(s.get("inferwatch_gpu_sampler_up", &[]), 1.0);
    assert!(snapshot.gpu.as_ref().unwrap().devices[1].lost);
    // The third pass read only GPU 0's seven fields: the lost GPU is left alone.
    assert_eq!(gpus.reads() - reads_after_loss, GpuField::ALL.len());
}

/// Collects what a `tracing` subscriber writes, to count log lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn without_nvml_the_sampler_is_down_and_says_so_once() {
    let gpus = FakeGpus::unavailable();
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let mut sampler = ResourceSampler::builder()
        .without_host()
        .gpu_source(gpus.clone())
        .recorder(recorder)
        .build();
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..5 {
            let snapshot = sampler.sample();
            assert_eq!(snapshot.gpu.as_ref().map(|g| g.up), Some(false));
        }
    });
    assert_eq!(scrape(&exporter).get("inferwatch_gpu_sampler_up", &[]), 0.0);
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("GPU sampling unavailable") && text.contains("libnvidia-ml.so"),
        "{text}"
    );
    // Retried quietly after the retry interval (5 minutes by default), not on every pass.
    assert_eq!(gpus.opens(), 1);
}

#[test]
fn nvml_retry_happens_after_its_interval() {
    let gpus = FakeGpus::unavailable();
    let mut sampler = ResourceSampler::builder()
        .without_host()
        .gpu_source(gpus.clone())
        .nvml_retry(Duration::from_millis(30))
        .build();
    sampler.sample();
    sampler.sample();
    assert_eq!(gpus.opens(), 1);
    std::thread::sleep(Duration::from_millis(40));
    sampler.sample();
    assert_eq!(gpus.opens(), 2);
}

/// The real NVML: on a machine with a GPU it reads every device; elsewhere it is skipped with the reason.
/// Run it on a GPU machine with `cargo test --test sampler nvml -- --nocapture`.
#[test]
fn nvml_smoke() {
    let mut probe = NvmlSource::new();
    if let Err(error) = probe.open() {
        eprintln!("nvml_smoke skipped: {error}");
        assert!(matches!(error, GpuError::Unavailable(_)), "{error:?}");
        return;
    }
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let mut sampler = ResourceSampler::builder().without_host().recorder(recorder).build();
    let snapshot = sampler.sample();
    let gpu = snapshot.gpu.as_ref().expect("gpu part");
    assert!(gpu.up);
    assert!(!gpu.devices.is_empty());
    let s = scrape(&exporter);
    assert_eq!(s.get("inferwatch_gpu_sampler_up", &[]), 1.0);
    for reading in &gpu.devices {
        eprintln!("{reading:?}");
        assert!(reading.device.uuid.starts_with("GPU-"), "{:?}", reading.device);
        let limit = reading.memory_limit_bytes.expect("memory limit");
        assert!(limit > 1e9, "{limit}");
        let index = reading.device.index.to_string();
        let labels = [("gpu", index.as_str())];
        assert_eq!(s.get("hw_gpu_memory_limit_bytes", &labels), limit);
        let utilization = s.get("hw_gpu_utilization_ratio", &labels);
        assert!((0.0..=1.0).contains(&utilization), "{utilization}");
        if let Some(clock) = reading.sm_clock_hertz {
            assert!(clock >= 1e8, "SM clock in hertz: {clock}");
        }
        if let Some(watts) = reading.power_watts {
            assert!((1.0..2000.0).contains(&watts), "power in watts: {watts}");
        }
    }
}

#[test]
fn host_sampling_records_process_and_system_metrics() {
    let (recorder, exporter) = PrometheusBuilder::new().build().expect("exporter");
    let mut sampler = ResourceSampler::builder()
        .without_gpu()
        .filesystem("/")
        .recorder(recorder)
        .build();
    sampler.sample();
    std::thread::sleep(Duration::from_millis(250));
    let snapshot = sampler.sample();
    let host = snapshot.host.as_ref().expect("host part");
    let s: Scrape = scrape(&exporter);

    assert!(s.get("process_resident_memory_bytes", &[]) > 1e6);
    assert!(s.get("process_threads", &[]) >= 1.0);
    assert!(s.get("process_open_fds", &[]) >= 3.0);
    assert_eq!(
        s.types.get("process_cpu_seconds_total").map(String::as_str),
        Some("counter")
    );
    assert_eq!(s.get("system_memory_limit_bytes", &[]), host.memory_limit_bytes as f64);
    assert_eq!(s.get("system_memory_usage_bytes", &[]), host.memory_used_bytes as f64);
    assert!(host.memory_used_bytes > 0 && host.memory_used_bytes <= host.memory_limit_bytes);
    let cpu = s.get("system_cpu_utilization_ratio", &[]);
    assert!((0.0..=1.0).contains(&cpu), "{cpu}");
    assert_eq!(host.filesystems.len(), 1, "{host:?}");
    let fs = &host.filesystems[0];
    assert_eq!(
        s.get(
            "system_filesystem_utilization_ratio",
            &[("mountpoint", &fs.mount_point)]
        ),
        fs.used_ratio
    );
    assert!(fs.used_ratio > 0.0 && fs.used_ratio <= 1.0, "{fs:?}");
    // Every name recorded is in the contract.
    for sample in &s.samples {
        let base = sample.name.trim_end_matches("_total");
        assert!(
            inferwatch::contract::find(&sample.name).is_some() || inferwatch::contract::find(base).is_some(),
            "{} is not in the contract",
            sample.name
        );
    }
}

#[test]
fn a_spawned_sampler_publishes_snapshots_and_stops() {
    let gpus = FakeGpus::new(vec![device(0), device(1)]);
    let handle = ResourceSampler::builder()
        .without_host()
        .gpu_source(gpus.clone())
        .interval(Duration::from_millis(10))
        .spawn();
    let snapshots = handle.snapshots();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while snapshots.latest().taken_at.is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let latest = snapshots.latest();
    assert_eq!(latest.gpu.as_ref().map(|g| g.devices.len()), Some(2));
    assert!(handle.is_running());
    handle.stop();
    let reads = gpus.reads();
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(gpus.reads(), reads);
}
