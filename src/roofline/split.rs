//! A model split across hosts on llama.cpp's RPC backend: `ggml-rpc-server`
//! on each worker, `llama-server --rpc host:port,...` on the head.
//!
//! Placement follows llama.cpp (b11434 `src/llama.cpp`, `llama-model.cpp`):
//! the RPC devices come first in the device list ("add RPC servers at the
//! front of the list"), then the head's own accelerators; `-ngl` offloads the
//! last N layers (the output head counts as the last), `-ts` shares them in
//! device order (default: each device's memory, as llama.cpp's free memory);
//! the token embedding stays with the head. The layer walk is
//! [`super::placement::assign`]; this module adds the network.
//!
//! A step (one decode token, or one prefill micro-batch of U tokens) walks the
//! devices in layer order. Each run of consecutive layers on one device is a
//! graph split. For every split on a worker the head sends its inputs (the
//! activations `hidden x 4` bytes per token, positions `4` bytes per token,
//! the KQ mask `n_kv x tokens x 2` bytes, n_kv padded to 256), sends the
//! graph (`GRAPH_COMPUTE`, or the short `GRAPH_RECOMPUTE` when the graph is
//! reused, as in steady decode) and then waits on `GET_TENSOR` for the
//! output: the messages are asynchronous but the wait makes one round trip
//! (2 x the one-way latency) per remote split. Workers never talk to each
//! other: a copy between two servers goes through the head (b11434
//! `ggml_backend_rpc_buffer_cpy_tensor` returns false across servers), so a
//! worker-to-worker boundary crosses the link twice. The last split returns
//! the logits of one token (`vocab x 4` bytes).
//!
//! Ceiling: the devices' ceilings + the round trips + the certain bytes
//! (activations, logits) at the link rate. Estimate:
//! step time = sum over devices of their share of the work (decode: bytes /
//! bandwidth; prefill: the device's prefill ceiling for its share)
//!           + link bytes / link rate + remote splits x 2 x latency
//!           + RPC messages x per-call cost.
//! Nothing overlaps: llama.cpp runs the splits of one step one after another.

use super::decode::{self, DecodePoint, EtaBand};
use super::kv::KvOptions;
use super::machine::Machine;
use super::memory::{self, MemoryFit};
use super::placement::{self, Assignment, Placement};
use super::prefill;
use crate::shape::ModelShape;
use serde::Serialize;

/// Bytes of one activation element sent between devices (f32).
const ACT_BYTES: f64 = 4.0;
/// KV cells are padded to this many when the mask is built.
const KV_PAD: u64 = 256;
/// RPC messages per remote split: activations, positions, mask (SET_TENSOR),
/// the graph (GRAPH_COMPUTE/RECOMPUTE), the output (GET_TENSOR).
const CALLS_PER_REMOTE_SPLIT: u32 = 5;

/// The network between the head and every worker (a star).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// Profile name (`tb5`) or `custom`.
    pub name: String,
    /// Payload rate one way, decimal GB/s.
    pub bandwidth_gb_s: f64,
    /// One-way latency of a small message, seconds.
    pub latency_s: f64,
    /// Software cost of one RPC message, seconds.
    pub per_call_s: f64,
}

/// Hosts and their devices, as llama.cpp orders them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Devices in llama.cpp order: workers' (RPC0, RPC1, ...), then the
    /// head's accelerators; the head's host memory (if it takes layers) as `host`.
    pub machine: Machine,
    /// Host of each device of `machine.devices()`: 0 is the head.
    pub host_of: Vec<usize>,
    /// Device that holds the token embedding (the head's CPU side).
    pub head_device: usize,
    /// Host labels, head first.
    pub hosts: Vec<String>,
    /// The link between the head and each worker.
    pub link: Link,
}

