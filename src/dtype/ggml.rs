//! The ggml tensor types: block size and bytes per block, exactly as ggml's
//! `type_traits` table (checked against the built `libggml-base.so`, see
//! `docs/llama-cpp-facts.md` section 7) in `ggml/src/ggml.c` (llama.cpp b11434) defines them.
//!
//! Tensor bytes are computed from these, never estimated: a tensor of `n`
//! elements of type `t` occupies `n / block_size(t) * type_size(t)` bytes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A ggml tensor type. The discriminant is ggml's numeric id (`enum ggml_type`
/// in `ggml/include/ggml.h`), which is what a GGUF file stores.
#[allow(non_camel_case_types, missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
#[repr(u32)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
}

/// Every known type, in id order.
pub const ALL_TYPES: &[GgmlType] = &[
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q8_1,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::Q8_K,
    GgmlType::IQ2_XXS,
    GgmlType::IQ2_XS,
    GgmlType::IQ3_XXS,
    GgmlType::IQ1_S,
    GgmlType::IQ4_NL,
    GgmlType::IQ3_S,
    GgmlType::IQ2_S,
    GgmlType::IQ4_XS,
    GgmlType::I8,
    GgmlType::I16,
    GgmlType::I32,
    GgmlType::I64,
    GgmlType::F64,
    GgmlType::IQ1_M,
    GgmlType::BF16,
    GgmlType::TQ1_0,
    GgmlType::TQ2_0,
    GgmlType::MXFP4,
    GgmlType::NVFP4,
    GgmlType::Q1_0,
    GgmlType::Q2_0,
];

impl GgmlType {
    /// The type for a numeric id as stored in GGUF, if known.
    pub fn from_id(id: u32) -> Option<Self> {
        ALL_TYPES.iter().copied().find(|t| *t as u32 == id)
    }

    /// Numeric id (`enum ggml_type`).
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Elements per block (`blck_size` in ggml's type_traits).
    pub fn block_size(self) -> u64 {
        use GgmlType::*;
        match self {
            F32 | F16 | BF16 | F64 | I8 | I16 | I32 | I64 => 1,
            Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q8_1 | IQ4_NL | MXFP4 => 32,
            NVFP4 | Q2_0 => 64,
            Q1_0 => 128,
            Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | Q8_K | IQ2_XXS | IQ2_XS | IQ3_XXS | IQ1_S
            | IQ3_S | IQ2_S | IQ4_XS | IQ1_M | TQ1_0 | TQ2_0 => 256,
        }
    }

    /// Bytes per block (`type_size` in ggml's type_traits, i.e. `sizeof(block_xxx)`).
    pub fn type_size(self) -> u64 {
        use GgmlType::*;
        match self {
            F32 => 4,
            F16 | BF16 => 2,
            F64 | I64 => 8,
            I8 => 1,
            I16 => 2,
            I32 => 4,
            Q4_0 => 18,
            Q4_1 => 20,
            Q5_0 => 22,
            Q5_1 => 24,
            Q8_0 => 34,
            Q8_1 => 36,
            Q2_K => 84,
            Q3_K => 110,
            Q4_K => 144,
            Q5_K => 176,
            Q6_K => 210,
            Q8_K => 292,
            IQ2_XXS => 66,
            IQ2_XS => 74,
            IQ3_XXS => 98,
            IQ1_S => 50,
            IQ4_NL => 18,
            IQ3_S => 110,
            IQ2_S => 82,
            IQ4_XS => 136,
            IQ1_M => 56,
            TQ1_0 => 54,
            TQ2_0 => 66,
            MXFP4 => 17,
            NVFP4 => 36,
            Q1_0 | Q2_0 => 18,
        }
    }

    /// Bits per weight: `8 * type_size / block_size`.
    pub fn bits_per_weight(self) -> f64 {
        8.0 * self.type_size() as f64 / self.block_size() as f64
    }

    /// Bytes per element (may be fractional for block-quantized types).
    pub fn bytes_per_element(self) -> f64 {
        self.type_size() as f64 / self.block_size() as f64
    }

    /// Exact bytes of a tensor of `n_elements` of this type (whole blocks).
    pub fn tensor_bytes(self, n_elements: u64) -> u64 {
        n_elements.div_ceil(self.block_size()) * self.type_size()
    }

    /// ggml's name (`type_name` in type_traits), e.g. `q4_K`, `iq3_xxs`.
    pub fn ggml_name(self) -> &'static str {
        use GgmlType::*;
        match self {
            F32 => "f32",
            F16 => "f16",
            BF16 => "bf16",
            F64 => "f64",
            I8 => "i8",
            I16 => "i16",
            I32 => "i32",
            I64 => "i64",
            Q4_0 => "q4_0",
            Q4_1 => "q4_1",
            Q5_0 => "q5_0",
            Q5_1 => "q5_1",
            Q8_0 => "q8_0",
            Q8_1 => "q8_1",
            Q2_K => "q2_K",
            Q3_K => "q3_K",
            Q4_K => "q4_K",
            Q5_K => "q5_K",
            Q6_K => "q6_K",
            Q8_K => "q8_K",
            IQ2_XXS => "iq2_xxs",
            IQ2_XS => "iq2_xs",
            IQ3_XXS => "iq3_xxs",
            IQ1_S => "iq1_s",
            IQ4_NL => "iq4_nl",
            IQ3_S => "iq3_s",
            IQ2_S => "iq2_s",
            IQ4_XS => "iq4_xs",
            IQ1_M => "iq1_m",
            TQ1_0 => "tq1_0",
            TQ2_0 => "tq2_0",
            MXFP4 => "mxfp4",
            NVFP4 => "nvfp4",
            Q1_0 => "q1_0",
            Q2_0 => "q2_0",
        }
    }

