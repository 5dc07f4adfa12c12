//! Memory fit: weights + KV for the context + a compute-buffer allowance,
//! per device, against what the device lets a model use.
//!
//! The compute buffer is an allowance, not llama.cpp's exact figure: logits
//! of one micro-batch in f32 (`4 x ubatch x vocab`) plus activations
//! (`4 x ubatch x hidden x 8`) plus 256 MiB of fixed buffers.

use super::kv::{self, KvAllocation, KvOptions};
use super::machine::Machine;
use super::placement::Assignment;
use crate::shape::ModelShape;
use serde::Serialize;

/// Bytes of compute buffer to allow for a micro-batch.
pub fn compute_buffer_bytes(shape: &ModelShape, ubatch: u64) -> f64 {
    4.0 * ubatch as f64 * (shape.vocab as f64 + 8.0 * shape.hidden as f64) + 256.0 * 1024.0 * 1024.0
}

/// Fit on one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceFit {
    /// Device label.
    pub device: String,
    /// Weights resident, bytes.
    pub weights_bytes: f64,
    /// KV cache, bytes.
    pub kv_bytes: f64,
    /// Compute buffer allowance, bytes.
    pub compute_bytes: f64,
    /// Usable bytes on the device.
    pub usable_bytes: f64,
    /// Physical capacity, bytes.
    pub capacity_bytes: f64,
    /// Whether the device shares memory with the CPU.
    pub unified: bool,
}

impl DeviceFit {
    /// Bytes needed.
    pub fn needed(&self) -> f64 {
        self.weights_bytes + self.kv_bytes + self.compute_bytes
    }
    /// Whether it fits in the usable bytes.
    pub fn fits(&self) -> bool {
        self.needed() <= self.usable_bytes
    }
    /// Whether it would fit in the physical capacity (a raised wired limit).
    pub fn fits_capacity(&self) -> bool {
        self.needed() <= self.capacity_bytes * 0.95
    }
}

/// Fit of the whole model on the machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryFit {
    /// KV allocation for the context.
    pub kv: KvAllocation,
    /// Per device.
    pub devices: Vec<DeviceFit>,
}

impl MemoryFit {
    /// Whether every device fits.
    pub fn fits(&self) -> bool {
        self.devices.iter().all(DeviceFit::fits)
    }
}

/// Memory fit of `shape` placed by `a` on `machine` with context `ctx`.
pub fn fit(
    shape: &ModelShape,
    machine: &Machine,
    a: &Assignment,
    ctx: u64,
    opts: KvOptions,
) -> MemoryFit {
    let alloc = kv::allocation(shape, ctx, opts);
    let n_kv_layers = alloc.layers.max(1) as f64;
    let devices = machine
        .devices()
        .zip(&a.loads)
        .enumerate()
        .map(|(i, (dev, load))| {
            let kv_bytes = alloc.total() * load.layers.len() as f64 / n_kv_layers;
            let holds_compute = i == 0 || !load.layers.is_empty();
            DeviceFit {
                device: dev.label.clone(),
                weights_bytes: load.weights.bytes,
                kv_bytes,
                compute_bytes: if holds_compute {
                    compute_buffer_bytes(shape, opts.ubatch)
                } else {
                    0.0
                },
                usable_bytes: dev.usable_bytes,
                capacity_bytes: dev.capacity_bytes,
                unified: dev.unified,
            }
        })
        .collect();
    MemoryFit { kv: alloc, devices }
}