/// What the link costs one step.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LinkCost {
    /// Tokens in the step.
    pub tokens: u64,
    /// Graph splits (runs of consecutive work on one device).
    pub splits: u32,
    /// Splits computed on a worker (one round trip each).
    pub remote_splits: u32,
    /// Times data crosses a link.
    pub crossings: u32,
    /// Bytes sent over links.
    pub bytes: f64,
    /// Of those, the bytes that must cross whatever the runtime does: the
    /// activations between devices and the logits back to the head (the
    /// mask and positions are llama.cpp's choice of what to resend).
    pub certain_bytes: f64,
    /// RPC messages.
    pub calls: u32,
    /// bytes / rate, seconds.
    pub transfer_s: f64,
    /// remote splits x 2 x one-way latency, seconds.
    pub latency_s: f64,
    /// calls x per-call cost, seconds.
    pub calls_s: f64,
}

impl LinkCost {
    /// Seconds the link adds to a step (the estimate).
    pub fn total_s(&self) -> f64 {
        self.transfer_s + self.latency_s + self.calls_s
    }

    /// Seconds the link must add to a step, for the ceiling: the round
    /// trips and the certain bytes at the link's rate, not the assumed
    /// per-call cost or the bytes the runtime may not send. A ceiling is an
    /// upper bound, so it leaves out what is not known to happen.
    pub fn bound_s(&self, link: &Link) -> f64 {
        self.certain_bytes / (link.bandwidth_gb_s * 1e9) + self.latency_s
    }
}

/// Assign the model to the cluster's devices: llama.cpp's layer split, with
/// the token embedding on the head.
pub fn assign(shape: &ModelShape, c: &Cluster, p: Placement) -> Assignment {
    let mut a = placement::assign(shape, &c.machine, p);
    let from = c.machine.host.as_ref().map_or(0, |_| c.machine.accel.len());
    let to = c.head_device;
    if from != to && to < a.loads.len() {
        let e = shape.token_embd;
        let row = shape.embd_row().bytes;
        let f = &mut a.loads[from];
        f.weights.params -= e.params;
        f.weights.bytes -= e.bytes;
        f.weights_read -= row;
        a.loads[to].weights = a.loads[to].weights.plus(e);
        a.loads[to].weights_read += row;
    }
    a
}

/// Memory each device needs for placement `p` with context `ctx`: the
/// weights as [`assign`] places them, KV with its layers, compute buffers.
pub fn memory_fit(
    shape: &ModelShape,
    c: &Cluster,
    p: Placement,
    ctx: u64,
    kv: KvOptions,
) -> MemoryFit {
    memory::fit(shape, &c.machine, &assign(shape, c, p), ctx, kv)
}

/// The devices a step visits in order: embedding, each layer, the output,
/// then back to the head with the logits. Consecutive repeats collapsed.
fn walk(shape: &ModelShape, c: &Cluster, a: &Assignment) -> Vec<usize> {
    let n = shape.layers.len();
    let mut layer_dev = vec![c.head_device; n];
    let mut out_dev = c.head_device;
    for (d, l) in a.loads.iter().enumerate() {
        for &i in &l.layers {
            if i < n {
                layer_dev[i] = d;
            }
        }
        if l.output {
            out_dev = d;
        }
    }
    let mut seq = vec![c.head_device];
    seq.extend(layer_dev);
    seq.push(out_dev);
    seq.dedup();
    seq
}

