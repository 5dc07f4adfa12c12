//! Prefill: prompt processing is compute-bound on big batches and
//! bandwidth-bound on small ones. Two ceilings, the lower one binds:
//!
//! - compute: peak op/s of the path the weights take (int8 dot products for
//!   quantized weights, float FMA otherwise: [`super::machine::Device::peak_ops`]) / FLOPs
//!   per token, where FLOPs per token = 2 x the layers' active parameters +
//!   attention over the tokens already in context (no output head: the
//!   server asks for the logits of the last prompt token only, so a
//!   262,144-row head costs one token's worth per prompt, not per token);
//! - bandwidth: each micro-batch of U tokens reads the weights once, so
//!   U x bandwidth / bytes per micro-batch. For an MoE, a micro-batch touches
//!   the union of its tokens' experts: a share 1 - (1 - K/E)^U of them
//!   (assuming uniform routing).

use super::kv;
use super::machine::Machine;
use crate::shape::ModelShape;
use serde::Serialize;

/// Which resource limits prefill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Arithmetic throughput.
    Compute,
    /// Reading the weights once per micro-batch.
    Bandwidth,
}

/// Prefill ceilings at one depth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefillPoint {
    /// Context already cached when these tokens are processed.
    pub depth: u64,
    /// FLOPs per prompt token.
    pub flops_per_token: f64,
    /// Compute ceiling, tok/s.
    pub compute_tok_s: f64,
    /// Bandwidth ceiling for the micro-batch, tok/s.
    pub bandwidth_tok_s: f64,
    /// Micro-batch size used.
    pub ubatch: u64,
    /// The binding bound.
    pub bound: Bound,
    /// min of the two, tok/s.
    pub ceiling_tok_s: f64,
}

/// Share of routed experts a micro-batch of `u` tokens touches.
pub fn experts_touched(shape: &ModelShape, u: u64) -> f64 {
    match shape.experts {
        Some(e) if e.count > 0 => 1.0 - (1.0 - e.used as f64 / e.count as f64).powf(u as f64),
        _ => 1.0,
    }
}

/// Attention FLOPs of one token at context depth `depth` (QK^T and AV over the cached tokens).
pub fn attn_flops(shape: &ModelShape, depth: u64) -> f64 {
    shape
        .layers
        .iter()
        .map(|l| l.attn_flops_per_ctx_token * kv::attended(&l.cache, depth) as f64)
        .sum()
}

/// FLOPs to generate one token at context depth `depth`: every weight read
/// (output head included) and attention.
pub fn flops_per_token(shape: &ModelShape, depth: u64) -> f64 {
    let active = shape.active_weights().params - shape.embd_row().params;
    2.0 * active + attn_flops(shape, depth)
}

/// FLOPs to process one prompt token at context depth `depth`: the layers'
/// weights and attention, no output head (see the module docs).
pub fn prompt_flops_per_token(shape: &ModelShape, depth: u64) -> f64 {
    2.0 * shape.layer_weights().params + attn_flops(shape, depth)
}

/// Prefill ceilings at `depth` with micro-batch `ubatch`, with the whole model
/// on the machine's primary device (offloaded tiers are handled by decode).
pub fn at_depth(shape: &ModelShape, machine: &Machine, depth: u64, ubatch: u64) -> PrefillPoint {
    let (flops, bw) = machine.primary().map_or((1.0, 1.0), |d| {
        (
            d.peak_ops(shape.quantized_weights()),
            d.bandwidth_gb_s * 1e9,
        )
    });
    let fpt = prompt_flops_per_token(shape, depth);
    let compute = flops / fpt;
    let u = ubatch.max(1);
    let routed = shape.routed_experts().bytes;
    // The output head is read for the last prompt token only (module docs).
    let active_all = shape.layer_weights().bytes;
    let per_token_share = shape
        .experts
        .map_or(0.0, |e| routed * e.used as f64 / e.count.max(1) as f64);
    let bytes = active_all - per_token_share
        + routed * experts_touched(shape, u)
        + kv::read_bytes(shape, depth, kv::KvTypes::default());
    let bandwidth = u as f64 * bw / bytes;
    let (bound, ceiling) = if compute <= bandwidth {
        (Bound::Compute, compute)
    } else {
        (Bound::Bandwidth, bandwidth)
    };
    PrefillPoint {
        depth,
        flops_per_token: fpt,
        compute_tok_s: compute,
        bandwidth_tok_s: bandwidth,
        ubatch: u,
        bound,
        ceiling_tok_s: ceiling,
    }
}

/// What multiplies a prompt token's three compute terms at the roof: the
/// FLOPs of the layers' dense weights, of the routed experts it runs, and
/// of attention at its depth (each over the compute roof). Fitted per
/// platform family and runtime on published prefill rows
/// (`compare::prefill`): a dense matmul kernel reaches one share of the
/// roof; the experts' grouped matmuls, each expert seeing only the tokens
/// routed to it, a smaller one; attention another, weighing more the deeper
/// the prompt starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrefillFactors {
    /// Multiplies the dense weights' FLOPs / roof.
    pub weights: f64,
    /// Multiplies the routed experts' FLOPs / roof.
    pub experts: f64,
    /// Multiplies the attention FLOPs / roof.
    pub attn: f64,
}

/// A prompt token's FLOPs at `depth`: (dense weights, routed experts run, attention).
pub fn flops_split(shape: &ModelShape, depth: u64) -> (f64, f64, f64) {
    let routed = shape.experts.map_or(0.0, |e| {
        shape.routed_experts().params * e.used as f64 / e.count.max(1) as f64
    });
    let all = shape.layer_weights().params;
    (2.0 * (all - routed), 2.0 * routed, attn_flops(shape, depth))
}

impl PrefillFactors {
    /// Estimated prefill rate at `depth`, tok/s: the fitted compute time, or
    /// the micro-batch's weight reads at the device's eta when those take
    /// longer (a small `-ub` on a MoE); never above the ceiling.
    pub fn tok_s(&self, shape: &ModelShape, machine: &Machine, depth: u64, ubatch: u64) -> f64 {
        let p = at_depth(shape, machine, depth, ubatch);
        let roof = p.compute_tok_s * p.flops_per_token;
        let (dense, experts, attn) = flops_split(shape, depth);
        let s = (self.weights * dense + self.experts * experts + self.attn * attn) / roof;
        let eta = machine.primary().map_or(1.0, |d| d.eta);
        let compute = if s > 0.0 { 1.0 / s } else { f64::INFINITY };
        compute.min(p.bandwidth_tok_s * eta).min(p.ceiling_tok_s)
    }
}

/// Time to first token for a prompt of `n` tokens of which `cached` are
/// already in the cache: prefill of the `n - cached` new tokens (at the mean
/// depth they see) plus one decode step. The prefill runs at `factors`'
/// rate when given, else at `prefill_eff` x the ceiling (1.0 gives the
/// lower bound on TTFT).
#[allow(clippy::too_many_arguments)]
pub fn ttft_s(
    shape: &ModelShape,
    machine: &Machine,
    n: u64,
    cached: u64,
    ubatch: u64,
    prefill_eff: f64,
    factors: Option<PrefillFactors>,
    decode_step_s: f64,
) -> f64 {
    let new = n.saturating_sub(cached);
    if new == 0 {
        return decode_step_s;
    }
    let mid = cached + new / 2;
    let u = ubatch.min(new);
    let rate = match factors {
        Some(f) => f.tok_s(shape, machine, mid, u),
        None => at_depth(shape, machine, mid, u).ceiling_tok_s * prefill_eff,
    };
    new as f64 / rate + decode_step_s
}
