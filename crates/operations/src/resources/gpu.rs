//! GPU readings: the [`GpuSource`] the sampler reads, and the part of a pass that records them.

use std::fmt;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge};

use inferwatch_core::SharedRecorder;
use inferwatch_core::contract as c;

/// Where GPU readings come from: NVML in production (`NvmlSource`, feature `gpu`), a fake in tests.
///
/// Values are returned in NVML's own units (percent, bytes, mW, mJ, °C, MHz); the sampler converts them.
pub trait GpuSource: Send + 'static {
    /// Connects (loading the driver library where there is one) and lists the devices. After an error the
    /// sampler calls it again, quietly, once per retry interval.
    fn open(&mut self) -> Result<Vec<GpuDevice>, GpuError>;

    /// Reads one field of the device with NVML index `gpu`.
    fn read(&mut self, gpu: u32, field: GpuField) -> Result<f64, GpuError>;
}

/// One GPU as the source lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuDevice {
    /// NVML index.
    pub index: u32,
    /// UUID (`GPU-…`), the `hw_id` label.
    pub uuid: String,
    /// Model name, the `hw_name` label.
    pub name: String,
}

impl GpuDevice {
    /// A device with NVML index `index`.
    pub fn new(index: u32, uuid: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            index,
            uuid: uuid.into(),
            name: name.into(),
        }
    }
}

/// One reading of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuField {
    /// Utilisation, percent.
    Utilization,
    /// Memory allocated, bytes.
    MemoryUsed,
    /// Memory installed, bytes.
    MemoryTotal,
    /// Power draw, mW.
    Power,
    /// Energy since the driver loaded, mJ.
    Energy,
    /// Die temperature, °C.
    Temperature,
    /// SM clock, MHz.
    SmClock,
}

impl GpuField {
    /// Every field, in the order a pass reads them.
    pub const ALL: [GpuField; 7] = [
        GpuField::Utilization,
        GpuField::MemoryUsed,
        GpuField::MemoryTotal,
        GpuField::Power,
        GpuField::Energy,
        GpuField::Temperature,
        GpuField::SmClock,
    ];

    /// The `field` label value of `inferwatch_gpu_sample_errors_total`.
    pub const fn name(self) -> &'static str {
        match self {
            GpuField::Utilization => "utilization",
            GpuField::MemoryUsed => "memory_used",
            GpuField::MemoryTotal => "memory_total",
            GpuField::Power => "power",
            GpuField::Energy => "energy",
            GpuField::Temperature => "temperature",
            GpuField::SmClock => "sm_clock",
        }
    }

    /// NVML's unit to the contract's base unit.
    fn to_base_unit(self, raw: f64) -> f64 {
        match self {
            GpuField::Utilization => raw / 100.0,
            GpuField::Power | GpuField::Energy => raw / 1000.0,
            GpuField::SmClock => raw * 1_000_000.0,
            GpuField::MemoryUsed | GpuField::MemoryTotal | GpuField::Temperature => raw,
        }
    }

    fn def(self) -> &'static c::MetricDef {
        match self {
            GpuField::Utilization => c::Metric::HwGpuUtilization.def(),
            GpuField::MemoryUsed => c::Metric::HwGpuMemoryUsage.def(),
            GpuField::MemoryTotal => c::Metric::HwGpuMemoryLimit.def(),
            GpuField::Power => c::Metric::HwPower.def(),
            GpuField::Energy => c::Metric::HwEnergy.def(),
            GpuField::Temperature => c::Metric::HwTemperature.def(),
            GpuField::SmClock => c::Metric::GpuSmClock.def(),
        }
    }
}

/// Why a reading failed.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GpuError {
    /// No driver library, no GPU, or NVML refused to start.
    Unavailable(String),
    /// The device does not offer this field: skipped, not counted as an error.
    NotSupported,
    /// The device fell off the bus: no further readings are attempted.
    Lost,
    /// Any other failure of one reading: counted, retried next pass.
    Failed(String),
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::Unavailable(why) => write!(f, "NVML unavailable: {why}"),
            GpuError::NotSupported => f.write_str("not supported by this device"),
            GpuError::Lost => f.write_str("GPU lost"),
            GpuError::Failed(why) => write!(f, "reading failed: {why}"),
        }
    }
}

inferwatch_core::debug_is_display!(GpuError);

impl std::error::Error for GpuError {}

/// The latest readings of one GPU, in base units; `None` where the field is unsupported or failed.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct GpuReading {
    /// Which device.
    pub device: GpuDevice,
    /// NVML reported the device lost; the readings below are its last ones.
    pub lost: bool,
    /// 0 to 1.
    pub utilization_ratio: Option<f64>,
    /// Bytes allocated.
    pub memory_used_bytes: Option<f64>,
    /// Bytes installed.
    pub memory_limit_bytes: Option<f64>,
    /// Watts.
    pub power_watts: Option<f64>,
    /// Joules since the driver loaded.
    pub energy_joules: Option<f64>,
    /// Degrees Celsius.
    pub temperature_celsius: Option<f64>,
    /// Hertz.
    pub sm_clock_hertz: Option<f64>,
}

impl GpuReading {
    /// Memory allocated over memory installed, where both are known.
    pub fn memory_used_ratio(&self) -> Option<f64> {
        match (self.memory_used_bytes, self.memory_limit_bytes) {
            (Some(used), Some(limit)) if limit > 0.0 => Some(used / limit),
            _ => None,
        }
    }

    fn slot(&mut self, field: GpuField) -> &mut Option<f64> {
        match field {
            GpuField::Utilization => &mut self.utilization_ratio,
            GpuField::MemoryUsed => &mut self.memory_used_bytes,
            GpuField::MemoryTotal => &mut self.memory_limit_bytes,
            GpuField::Power => &mut self.power_watts,
            GpuField::Energy => &mut self.energy_joules,
            GpuField::Temperature => &mut self.temperature_celsius,
            GpuField::SmClock => &mut self.sm_clock_hertz,
        }
    }
}

