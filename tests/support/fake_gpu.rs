//! A scripted GPU source: fixed readings per device and field, devices that can be lost mid-run.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use inferwatch::resources::{GpuDevice, GpuError, GpuField, GpuSource};

#[derive(Clone, Debug)]
pub struct FakeDevice {
    pub info: GpuDevice,
    pub values: HashMap<GpuField, Result<f64, GpuError>>,
    pub lost: bool,
}

/// An H100-like device with every field readable, in NVML's units.
pub fn device(index: u32) -> FakeDevice {
    let values = HashMap::from([
        (GpuField::Utilization, Ok(87.0)),
        (GpuField::MemoryUsed, Ok(40.0 * 1024.0 * 1024.0 * 1024.0)),
        (GpuField::MemoryTotal, Ok(80.0 * 1024.0 * 1024.0 * 1024.0)),
        (GpuField::Power, Ok(350_250.0)),
        (GpuField::Energy, Ok(1_234_567_890.0)),
        (GpuField::Temperature, Ok(65.0)),
        (GpuField::SmClock, Ok(1980.0)),
    ]);
    let info = GpuDevice::new(index, format!("GPU-0000000{index}"), "NVIDIA H100 80GB HBM3");
    FakeDevice {
        info,
        values,
        lost: false,
    }
}

#[derive(Default, Debug)]
struct State {
    devices: Vec<FakeDevice>,
    unavailable: bool,
    opens: usize,
    reads: usize,
}

#[derive(Clone, Default, Debug)]
pub struct FakeGpus(Arc<Mutex<State>>);

impl FakeGpus {
    pub fn new(devices: Vec<FakeDevice>) -> Self {
        Self(Arc::new(Mutex::new(State {
            devices,
            ..State::default()
        })))
    }

    /// A machine without a driver.
    pub fn unavailable() -> Self {
        Self(Arc::new(Mutex::new(State {
            unavailable: true,
            ..State::default()
        })))
    }

    pub fn set(&self, gpu: u32, field: GpuField, value: Result<f64, GpuError>) {
        self.0.lock().unwrap().devices[gpu as usize].values.insert(field, value);
    }

    pub fn lose(&self, gpu: u32) {
        self.0.lock().unwrap().devices[gpu as usize].lost = true;
    }

    pub fn opens(&self) -> usize {
        self.0.lock().unwrap().opens
    }

    pub fn reads(&self) -> usize {
        self.0.lock().unwrap().reads
    }
}

impl GpuSource for FakeGpus {
    fn open(&mut self) -> Result<Vec<GpuDevice>, GpuError> {
        let mut state = self.0.lock().unwrap();
        state.opens += 1;
        if state.unavailable {
            return Err(GpuError::Unavailable(
                "libnvidia-ml.so: cannot open shared object file".into(),
            ));
        }
        Ok(state.devices.iter().map(|d| d.info.clone()).collect())
    }

    fn read(&mut self, gpu: u32, field: GpuField) -> Result<f64, GpuError> {
        let mut state = self.0.lock().unwrap();
        state.reads += 1;
        let device = &state.devices[gpu as usize];
        if device.lost {
            return Err(GpuError::Lost);
        }
        device
            .values
            .get(&field)
            .cloned()
            .unwrap_or(Err(GpuError::NotSupported))
    }
}