/// What the link costs a step of `tokens` tokens at context `depth`.
pub fn link_cost(
    shape: &ModelShape,
    c: &Cluster,
    a: &Assignment,
    tokens: u64,
    depth: u64,
) -> LinkCost {
    let host = |d: usize| c.host_of.get(d).copied().unwrap_or(0);
    let seq = walk(shape, c, a);
    let t = tokens.max(1) as f64;
    let act = shape.hidden as f64 * ACT_BYTES * t;
    let logits = shape.vocab as f64 * ACT_BYTES;
    let n_kv = (depth + tokens).div_ceil(KV_PAD) * KV_PAD;
    let inputs = 4.0 * t + n_kv as f64 * t * 2.0;
    let mut cost = LinkCost {
        tokens: tokens.max(1),
        splits: seq.len() as u32,
        ..LinkCost::default()
    };
    for (k, &d) in seq.iter().enumerate() {
        let remote = host(d) != 0;
        let prev = k.checked_sub(1).map(|j| seq[j]);
        if let Some(p) = prev {
            if host(p) != host(d) {
                // Into a worker's split from elsewhere: through the head.
                let hops = if host(p) != 0 && remote { 2 } else { 1 };
                cost.crossings += hops;
                cost.bytes += act * f64::from(hops);
                cost.certain_bytes += act * f64::from(hops);
            }
        }
        if remote && prev.is_some() {
            cost.remote_splits += 1;
            cost.calls += CALLS_PER_REMOTE_SPLIT;
            cost.bytes += inputs;
        }
    }
    // The logits come back to the head from the last device.
    if let Some(&last) = seq.last() {
        if host(last) != 0 {
            cost.crossings += 1;
            cost.bytes += logits;
            cost.certain_bytes += logits;
        }
    }
    cost.transfer_s = cost.bytes / (c.link.bandwidth_gb_s * 1e9);
    cost.latency_s = f64::from(cost.remote_splits) * 2.0 * c.link.latency_s;
    cost.calls_s = f64::from(cost.calls) * c.link.per_call_s;
    cost
}

/// Decode on the cluster at one depth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitDecode {
    /// Context depth, tokens.
    pub depth: u64,
    /// The devices' own roofline (no network).
    pub local: DecodePoint,
    /// The link's part of a token.
    pub link: LinkCost,
    /// Ceiling with the link, tok/s.
    pub ceiling_tok_s: f64,
    /// Estimate with the link, tok/s.
    pub estimate_tok_s: f64,
    /// Share of the estimated token time spent on the link (0..1).
    pub link_share: f64,
}

/// Prefill on the cluster (one micro-batch).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitPrefill {
    /// Context depth, tokens.
    pub depth: u64,
    /// Micro-batch, tokens.
    pub ubatch: u64,
    /// Devices' share of a micro-batch at their prefill ceilings, seconds.
    pub devices_s: f64,
    /// The link's part of a micro-batch.
    pub link: LinkCost,
    /// Ceiling with the link, tok/s.
    pub ceiling_tok_s: f64,
}

/// Decode at `depth` on the cluster.
pub fn decode_at(
    shape: &ModelShape,
    c: &Cluster,
    a: &Assignment,
    depth: u64,
    kv: KvOptions,
    band: EtaBand,
) -> SplitDecode {
    let local = decode::at_depth(shape, &c.machine, a, depth, kv, band);
    let link = link_cost(shape, c, a, 1, depth);
    let est_s = 1.0 / local.estimate_tok_s + link.total_s();
    SplitDecode {
        depth,
        ceiling_tok_s: 1.0 / (1.0 / local.ceiling_tok_s + link.bound_s(&c.link)),
        estimate_tok_s: 1.0 / est_s,
        link_share: if est_s > 0.0 {
            link.total_s() / est_s
        } else {
            0.0
        },
        local,
        link,
    }
}

/// Prefill of one micro-batch of `ubatch` tokens at `depth` on the cluster:
/// each device does the share of the work its weights carry, at its own
/// prefill ceiling (compute or bandwidth bound).
pub fn prefill_at(
    shape: &ModelShape,
    c: &Cluster,
    a: &Assignment,
    depth: u64,
    ubatch: u64,
) -> SplitPrefill {
    let u = ubatch.max(1);
    let total: f64 = a.loads.iter().map(|l| l.weights_read).sum();
    let devices_s: f64 = c
        .machine
        .devices()
        .zip(&a.loads)
        .filter(|(_, l)| l.weights_read > 0.0)
        .map(|(dev, l)| {
            let p = prefill::at_depth(shape, &Machine::single(dev.clone()), depth, u);
            (l.weights_read / total.max(f64::MIN_POSITIVE)) * u as f64 / p.ceiling_tok_s
        })
        .sum();
    let link = link_cost(shape, c, a, u, depth);
    SplitPrefill {
        depth,
        ubatch: u,
        devices_s,
        ceiling_tok_s: u as f64 / (devices_s + link.bound_s(&c.link)),
        link,
    }
}

