//! The estimate: what the roofline leaves out, as terms that scale with what
//! causes them. The ceiling (`decode`, `prefill`) is the time the memory or
//! the arithmetic alone takes; a real runtime adds
//!
//! - a shortfall on bandwidth (`mem_factor` = 1 / eta: prefetch, page walks,
//!   imperfect overlap);
//! - attention over the context, whose kernels reach a small share of the
//!   compute roof (`attn_factor` multiplies attention FLOPs at depth / roof):
//!   why decode at depth falls faster than the KV bytes explain;
//! - a fixed cost per token (`per_token_s`: sampling, HTTP, graph build);
//! - a cost per layer per token (`per_layer_s`: thread barriers and per-op
//!   dispatch, the same for a thin layer as for a wide one);
//! - a cost per output-vocabulary row per token (`per_vocab_row_s`: the
//!   logits copy, softmax and sampler walk every row: a 262,144-token head
//!   pays 1,000x what a 256-token one does).
//!
//! Each term is one feature ([`decode_features`], [`prefill_features`]) times
//! one coefficient; the same features are used to fit the coefficients
//! (`rooftune calibrate`) and to predict, so a fit means what it says.
//! Without a calibration the profile's eta and overhead give the first and
//! third terms and the others are zero.

use super::kv::{self, KvOptions};
use super::machine::Machine;
use super::placement::{kv_read_per_device, Assignment};
use super::prefill;
pub use crate::catalog::calibrated::{Calibration, DecodeTerms, PrefillTerms};
use crate::shape::ModelShape;

/// Number of decode features.
pub const DECODE_FEATURES: usize = 5;
/// Names of the decode features, in order (for reports).
pub const DECODE_FEATURE_NAMES: [&str; DECODE_FEATURES] = [
    "memory time at full bandwidth (s)",
    "attention FLOPs / roof (s)",
    "1 (per token)",
    "layers",
    "output-vocabulary rows",
];
/// Number of prefill features.
pub const PREFILL_FEATURES: usize = 4;

/// Attention FLOPs per generated token at `depth` (QK^T and AV over the cached tokens).
pub fn attn_flops(shape: &ModelShape, depth: u64) -> f64 {
    shape
        .layers
        .iter()
        .map(|l| l.attn_flops_per_ctx_token * kv::attended(&l.cache, depth) as f64)
        .sum()
}

/// The compute roof for this model's weights on the machine's primary device, op/s.
pub fn peak_ops(shape: &ModelShape, machine: &Machine) -> f64 {
    machine
        .primary()
        .map_or(f64::INFINITY, |d| d.peak_ops(shape.quantized_weights()))
}

/// Seconds per token reading every tier at full bandwidth.
pub fn memory_s(
    shape: &ModelShape,
    machine: &Machine,
    a: &Assignment,
    depth: u64,
    opts: KvOptions,
) -> f64 {
    let kv = kv_read_per_device(shape, a, depth, opts);
    machine
        .devices()
        .zip(&a.loads)
        .zip(&kv)
        .map(|((dev, load), kv_b)| (load.weights_read + kv_b) / (dev.bandwidth_gb_s * 1e9))
        .sum()
}

/// The decode features at `depth` (see [`DECODE_FEATURE_NAMES`]).
pub fn decode_features(
    shape: &ModelShape,
    machine: &Machine,
    a: &Assignment,
    depth: u64,
    opts: KvOptions,
) -> [f64; DECODE_FEATURES] {
    [
        memory_s(shape, machine, a, depth, opts),
        attn_flops(shape, depth) / peak_ops(shape, machine),
        1.0,
        shape.layers.len() as f64,
        shape.vocab as f64,
    ]
}

/// The decode terms as coefficients, in feature order.
pub fn decode_coefficients(t: &DecodeTerms) -> [f64; DECODE_FEATURES] {
    [
        t.mem_factor,
        t.attn_factor,
        t.per_token_s,
        t.per_layer_s,
        t.per_vocab_row_s,
    ]
}

/// Coefficients back into decode terms.
pub fn decode_terms(c: &[f64]) -> DecodeTerms {
    let at = |i: usize| c.get(i).copied().unwrap_or(0.0);
    DecodeTerms {
        mem_factor: at(0),
        attn_factor: at(1),
        per_token_s: at(2),
        per_layer_s: at(3),
        per_vocab_row_s: at(4),
    }
}

/// The prefill features per prompt token at `depth`: weight FLOPs / roof,
/// attention FLOPs / roof, 1, layers.
pub fn prefill_features(
    shape: &ModelShape,
    machine: &Machine,
    depth: u64,
) -> [f64; PREFILL_FEATURES] {
    let peak = peak_ops(shape, machine);
    let attn = attn_flops(shape, depth);
    let weights = prefill::flops_per_token(shape, depth) - attn;
    [weights / peak, attn / peak, 1.0, shape.layers.len() as f64]
}

/// The prefill terms as coefficients, in feature order.
pub fn prefill_coefficients(t: &PrefillTerms) -> [f64; PREFILL_FEATURES] {
    [
        t.compute_factor,
        t.attn_factor,
        t.per_token_s,
        t.per_layer_token_s,
    ]
}

