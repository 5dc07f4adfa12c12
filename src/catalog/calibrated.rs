//! A calibration saved with a hardware profile (`[calibration]` in its TOML):
//! the estimate's efficiency and overhead terms fitted by `rooftune calibrate`
//! on this machine's own measurements, with their held-out error. The terms'
//! meaning (what each multiplies) is defined once, in `roofline::estimate`.

use serde::{Deserialize, Serialize};

/// Decode estimate terms: seconds per token =
/// `mem_factor x memory time at full bandwidth + attn_factor x attention
/// arithmetic time at peak + per_token_s + per_layer_s x layers +
/// per_vocab_row_s x output-vocabulary rows`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeTerms {
    /// Multiplies the bytes-over-bandwidth time (1 / achieved share of bandwidth).
    pub mem_factor: f64,
    /// Multiplies the attention FLOPs at depth over the compute roof.
    pub attn_factor: f64,
    /// Fixed seconds per token (sampling, HTTP, graph build).
    pub per_token_s: f64,
    /// Seconds per layer per token (thread barriers, per-op dispatch).
    pub per_layer_s: f64,
    /// Seconds per output-vocabulary row per token (logits, softmax, sampler).
    pub per_vocab_row_s: f64,
}

/// Prefill estimate terms: seconds per prompt token =
/// `compute_factor x weight FLOPs over the roof + attn_factor x attention
/// FLOPs at depth over the roof + per_token_s + per_layer_token_s x layers`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefillTerms {
    /// Multiplies the weight-matmul time at the roof (1 / achieved share of peak).
    pub compute_factor: f64,
    /// Multiplies the attention arithmetic time at the roof.
    pub attn_factor: f64,
    /// Fixed seconds per prompt token.
    pub per_token_s: f64,
    /// Seconds per layer per prompt token.
    pub per_layer_token_s: f64,
}

/// A fit of both, with how well it predicts models it did not see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Decode terms.
    pub decode: DecodeTerms,
    /// Prefill terms (None when no prefill was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<PrefillTerms>,
    /// Leave-one-model-out error of decode, % (the largest over held-out points).
    pub decode_holdout_pct: f64,
    /// Leave-one-model-out error of prefill, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_holdout_pct: Option<f64>,
    /// Measurements fitted on.
    pub points: usize,
    /// Distinct models fitted on.
    pub models: usize,
    /// What it was fitted from and when.
    pub source: String,
}
