//! Published decode measurements that keep the engine honest
//! (`measurements/published-decode.toml`).

use serde::{Deserialize, Serialize};

/// How the measured tokens were produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeasurementKind {
    /// Plain autoregressive decode: must stay under the ceiling.
    Plain,
    /// Speculative decoding with a draft model.
    Speculative,
    /// Prompt-lookup (n-gram) decoding.
    PromptLookup,
}

/// One published decode figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedMeasurement {
    /// Hardware profile name.
    pub hw: String,
    /// Model spec name.
    pub model: String,
    /// Quantization (`--quant` syntax).
    pub quant: String,
    /// Context depth during decode, tokens.
    #[serde(default)]
    pub depth: u64,
    /// Measured decode rate, tokens/s.
    pub tok_s: f64,
    /// Plain, speculative or prompt-lookup.
    pub kind: MeasurementKind,
    /// Runtime (llama.cpp Metal, MLX, ...).
    #[serde(default)]
    pub runtime: Option<String>,
    /// Where it was published.
    pub source: String,
    /// Draft model for speculative rows.
    #[serde(default)]
    pub draft_model: Option<String>,
    /// Draft length for speculative rows.
    #[serde(default)]
    pub draft_len: Option<u32>,
    /// False when the figure could not be confirmed.
    #[serde(default = "yes")]
    pub verified: bool,
    /// Whether the row enters its family's estimate band (false for rows
    /// kept as depth rows' partners from a build the band does not describe;
    /// the note says why).
    #[serde(default = "yes")]
    pub band: bool,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
}

/// A published prefill (prompt processing) rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedPrefill {
    /// Hardware profile name.
    pub hw: String,
    /// Model spec name.
    pub model: String,
    /// Quantization.
    pub quant: String,
    /// Prompt tokens processed (0 when the source does not say: the check then
    /// uses depth 0, where the ceiling is highest).
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens already in the cache when the prompt starts (llama-bench's
    /// `pp N @ dD`): its tokens see depths `depth ..= depth + prompt_tokens`.
    #[serde(default)]
    pub depth: u64,
    /// Micro-batch (`-ub`) the rate was measured with.
    pub ubatch: u64,
    /// Prompt tokens per second.
    pub tok_s: f64,
    /// Runtime as published.
    #[serde(default)]
    pub runtime: Option<String>,
    /// Where the figure comes from.
    pub source: String,
    /// Whether the figure was read from its primary source.
    #[serde(default = "yes")]
    pub verified: bool,
    /// Anything the reader must know.
    #[serde(default)]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}