    /// Whether llama-server accepts this as a KV cache type (`-ctk`/`-ctv`).
    pub fn is_kv_cache_type(self) -> bool {
        use GgmlType::*;
        matches!(
            self,
            F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_1 | IQ4_NL | Q5_0 | Q5_1
        )
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ggml_name())
    }
}

/// An unknown ggml type name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown ggml type `{0}` (known: f32, f16, bf16, q8_0, q6_k, q5_k, q4_k, q4_0, q3_k, q2_k, iq4_xs, iq3_xxs, iq2_xxs, mxfp4, ...)")]
pub struct UnknownType(pub String);

impl FromStr for GgmlType {
    type Err = UnknownType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let want = s.trim().to_ascii_lowercase();
        ALL_TYPES
            .iter()
            .copied()
            .find(|t| t.ggml_name().to_ascii_lowercase() == want)
            .ok_or_else(|| UnknownType(s.to_string()))
    }
}

impl From<GgmlType> for String {
    fn from(t: GgmlType) -> String {
        t.ggml_name().to_ascii_lowercase()
    }
}

impl TryFrom<String> for GgmlType {
    type Error = UnknownType;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn k_quant_bits_per_weight_match_ggml() {
        assert_relative_eq!(GgmlType::Q4_K.bits_per_weight(), 4.5);
        assert_relative_eq!(GgmlType::Q6_K.bits_per_weight(), 6.5625);
        assert_relative_eq!(GgmlType::Q8_0.bits_per_weight(), 8.5);
        assert_relative_eq!(GgmlType::IQ3_XXS.bits_per_weight(), 3.0625);
        assert_relative_eq!(GgmlType::IQ2_XXS.bits_per_weight(), 2.0625);
        assert_relative_eq!(GgmlType::MXFP4.bits_per_weight(), 4.25);
        assert_relative_eq!(GgmlType::IQ4_XS.bits_per_weight(), 4.25);
        assert_relative_eq!(GgmlType::Q2_K.bits_per_weight(), 2.625);
    }

    #[test]
    fn ids_round_trip_and_names_parse() {
        for t in ALL_TYPES {
            assert_eq!(GgmlType::from_id(t.id()), Some(*t));
            assert_eq!(t.ggml_name().parse::<GgmlType>().ok(), Some(*t));
            assert_eq!(
                t.ggml_name().to_uppercase().parse::<GgmlType>().ok(),
                Some(*t)
            );
        }
        assert!(GgmlType::from_id(4).is_none());
        assert!("q4_k_m".parse::<GgmlType>().is_err());
    }

    #[test]
    fn tensor_bytes_are_whole_blocks() {
        assert_eq!(GgmlType::Q8_0.tensor_bytes(4096), 4096 / 32 * 34);
        assert_eq!(GgmlType::F16.tensor_bytes(10), 20);
    }
}