/// Coefficients back into prefill terms.
pub fn prefill_terms(c: &[f64]) -> PrefillTerms {
    let at = |i: usize| c.get(i).copied().unwrap_or(0.0);
    PrefillTerms {
        compute_factor: at(0),
        attn_factor: at(1),
        per_token_s: at(2),
        per_layer_token_s: at(3),
    }
}

/// Dot product of features and coefficients: seconds.
pub fn seconds(features: &[f64], coefficients: &[f64]) -> f64 {
    features.iter().zip(coefficients).map(|(f, c)| f * c).sum()
}

/// Calibrated decode seconds per token at `depth`, never faster than the ceiling.
pub fn decode_s(
    cal: &Calibration,
    shape: &ModelShape,
    machine: &Machine,
    a: &Assignment,
    depth: u64,
    opts: KvOptions,
    ceiling_s: f64,
) -> f64 {
    let f = decode_features(shape, machine, a, depth, opts);
    seconds(&f, &decode_coefficients(&cal.decode)).max(ceiling_s)
}

/// Calibrated prefill rate at `depth`, tok/s (None without prefill terms),
/// never above the prefill ceiling.
pub fn prefill_tok_s(
    cal: &Calibration,
    shape: &ModelShape,
    machine: &Machine,
    depth: u64,
    ubatch: u64,
) -> Option<f64> {
    let t = cal.prefill.as_ref()?;
    let s = seconds(
        &prefill_features(shape, machine, depth),
        &prefill_coefficients(t),
    );
    let ceiling = prefill::at_depth(shape, machine, depth, ubatch).ceiling_tok_s;
    (s > 0.0).then(|| (1.0 / s).min(ceiling))
}

/// Time to first token for a prompt of `n` tokens of which `cached` are
/// already in the cache (what the agentic replay compares with), from the
/// calibrated terms: the `n - cached` new tokens prefilled at the calibrated
/// rate at the mean depth they see, then one calibrated decode step at depth
/// `n`. None when the machine has no calibration with prefill terms.
pub fn ttft_s(
    shape: &ModelShape,
    machine: &Machine,
    n: u64,
    cached: u64,
    opts: KvOptions,
) -> Option<f64> {
    let cal = machine.primary()?.calibration.as_ref()?;
    let new = n.saturating_sub(cached.min(n));
    let a = super::placement::assign(shape, machine, super::placement::Placement::ALL);
    let step = super::decode::at_depth(
        shape,
        machine,
        &a,
        n,
        opts,
        super::decode::EtaBand::default(),
    )
    .estimate_tok_s;
    let prefill_s = if new == 0 {
        0.0
    } else {
        let mid = cached + new / 2;
        new as f64 / prefill_tok_s(cal, shape, machine, mid, opts.ubatch.min(new))?
    };
    Some(prefill_s + 1.0 / step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roofline::decode::tests::{machine, shape};

    fn calibrated() -> Calibration {
        Calibration {
            decode: DecodeTerms {
                mem_factor: 1.0,
                attn_factor: 0.0,
                per_token_s: 1e-3,
                per_layer_s: 0.0,
                per_vocab_row_s: 0.0,
            },
            // 1 ms per prompt token, whatever the depth: 1,000 tok/s.
            prefill: Some(PrefillTerms {
                compute_factor: 0.0,
                attn_factor: 0.0,
                per_token_s: 1e-3,
                per_layer_token_s: 0.0,
            }),
            decode_holdout_pct: 5.0,
            prefill_holdout_pct: Some(5.0),
            points: 4,
            models: 3,
            source: "test".into(),
        }
    }

    #[test]
    fn ttft_prefills_only_what_the_cache_misses() {
        let (s, m) = (shape(), machine(1e6, Some(calibrated())));
        let opts = KvOptions::default();
        let t = |cached| ttft_s(&s, &m, 1000, cached, opts).expect("calibrated");
        let a = super::super::placement::assign(&s, &m, super::super::placement::Placement::ALL);
        let step = super::super::decode::at_depth(
            &s,
            &m,
            &a,
            1000,
            opts,
            super::super::decode::EtaBand::default(),
        )
        .estimate_tok_s;
        // 1,000 new tokens at 1,000 tok/s, then one decode step at depth 1,000.
        approx::assert_relative_eq!(t(0), 1.0 + 1.0 / step, max_relative = 1e-9);
        approx::assert_relative_eq!(t(600), 0.4 + 1.0 / step, max_relative = 1e-9);
        // All cached: only the decode step; more cached than the prompt is the same.
        approx::assert_relative_eq!(t(1000), 1.0 / step, max_relative = 1e-9);
        approx::assert_relative_eq!(t(5000), 1.0 / step, max_relative = 1e-9);
        // Without prefill terms there is no calibrated TTFT.
        let mut bare = calibrated();
        bare.prefill = None;
        assert!(ttft_s(&s, &machine(1e6, Some(bare)), 1000, 0, opts).is_none());
    }
}
