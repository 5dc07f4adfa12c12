//! Quantization schemes: a single ggml type, a llama-quantize style mix
//! (which tensor groups get which type), or a plain bits-per-weight figure
//! (MLX quants, "3.6-bit").

use crate::dtype::ggml::GgmlType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A tensor group, the unit a quantization mix assigns types to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorGroup {
    /// Token embedding table.
    TokenEmbd,
    /// Output head.
    Output,
    /// Attention projections (and linear-attention blocks).
    Attention,
    /// Dense FFN.
    FfnDense,
    /// Routed experts.
    Experts,
    /// Shared experts.
    SharedExperts,
    /// Norms and small vectors.
    Norms,
}

/// One part of a blend: a type and its share of the group's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlendPart {
    /// ggml type.
    #[serde(rename = "type")]
    pub ty: GgmlType,
    /// Share of the group's weights, 0..=1.
    pub share: f64,
}

/// A group's quantization: one type, or a blend of types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Blend {
    /// The whole group at one type.
    One(GgmlType),
    /// Shares of several types.
    Many(Vec<BlendPart>),
}

impl Blend {
    /// Average bits per weight of the blend.
    pub fn bits_per_weight(&self) -> f64 {
        match self {
            Blend::One(t) => t.bits_per_weight(),
            Blend::Many(parts) => {
                let total: f64 = parts.iter().map(|p| p.share).sum();
                parts
                    .iter()
                    .map(|p| p.share * p.ty.bits_per_weight())
                    .sum::<f64>()
                    / total.max(f64::MIN_POSITIVE)
            }
        }
    }
}

/// A named mix as written in `model-specs/quant-mixes.toml`. Unknown keys
/// are rejected too: they fail to parse as a [`TensorGroup`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixSpec {
    /// Where the recipe comes from.
    pub source: String,
    /// Plain bits per weight for every group (MLX-style); excludes the groups below.
    #[serde(default)]
    pub bpw: Option<f64>,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
    /// Calibrated rather than read from a recipe.
    #[serde(default)]
    pub calibrated: bool,
    /// False when the recipe could not be confirmed.
    #[serde(default = "yes")]
    pub verified: bool,
    /// Types per group.
    #[serde(flatten)]
    pub groups: BTreeMap<TensorGroup, Blend>,
}

fn yes() -> bool {
    true
}

/// What `--quant` resolved to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum QuantScheme {
    /// Every weight at one type, norms in f32.
    Uniform(GgmlType),
    /// A named per-group mix.
    Mix {
        /// Mix name.
        name: String,
        /// The recipe.
        spec: MixSpec,
    },
    /// A flat bits-per-weight figure.
    Bpw {
        /// Label.
        name: String,
        /// Bits per weight.
        bpw: f64,
    },
}

impl QuantScheme {
    /// Bits per weight for a tensor group.
    pub fn bits(&self, group: TensorGroup) -> f64 {
        match self {
            QuantScheme::Uniform(t) => {
                if group == TensorGroup::Norms {
                    32.0
                } else {
                    t.bits_per_weight()
                }
            }
            QuantScheme::Mix { spec, .. } => match spec.groups.get(&group) {
                Some(b) => b.bits_per_weight(),
                None if group == TensorGroup::Norms => 32.0,
                None => spec.bpw.unwrap_or(16.0),
            },
            QuantScheme::Bpw { bpw, .. } => {
                if group == TensorGroup::Norms {
                    16.0
                } else {
                    *bpw
                }
            }
        }
    }

    /// Short label.
    pub fn label(&self) -> String {
        match self {
            QuantScheme::Uniform(t) => t.ggml_name().to_ascii_lowercase(),
            QuantScheme::Mix { name, .. } | QuantScheme::Bpw { name, .. } => name.clone(),
        }
    }

    /// Whether the figure is a calibrated estimate rather than a recipe.
    pub fn is_calibrated(&self) -> bool {
        matches!(self, QuantScheme::Mix { spec, .. } if spec.calibrated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_averages_by_share() {
        let b = Blend::Many(vec![
            BlendPart {
                ty: GgmlType::Q4_K,
                share: 0.5,
            },
            BlendPart {
                ty: GgmlType::Q6_K,
                share: 0.5,
            },
        ]);
        assert!((b.bits_per_weight() - (4.5 + 6.5625) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn uniform_keeps_norms_f32() {
        let q = QuantScheme::Uniform(GgmlType::Q8_0);
        assert_eq!(q.bits(TensorGroup::Norms), 32.0);
        assert_eq!(q.bits(TensorGroup::Experts), 8.5);
    }
}
