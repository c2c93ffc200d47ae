//! [`GpuSource`] over NVML, through `nvml-wrapper` (which loads the driver library at run time).

use std::ffi::OsStr;

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::error::NvmlError;

use super::gpu::{GpuDevice, GpuError, GpuField, GpuSource};

/// nvml-wrapper 0.13 loads `libnvidia-ml.so.1` (the name containers mount); some installs only have the
/// unversioned development name.
#[cfg(unix)]
const FALLBACK_LIBRARY: &str = "libnvidia-ml.so";
#[cfg(not(unix))]
const FALLBACK_LIBRARY: &str = "nvml.dll";

/// Reads GPUs through NVML. One [`Nvml`] lives as long as the source, as NVML wants.
///
/// Without a driver [`GpuSource::open`] returns [`GpuError::Unavailable`]; nothing panics.
#[derive(Default)]
pub struct NvmlSource {
    nvml: Option<Nvml>,
}

impl std::fmt::Debug for NvmlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmlSource")
            .field("loaded", &self.nvml.is_some())
            .finish()
    }
}

impl NvmlSource {
    /// A source that loads NVML on its first [`open`](GpuSource::open).
    pub fn new() -> Self {
        Self::default()
    }
}

fn load() -> Result<Nvml, GpuError> {
    Nvml::init().or_else(|first| {
        Nvml::builder()
            .lib_path(OsStr::new(FALLBACK_LIBRARY))
            .init()
            .map_err(|_| GpuError::Unavailable(first.to_string()))
    })
}

fn convert(error: NvmlError) -> GpuError {
    match error {
        NvmlError::NotSupported | NvmlError::FunctionNotFound | NvmlError::FailedToLoadSymbol(_) => {
            GpuError::NotSupported
        }
        NvmlError::GpuLost => GpuError::Lost,
        NvmlError::Uninitialized | NvmlError::DriverNotLoaded | NvmlError::LibloadingError(_) => {
            GpuError::Unavailable(error.to_string())
        }
        other => GpuError::Failed(other.to_string()),
    }
}

impl GpuSource for NvmlSource {
    fn open(&mut self) -> Result<Vec<GpuDevice>, GpuError> {
        if self.nvml.is_none() {
            self.nvml = Some(load()?);
        }
        let nvml = self
            .nvml
            .as_ref()
            .ok_or_else(|| GpuError::Unavailable("not loaded".into()))?;
        let count = nvml.device_count().map_err(convert)?;
        (0..count)
            .map(|index| {
                let device = nvml.device_by_index(index).map_err(convert)?;
                let uuid = device.uuid().unwrap_or_else(|_| format!("GPU-index-{index}"));
                Ok(GpuDevice::new(
                    index,
                    uuid,
                    device.name().unwrap_or_else(|_| "unknown".into()),
                ))
            })
            .collect()
    }

    fn read(&mut self, gpu: u32, field: GpuField) -> Result<f64, GpuError> {
        let nvml = self
            .nvml
            .as_ref()
            .ok_or_else(|| GpuError::Unavailable("not loaded".into()))?;
        let device = nvml.device_by_index(gpu).map_err(convert)?;
        let value = match field {
            GpuField::Utilization => device.utilization_rates().map(|u| f64::from(u.gpu)),
            GpuField::MemoryUsed => device.memory_info().map(|m| m.used as f64),
            GpuField::MemoryTotal => device.memory_info().map(|m| m.total as f64),
            GpuField::Power => device.power_usage().map(f64::from),
            GpuField::Energy => device.total_energy_consumption().map(|mj| mj as f64),
            GpuField::Temperature => device.temperature(TemperatureSensor::Gpu).map(f64::from),
            GpuField::SmClock => device.clock_info(Clock::SM).map(f64::from),
        };
        value.map_err(convert)
    }
}
