//! A calibration saved with a hardware profile (`[calibration]` in its TOML):
//! the estimate's efficiency and overhead terms fitted by `rooftune calibrate`
//! on this machine's own measurements, with their held-out error. The terms'
//! meaning (what each multiplies) is defined once, in `roofline::estimate`.

use serde::{Deserialize, Serialize};

/// A factor fitted for the weights of one storage type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeFactor {
    /// The type (`q4_0`, `q6_K`, `f16`).
    pub name: String,
    /// Its bits per weight (a type without a factor takes the nearest one's).
    pub bits: f64,
    /// The factor.
    pub factor: f64,
    /// Decode: seconds per output-head row per token when the head is of
    /// this type (the matrix-vector kernel's cost per row: llama.cpp's
    /// repacked types pay almost none, the others several ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_row_s: Option<f64>,
}

/// Decode estimate terms: seconds per token =
/// `sum over weight types of (factor x their memory time at full bandwidth +
/// head_row_s x the output-head rows of that type) + kv_factor x the KV
/// cache's memory time + attn_factor x attention arithmetic time at peak +
/// per_head_position_s x query heads x cached tokens + per_token_s +
/// per_layer_s x layers` (layers in plain-layer graph operations:
/// `ModelShape::layer_equivalents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeTerms {
    /// Multiplies the bytes-over-bandwidth time (1 / achieved share of
    /// bandwidth) of all weights when `types` is empty (a calibration saved
    /// before per-type factors); otherwise the mean of `types`, for reading.
    pub mem_factor: f64,
    /// Multiplies the KV cache's bytes-over-bandwidth time (None: `mem_factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_factor: Option<f64>,
    /// Multiplies the attention FLOPs at depth over the compute roof.
    pub attn_factor: f64,
    /// Seconds per query head per cached token (0 in calibrations saved before it).
    #[serde(default)]
    pub per_head_position_s: f64,
    /// Fixed seconds per token (sampling, HTTP, graph build).
    pub per_token_s: f64,
    /// Seconds per layer per token (thread barriers, per-op dispatch), per
    /// plain layer's worth of graph operations (`ModelShape::layer_equivalents`).
    pub per_layer_s: f64,
    /// Seconds per output-vocabulary row per token (logits, softmax, sampler)
    /// when `types` is empty or a type has no `head_row_s`; otherwise the mean
    /// of theirs, for reading.
    pub per_vocab_row_s: f64,
    /// Per weight type: multiplies that type's bytes-over-bandwidth time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<TypeFactor>,
}

/// Prefill estimate terms: seconds per prompt token =
/// `sum over weight types of factor x the layers' weight FLOPs of that type
/// over the roof + attn_factor x attention FLOPs at depth over the roof +
/// per_token_s + per_layer_token_s x layers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefillTerms {
    /// Multiplies the weight-matmul time at the roof (1 / achieved share of
    /// peak) of all weights when `types` is empty; otherwise the mean of `types`.
    pub compute_factor: f64,
    /// Multiplies the attention arithmetic time at the roof.
    pub attn_factor: f64,
    /// Fixed seconds per prompt token.
    pub per_token_s: f64,
    /// Seconds per layer per prompt token.
    pub per_layer_token_s: f64,
    /// Per weight type: multiplies that type's weight-matmul time at the roof.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<TypeFactor>,
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