/// Every GPU after one pass.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct GpuSnapshot {
    /// NVML answered this pass.
    pub up: bool,
    /// One entry per device, in index order.
    pub devices: Vec<GpuReading>,
}

/// The value of one field: energy is a counter, the rest are gauges.
enum Instrument {
    Gauge(Gauge),
    Counter(Counter),
}

struct DeviceState {
    reading: GpuReading,
    labels: [String; 3],
    /// Registered at the first successful reading, so an unsupported field never shows up as a 0.
    instruments: [Option<Instrument>; GpuField::ALL.len()],
    up: Gauge,
    errors: [Option<Counter>; GpuField::ALL.len() + 1],
}

/// The GPU part of a sampling pass.
pub(crate) struct GpuSampling {
    source: Box<dyn GpuSource>,
    recorder: SharedRecorder,
    up: Gauge,
    devices: Option<Vec<DeviceState>>,
    retry: Duration,
    next_open: Option<Instant>,
    told_unavailable: bool,
}

impl GpuSampling {
    pub(crate) fn new(source: Box<dyn GpuSource>, recorder: SharedRecorder, retry: Duration) -> Self {
        let up = recorder.gauge(c::Metric::GpuSamplerUp.def(), &[]);
        Self {
            source,
            recorder,
            up,
            devices: None,
            retry,
            next_open: None,
            told_unavailable: false,
        }
    }

    pub(crate) fn sample(&mut self, now: Instant) -> GpuSnapshot {
        self.open_if_due(now);
        let Some(devices) = self.devices.as_mut() else {
            self.up.set(0.0);
            return GpuSnapshot::default();
        };
        for device in devices.iter_mut().filter(|d| !d.reading.lost) {
            read_device(self.source.as_mut(), &self.recorder, device);
        }
        self.up.set(1.0);
        GpuSnapshot {
            up: true,
            devices: devices.iter().map(|d| d.reading.clone()).collect(),
        }
    }

    fn open_if_due(&mut self, now: Instant) {
        if self.devices.is_none() && self.next_open.is_none_or(|at| now >= at) {
            match self.source.open() {
                Ok(listed) => {
                    tracing::info!(target: inferwatch_core::contract::LOG_TARGET, devices = listed.len(), "GPU sampling started");
                    self.devices = Some(
                        listed
                            .into_iter()
                            .map(|d| DeviceState::register(d, &self.recorder))
                            .collect(),
                    );
                }
                Err(error) => {
                    if !self.told_unavailable {
                        tracing::warn!(
                            target: inferwatch_core::contract::LOG_TARGET,
                            %error,
                            retry_s = self.retry.as_secs(),
                            "GPU sampling unavailable; inferwatch_gpu_sampler_up stays 0"
                        );
                        self.told_unavailable = true;
                    }
                    self.next_open = Some(now + self.retry);
                }
            }
        }
    }
}

impl DeviceState {
    fn register(device: GpuDevice, recorder: &SharedRecorder) -> Self {
        let labels = [device.uuid.clone(), device.name.clone(), device.index.to_string()];
        let up = recorder.gauge(c::Metric::GpuDeviceUp.def(), &labels.each_ref().map(String::as_str));
        up.set(1.0);
        Self {
            reading: GpuReading {
                device,
                ..GpuReading::default()
            },
            labels,
            instruments: Default::default(),
            up,
            errors: Default::default(),
        }
    }

    fn record(&mut self, recorder: &SharedRecorder, slot: usize, field: GpuField, value: f64) {
        let labels = self.labels.each_ref().map(String::as_str);
        let instrument = self.instruments[slot].get_or_insert_with(|| match field {
            GpuField::Energy => Instrument::Counter(recorder.counter(field.def(), &labels)),
            _ => Instrument::Gauge(recorder.gauge(field.def(), &labels)),
        });
        match instrument {
            Instrument::Gauge(gauge) => gauge.set(value),
            // NVML's energy is cumulative already; the counter follows it in whole joules.
            Instrument::Counter(counter) => counter.absolute(value as u64),
        }
        *self.reading.slot(field) = Some(value);
    }

    /// Counts a failed reading; slot `ALL.len()` is the whole device (`field="device"`).
    fn count_error(&mut self, recorder: &SharedRecorder, slot: usize) {
        let field = GpuField::ALL.get(slot).map_or("device", |f| f.name());
        let index = self.reading.device.index.to_string();
        self.errors[slot]
            .get_or_insert_with(|| recorder.counter(c::Metric::GpuSampleErrors.def(), &[&index, field]))
            .increment(1);
    }
}

fn read_device(source: &mut dyn GpuSource, recorder: &SharedRecorder, device: &mut DeviceState) {
    for (slot, field) in GpuField::ALL.into_iter().enumerate() {
        match source.read(device.reading.device.index, field) {
            Ok(raw) => device.record(recorder, slot, field, field.to_base_unit(raw)),
            Err(GpuError::NotSupported) => *device.reading.slot(field) = None,
            Err(GpuError::Lost) => {
                tracing::warn!(
                    target: inferwatch_core::contract::LOG_TARGET,
                    gpu = device.reading.device.index,
                    uuid = %device.reading.device.uuid,
                    "GPU lost; no further readings from it"
                );
                device.reading.lost = true;
                device.up.set(0.0);
                device.count_error(recorder, GpuField::ALL.len());
                return;
            }
            Err(GpuError::Unavailable(_) | GpuError::Failed(_)) => {
                *device.reading.slot(field) = None;
                device.count_error(recorder, slot);
            }
        }
    }
}
