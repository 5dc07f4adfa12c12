//! Decode: single-stream generation re-reads the active weights and the KV
//! cache up to the current depth, and does 2 FLOPs per weight plus the
//! attention over the context. A true roofline: the lower of the two bounds.
//!
//! ceiling s/token = max(sum over tiers of bytes in tier / tier bandwidth,
//!                       FLOPs per token (weights + attention at depth) / compute roof)
//! estimate s/token, uncalibrated = max(sum of bytes / (eta x bandwidth), compute bound) + c
//! estimate s/token, calibrated   = the fitted terms of `estimate` (never below the ceiling)
//!
//! The compute roof is the primary device's, for the path the weights take
//! (`Device::peak_ops`). Uncalibrated, eta and c come from the hardware
//! profile and the band scales eta by the spread seen across published
//! measurements (see `calibration`); calibrated, the band is the fit's
//! held-out error.

use super::estimate;
use super::kv::KvOptions;
use super::machine::Machine;
use super::placement::{kv_read_per_device, Assignment};
use crate::shape::ModelShape;
use serde::Serialize;

/// Bytes and time one device contributes to a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierRead {
    /// Device label.
    pub device: String,
    /// Weight bytes read per token here.
    pub weight_bytes: f64,
    /// KV bytes read per token here.
    pub kv_bytes: f64,
    /// Seconds per token at full bandwidth.
    pub ceiling_s: f64,
}

/// Decode at one context depth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodePoint {
    /// Context depth, tokens.
    pub depth: u64,
    /// Weight bytes read per token.
    pub weight_bytes: f64,
    /// KV bytes read per token.
    pub kv_bytes: f64,
    /// Per-tier split.
    pub tiers: Vec<TierRead>,
    /// FLOPs per token (weights and attention at this depth).
    pub flops_per_token: f64,
    /// Compute bound alone, tok/s (the roof for the weights' path / FLOPs per token).
    pub compute_tok_s: f64,
    /// Ceiling, tok/s: the lower of the bandwidth and compute bounds.
    pub ceiling_tok_s: f64,
    /// Estimate with the profile's eta and c, tok/s.
    pub estimate_tok_s: f64,
    /// Estimate band, low end, tok/s.
    pub estimate_low_tok_s: f64,
    /// Estimate band, high end, tok/s (never above the ceiling).
    pub estimate_high_tok_s: f64,
}

impl DecodePoint {
    /// Bytes read per token.
    pub fn bytes_per_token(&self) -> f64 {
        self.weight_bytes + self.kv_bytes
    }
}

/// Relative spread of eta: the estimate band is eta x low ..= eta x high;
/// and the cost of each routed expert a token runs, fitted with it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EtaBand {
    /// Lower ratio (< 1).
    pub low: f64,
    /// Upper ratio (>= 1).
    pub high: f64,
    /// Seconds per routed expert per MoE layer per token
    /// (`ModelShape::expert_dispatches`) added to the estimate: the
    /// runtime dispatches each expert's small matmuls apart, at a fixed cost
    /// the bytes do not show. Fitted per platform family and runtime on
    /// published rows (`calibration`); 0 without them.
    pub per_expert_s: f64,
    /// How decode falls with depth, fitted per platform family and runtime
    /// on published rows measured deep in the context (`compare::depth`);
    /// None: the KV bytes alone, read at eta.
    pub depth: Option<DepthFactors>,
    /// The family's prefill factors for the time to first token
    /// (`compare::prefill`); None: the scenario's share of the ceiling.
    pub prefill: Option<super::prefill::PrefillFactors>,
}

/// What multiplies the two terms decode adds with depth: the KV cache's read
/// time at full bandwidth / eta, and the attention FLOPs at the depth over
/// the compute roof (the attention kernels' shortfall on it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DepthFactors {
    /// Multiplies the KV read time / eta.
    pub kv: f64,
    /// Multiplies the attention FLOPs / compute roof.
    pub attn: f64,
}