/// One row of "what a different link buys".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkWhatIf {
    /// The link.
    pub link: Link,
    /// Decode estimate at depth 0, tok/s.
    pub decode_estimate_tok_s: f64,
    /// Decode ceiling at depth 0, tok/s.
    pub decode_ceiling_tok_s: f64,
    /// Prefill ceiling at depth 0, tok/s.
    pub prefill_ceiling_tok_s: f64,
    /// Share of a decode token spent on the link.
    pub link_share: f64,
}

/// Everything predicted for one model split across a cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitPrediction {
    /// Hosts, head first.
    pub hosts: Vec<String>,
    /// Devices in llama.cpp order, with their host.
    pub devices: Vec<(String, usize)>,
    /// The link.
    pub link: Link,
    /// Placement used.
    pub placement: Placement,
    /// Tensor split shares (llama.cpp order).
    pub tensor_split: Vec<f64>,
    /// Memory per device.
    pub memory: MemoryFit,
    /// Decode at each depth asked.
    pub decode: Vec<SplitDecode>,
    /// Prefill at depth 0.
    pub prefill: SplitPrefill,
    /// The same split over every other link.
    pub links: Vec<LinkWhatIf>,
    /// The whole model on one of these hosts (the first worker's device),
    /// ignoring memory: what splitting costs per token.
    pub one_host_decode_estimate_tok_s: f64,
}

