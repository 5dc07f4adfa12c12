//! A hardware profile as the roofline sees it: one rule, used by `predict`,
//! `bench`, `tune` and the published-measurement check alike.

use crate::catalog::hardware::{HardwareProfile, MemoryKind};
use crate::roofline::machine::{Device, Machine};

/// A profile as one device of the roofline.
pub trait AsDevice {
    /// The engine's view of this profile as one device named `label`.
    fn device(&self, label: String) -> Device;
}

impl AsDevice for HardwareProfile {
    fn device(&self, label: String) -> Device {
        Device {
            label,
            bandwidth_gb_s: self.bandwidth_gb_s.value,
            eta: self.eta.value,
            overhead_s: self.overhead_ms.value / 1e3,
            usable_bytes: self.usable_bytes(),
            capacity_bytes: self.capacity_bytes(),
            flops: self.fp16_tflops.value * 1e12,
            calibration: self.calibration.clone(),
            int8_ops: self.int8_tops.as_ref().map_or(0.0, |t| t.value * 1e12),
            unified: self.memory_kind == MemoryKind::Unified,
        }
    }
}

/// The machine a single profile describes: host memory (a CPU box) runs
/// everything on the CPU tier; unified or discrete memory is one accelerator.
pub fn single(profile: &HardwareProfile, label: String) -> Machine {
    let dev = profile.device(label);
    if profile.memory_kind == MemoryKind::Host && !dev.unified {
        Machine::cpu_only(dev)
    } else {
        Machine::single(dev)
    }
}