impl DepthFactors {
    /// The KV bytes alone, read at the weights' pace (no attention term).
    pub const KV_ONLY: DepthFactors = DepthFactors { kv: 1.0, attn: 0.0 };
}

impl Default for EtaBand {
    /// Without calibration data: +-25 %, no expert term, the KV bytes alone at depth.
    fn default() -> Self {
        EtaBand::ratios(0.75, 1.25)
    }
}

impl EtaBand {
    /// A band without the expert and depth terms.
    pub fn ratios(low: f64, high: f64) -> EtaBand {
        EtaBand {
            low,
            high,
            per_expert_s: 0.0,
            depth: None,
            prefill: None,
        }
    }

    /// An estimate without the expert term (tok/s) with it added, for a
    /// model that runs `expert_dispatches` routed experts per token.
    pub fn with_experts(&self, estimate_tok_s: f64, expert_dispatches: f64) -> f64 {
        let extra_s = self.per_expert_s * expert_dispatches;
        if estimate_tok_s > 0.0 && extra_s > 0.0 {
            1.0 / (1.0 / estimate_tok_s + extra_s)
        } else {
            estimate_tok_s
        }
    }
}

/// Decode prediction at `depth` for an assignment of the model to the machine.
pub fn at_depth(
    shape: &ModelShape,
    machine: &Machine,
    a: &Assignment,
    depth: u64,
    opts: KvOptions,
    band: EtaBand,
) -> DecodePoint {
    let kv = kv_read_per_device(shape, a, depth, opts);
    let mut tiers = Vec::new();
    let (mut ceiling_s, mut est, mut est_lo, mut est_hi) = (0.0, 0.0, 0.0, 0.0);
    let depth_f = band.depth.unwrap_or(DepthFactors::KV_ONLY);
    for ((dev, load), kv_b) in machine.devices().zip(&a.loads).zip(&kv) {
        let bytes = load.weights_read + kv_b;
        if bytes <= 0.0 {
            continue;
        }
        let bw = dev.bandwidth_gb_s * 1e9;
        let t = bytes / bw;
        ceiling_s += t;
        // The estimate reads the KV cache `depth_f.kv` times as slowly as the weights.
        let te = (load.weights_read + depth_f.kv * kv_b) / bw;
        est += te / dev.eta;
        est_lo += te / (dev.eta * band.low).min(1.0);
        est_hi += te / (dev.eta * band.high).min(1.0);
        tiers.push(TierRead {
            device: dev.label.clone(),
            weight_bytes: load.weights_read,
            kv_bytes: *kv_b,
            ceiling_s: t,
        });
    }
    let primary = machine.primary();
    let c = primary.map_or(0.0, |d| d.overhead_s);
    let fpt = super::prefill::flops_per_token(shape, depth);
    let compute_s = fpt / estimate::peak_ops(shape, machine);
    let ceiling_s = ceiling_s.max(compute_s);
    let rate = |s: f64| if s > 0.0 { 1.0 / s } else { f64::INFINITY };
    let (est_s, lo_s, hi_s) = match primary.and_then(|d| d.calibration.as_ref()) {
        Some(cal) => {
            let s = estimate::decode_s(cal, shape, machine, a, depth, opts, ceiling_s);
            let e = cal.decode_holdout_pct / 100.0;
            (s, s * (1.0 + e), s * (1.0 - e).max(0.0))
        }
        None => {
            let attn_s = depth_f.attn
                * (super::prefill::attn_flops(shape, depth) - super::prefill::attn_flops(shape, 0))
                / estimate::peak_ops(shape, machine);
            let c = c + band.per_expert_s * shape.expert_dispatches() + attn_s.max(0.0);
            (
                est.max(compute_s) + c,
                est_lo.max(compute_s) + c,
                est_hi.max(compute_s) + c,
            )
        }
    };
    DecodePoint {
        depth,
        weight_bytes: a.loads.iter().map(|l| l.weights_read).sum(),
        kv_bytes: kv.iter().sum(),
        tiers,
        flops_per_token: fpt,
        compute_tok_s: rate(compute_s),
        ceiling_tok_s: rate(ceiling_s),
        estimate_tok_s: rate(est_s).min(rate(ceiling_s)),
        estimate_low_tok_s: rate(lo_s).min(rate(ceiling_s)),
        estimate_high_tok_s: rate(hi_s).min(rate(ceiling_s)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::roofline::machine::Device;
    use crate::roofline::placement::{self, Placement};
    use crate::shape::{CacheKind, Group, Layer};

    /// 10 layers of 10 M weights at 1 byte each, full attention, 32 heads of 128.
    pub(crate) fn shape() -> ModelShape {
        let layer = Layer {
            attention: Group {
                params: 4e6,
                bytes: 4e6,
            },
            ffn_dense: Group {
                params: 6e6,
                bytes: 6e6,
            },
            experts: Group::default(),
            shared_experts: Group::default(),
            norms: Group::default(),
            cache: CacheKind::Full {
                k_per_token: 1024,
                v_per_token: 1024,
            },
            indexer_per_token: 0,
            attn_flops_per_ctx_token: 2.0 * 32.0 * 256.0,
            attn_heads: 32,
            ops: crate::shape::PLAIN_LAYER_OPS,
        };
        ModelShape {
            name: "toy".into(),
            quant_label: "q8_0".into(),
            vocab: 1000,
            hidden: 1000,
            token_embd: Group {
                params: 1e6,
                bytes: 1e6,
            },
            output: Group::default(),
            tied_embeddings: false,
            globals: Group::default(),
            layers: vec![layer; 10],
            mtp: Group::default(),
            experts: None,
            ctx_train: 1 << 20,
            rope_scaling: None,
            weight_types: Vec::new(),
        }
    }

    pub(crate) fn machine(gflop_s: f64, cal: Option<Calibration>) -> Machine {
        Machine::cpu_only(Device {
            label: "cpu".into(),
            bandwidth_gb_s: 100.0,
            eta: 0.5,
            overhead_s: 0.0,
            usable_bytes: 1e12,
            capacity_bytes: 1e12,
            flops: gflop_s * 1e9,
            int8_ops: 0.0,
            calibration: cal,
            unified: false,
        })
    }

    use crate::roofline::estimate::{Calibration, DecodeTerms};

    fn point(m: &Machine, depth: u64) -> DecodePoint {
        let s = shape();
        let a = placement::assign(&s, m, Placement::ALL);
        at_depth(&s, m, &a, depth, KvOptions::default(), EtaBand::default())
    }

    #[test]
    fn the_lower_bound_binds() {
        // 100 MB read per token at 100 GB/s: 1 ms, 1000 tok/s.
        let p = point(&machine(1e6, None), 0);
        approx::assert_relative_eq!(p.ceiling_tok_s, 1000.0, max_relative = 1e-4);
        // 2 x 100 M = 200 MFLOP per token at 20 GFLOP/s: 10 ms, 100 tok/s.
        let p = point(&machine(20.0, None), 0);
        approx::assert_relative_eq!(p.flops_per_token, 2e8, max_relative = 1e-9);
        approx::assert_relative_eq!(p.ceiling_tok_s, 100.0, max_relative = 1e-9);
        assert!(p.estimate_tok_s <= p.ceiling_tok_s);
        // At depth the attention arithmetic adds 10 x 16384 x depth FLOPs.
        let deep = point(&machine(20.0, None), 10_000);
        approx::assert_relative_eq!(
            deep.flops_per_token,
            2e8 + 10.0 * 16384.0 * 1e4,
            max_relative = 1e-9
        );
    }

    #[test]
    fn depth_factors_add_their_terms_to_the_estimate_and_leave_the_ceiling() {
        let m = machine(1e3, None);
        let s = shape();
        let a = placement::assign(&s, &m, Placement::ALL);
        let f = DepthFactors {
            kv: 2.0,
            attn: 10.0,
        };
        let at = |depth, band: EtaBand| at_depth(&s, &m, &a, depth, KvOptions::default(), band);
        let plain = EtaBand::default();
        let fitted = EtaBand {
            depth: Some(f),
            ..plain
        };
        // Nothing changes at depth 0.
        assert_eq!(at(0, plain), at(0, fitted));
        let (p, q) = (at(10_000, plain), at(10_000, fitted));
        assert_eq!(p.ceiling_tok_s, q.ceiling_tok_s);
        // The added seconds: one more KV read at eta, and 10 x the attention
        // FLOPs (10 layers x 16384 x depth) at 1 TFLOP/s.
        let eta = m.primary().map_or(1.0, |d| d.eta);
        let kv_s = p.kv_bytes / 100e9 / eta;
        let attn_s = 10.0 * 10.0 * 16384.0 * 1e4 / 1e12;
        approx::assert_relative_eq!(
            1.0 / q.estimate_tok_s - 1.0 / p.estimate_tok_s,
            kv_s + attn_s,
            max_relative = 1e-9
        );
    }

    #[test]
    fn a_prompt_token_does_not_pay_for_the_output_head() {
        // A 262,144 x 1,000 head: every generated token multiplies it, a
        // prompt token does not (logits for the last prompt token only).
        let mut s = shape();
        s.output = Group::at_bpw(262_144.0 * 1000.0, 8.0);
        let m = machine(20.0, None);
        let a = placement::assign(&s, &m, Placement::ALL);
        let d = at_depth(&s, &m, &a, 0, KvOptions::default(), EtaBand::default());
        approx::assert_relative_eq!(
            d.flops_per_token,
            2e8 + 2.0 * 2.62144e8,
            max_relative = 1e-9
        );
        let p = crate::roofline::prefill::at_depth(&s, &m, 0, 512);
        approx::assert_relative_eq!(p.flops_per_token, 2e8, max_relative = 1e-9);
        assert_eq!(
            p.ceiling_tok_s,
            crate::roofline::prefill::at_depth(&shape(), &m, 0, 512).ceiling_tok_s
        );
    }

    #[test]
    fn a_calibration_replaces_eta_and_its_error_is_the_band() {
        let cal = Calibration {
            decode: DecodeTerms {
                mem_factor: 1.25,
                attn_factor: 0.0,
                per_head_position_s: 0.0,
                per_token_s: 1e-3,
                per_layer_s: 1e-4,
                per_vocab_row_s: 1e-6,
                kv_factor: None,
                types: Vec::new(),
            },
            prefill: None,
            decode_holdout_pct: 10.0,
            prefill_holdout_pct: None,
            points: 3,
            models: 3,
            source: "test".into(),
        };
        // An output head of 1,000 rows x 1,000 (1 MB): 101 MB read per token.
        let mut s = shape();
        s.output = Group::at_bpw(1e6, 8.0);
        let m = machine(1e6, Some(cal));
        let a = placement::assign(&s, &m, Placement::ALL);
        let p = at_depth(&s, &m, &a, 0, KvOptions::default(), EtaBand::default());
        // 1.25 x 1.01 ms + 1 ms + 10 x 0.1 ms + 1000 head rows x 1 us = 4.2625 ms.
        let want_s = 4.2625e-3;
        approx::assert_relative_eq!(p.estimate_tok_s, 1.0 / want_s, max_relative = 1e-5);
        approx::assert_relative_eq!(
            p.estimate_low_tok_s,
            1.0 / (want_s * 1.1),
            max_relative = 1e-5
        );
        approx::assert_relative_eq!(
            p.estimate_high_tok_s,
            1.0 / (want_s * 0.9),
            max_relative = 1e-5
        );
    }
}