/// Predict a split: memory fit, decode per depth, prefill, and the same split
/// over `alternatives`.
#[allow(clippy::too_many_arguments)]
pub fn predict(
    shape: &ModelShape,
    c: &Cluster,
    p: Placement,
    ctx: u64,
    depths: &[u64],
    kv: KvOptions,
    band: EtaBand,
    alternatives: &[Link],
) -> SplitPrediction {
    let a = assign(shape, c, p);
    let memory = memory::fit(shape, &c.machine, &a, ctx, kv);
    let mut ds = depths.to_vec();
    ds.push(0);
    ds.sort_unstable();
    ds.dedup();
    let decode = ds
        .iter()
        .map(|&d| decode_at(shape, c, &a, d, kv, band))
        .collect();
    let prefill = prefill_at(shape, c, &a, 0, kv.ubatch);
    let links = alternatives
        .iter()
        .map(|l| {
            let alt = Cluster {
                link: l.clone(),
                ..c.clone()
            };
            let d = decode_at(shape, &alt, &a, 0, kv, band);
            LinkWhatIf {
                link: l.clone(),
                decode_estimate_tok_s: d.estimate_tok_s,
                decode_ceiling_tok_s: d.ceiling_tok_s,
                prefill_ceiling_tok_s: prefill_at(shape, &alt, &a, 0, kv.ubatch).ceiling_tok_s,
                link_share: d.link_share,
            }
        })
        .collect();
    let one = c
        .machine
        .primary()
        .map(|d| {
            let m = Machine::single(d.clone());
            let a1 = placement::assign(shape, &m, Placement::ALL);
            decode::at_depth(shape, &m, &a1, 0, kv, band).estimate_tok_s
        })
        .unwrap_or(0.0);
    SplitPrediction {
        hosts: c.hosts.clone(),
        devices: c
            .machine
            .devices()
            .zip(&c.host_of)
            .map(|(d, &h)| (d.label.clone(), h))
            .collect(),
        link: c.link.clone(),
        placement: p,
        tensor_split: c.machine.tensor_split.clone(),
        memory,
        decode,
        prefill,
        links,
        one_host_decode_estimate_tok_s: one,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roofline::machine::Device;
    use approx::assert_relative_eq;

    /// 10 layers of 10 MB (1 byte per weight), hidden 1000, vocab 1000:
    /// decode's test shape without attention arithmetic.
    fn shape() -> ModelShape {
        let mut s = crate::roofline::decode::tests::shape();
        for l in &mut s.layers {
            l.attn_flops_per_ctx_token = 0.0;
        }
        s
    }

    fn dev(label: &str) -> Device {
        Device {
            label: label.into(),
            bandwidth_gb_s: 100.0,
            eta: 1.0,
            overhead_s: 0.0,
            usable_bytes: 1e12,
            capacity_bytes: 1e12,
            flops: 1e15,
            int8_ops: 0.0,
            calibration: None,
            unified: true,
        }
    }

    fn link(gb_s: f64, latency_s: f64) -> Link {
        Link {
            name: "t".into(),
            bandwidth_gb_s: gb_s,
            latency_s,
            per_call_s: 0.0,
        }
    }

    /// `n_workers` workers then a unified head, even split.
    fn cluster(n_workers: usize, l: Link) -> Cluster {
        let mut accel: Vec<Device> = (0..n_workers).map(|i| dev(&format!("w{i}"))).collect();
        accel.push(dev("head"));
        let n = accel.len();
        Cluster {
            machine: Machine {
                tensor_split: vec![1.0; n],
                accel,
                host: None,
            },
            host_of: (1..=n_workers).chain([0]).collect(),
            head_device: n_workers,
            hosts: vec!["head".into(); n_workers + 1],
            link: l,
        }
    }

    #[test]
    fn two_hosts_one_round_trip_two_activations() {
        // 11 "layers" (10 + output) split 1:1: layers 0-5 on the worker
        // (i / 11 < 0.5), layers 6-9 and the output on the head.
        let s = shape();
        let c = cluster(1, link(1.0, 1e-3));
        let a = assign(&s, &c, Placement::ALL);
        assert_eq!(a.loads[0].layers, vec![0, 1, 2, 3, 4, 5]);
        assert!(a.loads[1].output);
        // The embedding is on the head, not on the worker.
        assert_relative_eq!(a.loads[0].weights.bytes, 60e6);
        assert_relative_eq!(a.loads[1].weights.bytes, 41e6);
        let l = link_cost(&s, &c, &a, 1, 0);
        assert_eq!((l.splits, l.remote_splits, l.crossings), (3, 1, 2));
        // 2 x 4000 B activations + 4 B positions + 256 x 1 x 2 B mask.
        assert_relative_eq!(l.bytes, 8516.0);
        assert_relative_eq!(l.latency_s, 2e-3);
        assert_relative_eq!(l.transfer_s, 8516.0 / 1e9);
        // Devices: 60 MB + (40 MB + one 1000 B embedding row) at 100 GB/s.
        let d = decode_at(&s, &c, &a, 0, KvOptions::default(), EtaBand::default());
        // The ceiling counts the round trip and the certain bytes (the two
        // activations), not the mask, positions or per-call costs.
        assert_relative_eq!(l.certain_bytes, 8000.0);
        let want_s = 100.001e6 / 100e9 + 2e-3 + 8.0e-6;
        assert_relative_eq!(d.ceiling_tok_s, 1.0 / want_s, max_relative = 1e-9);
        assert!(d.estimate_tok_s < d.ceiling_tok_s);
        assert!(d.link_share > 0.6 && d.link_share < 0.7, "{}", d.link_share);
    }

    #[test]
    fn worker_to_worker_goes_through_the_head_and_logits_come_back() {
        // Two workers, -ngl all, and the head takes no layers (ts 1,1,0).
        let s = shape();
        let mut c = cluster(2, link(1.0, 1e-3));
        c.machine.tensor_split = vec![1.0, 1.0, 0.0];
        let a = assign(&s, &c, Placement::ALL);
        assert!(a.loads[1].output);
        let l = link_cost(&s, &c, &a, 1, 0);
        // head -> w0 (1), w0 -> head -> w1 (2), logits w1 -> head (1).
        assert_eq!((l.remote_splits, l.crossings), (2, 4));
        assert_relative_eq!(l.bytes, 3.0 * 4000.0 + 1000.0 * 4.0 + 2.0 * 516.0);
        assert_relative_eq!(l.latency_s, 4e-3);
    }

    #[test]
    fn prefill_sends_ubatch_sized_activations_and_masks() {
        let s = shape();
        let c = cluster(1, link(1.0, 0.0));
        let a = assign(&s, &c, Placement::ALL);
        let l = link_cost(&s, &c, &a, 512, 0);
        // 2 x 512 x 4000 B + 512 x 4 B + 512 cells x 512 x 2 B.
        assert_relative_eq!(l.bytes, 2.0 * 512.0 * 4000.0 + 2048.0 + 512.0 * 512.0 * 2.0);
        let p = prefill_at(&s, &c, &a, 0, 512);
        assert!(p.ceiling_tok_s < 512.0 / p.devices_s);
    }

    #[test]
    fn kv_bytes_per_device_follow_the_cache_type() {
        use crate::dtype::ggml::GgmlType;
        use crate::roofline::kv::KvTypes;
        // Worker: layers 0-5 (ts 1,1 over 11 slots). ctx 512 = 512 cells.
        // f16: 6 layers x 512 cells x (1024 + 1024) x 2 B = 12,582,912 B.
        // q8_0: 34 B per 32 elements: 6 x 512 x 2048 x 34/32 = 6,684,672 B.
        let s = shape();
        let c = cluster(1, link(1.0, 0.0));
        let kv = |t: GgmlType| KvOptions {
            types: KvTypes {
                k: t.into(),
                v: t.into(),
            },
            ..KvOptions::default()
        };
        let f16 = memory_fit(&s, &c, Placement::ALL, 512, kv(GgmlType::F16));
        let q8 = memory_fit(&s, &c, Placement::ALL, 512, kv(GgmlType::Q8_0));
        assert_relative_eq!(f16.devices[0].kv_bytes, 12_582_912.0);
        assert_relative_eq!(q8.devices[0].kv_bytes, 6_684_672.0);
        // The head holds layers 6-9: 4 layers.
        assert_relative_eq!(q8.devices[1].kv_bytes, 4.0 * 512.0 * 2048.0 * 34.0 / 32.0);
        assert_relative_eq!(f16.devices[0].weights_bytes, q8.devices[0].weights_bytes);
    }

    #[test]
    fn a_perfect_link_costs_nothing_and_a_faster_one_is_never_slower() {
        let s = shape();
        let kv = KvOptions::default();
        let b = EtaBand::default();
        let ideal = cluster(1, link(1e12, 0.0));
        let a = assign(&s, &ideal, Placement::ALL);
        let d = decode_at(&s, &ideal, &a, 0, kv, b);
        assert_relative_eq!(d.ceiling_tok_s, d.local.ceiling_tok_s, max_relative = 1e-6);
        let slow = decode_at(&s, &cluster(1, link(1.25, 25e-6)), &a, 0, kv, b);
        let fast = decode_at(&s, &cluster(1, link(12.5, 15e-6)), &a, 0, kv, b);
        assert!(fast.estimate_tok_s > slow.estimate_tok_s);
        // A 20 ms link is several-fold slower than loopback here.
        let far = decode_at(&s, &cluster(1, link(1.25, 20e-3)), &a, 0, kv, b);
        assert!(slow.estimate_tok_s > 5.0 * far.estimate_tok_s);
    }
}
