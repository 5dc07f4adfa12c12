//! Decode: single-stream generation is memory-bound, every token re-reads
//! the active weights and the KV cache up to the current depth.
//!
//! ceiling tok/s = 1 / sum over tiers of (bytes read in tier / tier bandwidth)
//! estimate tok/s = 1 / (sum over tiers of bytes / (eta x bandwidth) + c)
//!
//! eta (achieved share of bandwidth) and c (fixed per-token overhead) come
//! from the hardware profile; the band scales eta by the spread seen across
//! published measurements (see `calibration`).

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
    /// Ceiling, tok/s.
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

/// Relative spread of eta: the estimate band is eta x low ..= eta x high.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EtaBand {
    /// Lower ratio (< 1).
    pub low: f64,
    /// Upper ratio (>= 1).
    pub high: f64,
}

impl Default for EtaBand {
    /// Without calibration data: +-25 %.
    fn default() -> Self {
        EtaBand {
            low: 0.75,
            high: 1.25,
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
    for ((dev, load), kv_b) in machine.devices().zip(&a.loads).zip(&kv) {
        let bytes = load.weights_read + kv_b;
        if bytes <= 0.0 {
            continue;
        }
        let bw = dev.bandwidth_gb_s * 1e9;
        let t = bytes / bw;
        ceiling_s += t;
        est += t / dev.eta;
        est_lo += t / (dev.eta * band.low).min(1.0);
        est_hi += t / (dev.eta * band.high).min(1.0);
        tiers.push(TierRead {
            device: dev.label.clone(),
            weight_bytes: load.weights_read,
            kv_bytes: *kv_b,
            ceiling_s: t,
        });
    }
    let c = machine.primary().map_or(0.0, |d| d.overhead_s);
    let rate = |s: f64| if s > 0.0 { 1.0 / s } else { f64::INFINITY };
    DecodePoint {
        depth,
        weight_bytes: a.loads.iter().map(|l| l.weights_read).sum(),
        kv_bytes: kv.iter().sum(),
        tiers,
        ceiling_tok_s: rate(ceiling_s),
        estimate_tok_s: rate(est + c),
        estimate_low_tok_s: rate(est_lo + c),
        estimate_high_tok_s: rate(est_hi + c).min(rate(ceiling_s)),
    }
}
