//! Where each tensor lives, mirroring llama.cpp's own flags: `-ngl N` puts
//! the last N of the n_layer + 1 "layers" (the output head counts as the
//! last) on the accelerators; `-ncmoe N` keeps the routed experts of the
//! first N layers in host memory; `--cpu-moe` keeps all of them there. The
//! token embedding stays on the host (llama.cpp keeps `tok_embd` on the CPU);
//! a tied output head placed on an accelerator is loaded there as a duplicate
//! of the embedding (`TENSOR_DUPLICATED`), so it counts on both devices.
//! A layer's KV cache lives with the layer.

use super::kv::{self, KvOptions};
use super::machine::Machine;
use crate::shape::{Group, ModelShape};
use serde::Serialize;

/// A placement, as llama.cpp flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Placement {
    /// `-ngl`: None means all layers and the output head.
    pub n_gpu_layers: Option<u32>,
    /// `-ncmoe`: layers (from the first) whose routed experts stay on the host. `u32::MAX` = `--cpu-moe`.
    pub n_cpu_moe: u32,
}

impl Placement {
    /// Everything on the accelerators.
    pub const ALL: Placement = Placement {
        n_gpu_layers: None,
        n_cpu_moe: 0,
    };

    /// As llama-server flags (`-ngl 99 -ncmoe 12`).
    pub fn flags(&self) -> String {
        let mut s = match self.n_gpu_layers {
            None => "-ngl all".to_string(),
            Some(n) => format!("-ngl {n}"),
        };
        if self.n_cpu_moe == u32::MAX {
            s.push_str(" --cpu-moe");
        } else if self.n_cpu_moe > 0 {
            s.push_str(&format!(" -ncmoe {}", self.n_cpu_moe));
        }
        s
    }
}

/// What one device holds and reads.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct TierLoad {
    /// Weights resident here.
    pub weights: Group,
    /// Weight bytes read per generated token.
    pub weights_read: f64,
    /// KV layers held here (indices into the shape's layers).
    pub layers: Vec<usize>,
    /// Whether the output head is here.
    pub output: bool,
}

/// Per-device loads, accelerators first then host; same order as `Machine::devices()`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    /// One load per device.
    pub loads: Vec<TierLoad>,
}

fn host_index(machine: &Machine) -> Option<usize> {
    machine.host.as_ref().map(|_| machine.accel.len())
}

/// Which device index holds layer `i` (or the output when `i == n`).
fn device_of_layer(machine: &Machine, placement: Placement, i: usize, n: usize) -> usize {
    let n_accel = machine.accel.len();
    if n_accel == 0 {
        return 0;
    }
    let ngl = placement
        .n_gpu_layers
        .map_or(n + 1, |g| (g as usize).min(n + 1));
    let first_gpu = n + 1 - ngl;
    if i < first_gpu {
        return host_index(machine).unwrap_or(0);
    }
    // Split the GPU layers across accelerators by the tensor split shares.
    let total: f64 = machine
        .tensor_split
        .iter()
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    let pos = (i - first_gpu) as f64 / ngl.max(1) as f64;
    let mut acc = 0.0;
    for (d, share) in machine.tensor_split.iter().enumerate() {
        acc += share / total;
        if pos < acc - 1e-12 {
            return d;
        }
    }
    n_accel - 1
}

/// Assign every tensor of `shape` to a device of `machine`.
pub fn assign(shape: &ModelShape, machine: &Machine, placement: Placement) -> Assignment {
    let n_dev = machine.accel.len() + usize::from(machine.host.is_some());
    let mut loads = vec![TierLoad::default(); n_dev.max(1)];
    let host = host_index(machine).unwrap_or(0);
    let n = shape.layers.len();
    let active_frac = shape
        .experts
        .map_or(1.0, |e| e.used as f64 / e.count.max(1) as f64);
    // Token embedding: whole table resident on the host, one row read.
    loads[host].weights = loads[host].weights.plus(shape.token_embd);
    loads[host].weights_read += shape.embd_row().bytes;
    let out_dev = device_of_layer(machine, placement, n, n);
    let out = &mut loads[out_dev];
    out.output = true;
    if !shape.tied_embeddings || out_dev != host {
        out.weights = out.weights.plus(shape.output);
    }
    out.weights = out.weights.plus(shape.globals);
    out.weights_read += shape.output.bytes + shape.globals.bytes;
    for (i, layer) in shape.layers.iter().enumerate() {
        let d = device_of_layer(machine, placement, i, n);
        let dense = layer
            .attention
            .plus(layer.ffn_dense)
            .plus(layer.shared_experts)
            .plus(layer.norms);
        loads[d].weights = loads[d].weights.plus(dense);
        loads[d].weights_read += dense.bytes;
        loads[d].layers.push(i);
        let experts_on_host = machine.host.is_some() && (i as u32) < placement.n_cpu_moe;
        let e = if experts_on_host { host } else { d };
        loads[e].weights = loads[e].weights.plus(layer.experts);
        loads[e].weights_read += layer.experts.bytes * active_frac;
    }
    Assignment { loads }
}

/// Bytes of KV cache each device reads per token at `depth`.
pub fn kv_read_per_device(
    shape: &ModelShape,
    a: &Assignment,
    depth: u64,
    opts: KvOptions,
) -> Vec<f64> {
    a.loads
        .iter()
        .map(|l| {
            l.layers
                .iter()
                .map(|&i| kv::layer_read_bytes(&shape.layers[i], depth, opts.types))
                .sum()
        })
        .collect()
}
