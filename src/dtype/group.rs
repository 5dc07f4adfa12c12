//! Affine group quantization as MLX stores it (`mx.quantize`): each group of
//! `group_size` consecutive elements keeps `bits`-bit integers plus one scale
//! and one bias in the model's float type (16-bit by default).
//!
//! Source: mlx `python/mlx/nn/layers/quantized.py` and mlx-lm
//! `models/cache.py` (`QuantizedKVCache`, `--kv-bits 4 --kv-group-size 64`):
//! 4-bit with group 64 costs 4 + 2 x 16 / 64 = 4.5 bits per element.

use super::ElementBytes;
use serde::{Deserialize, Serialize};

/// One group-quantized type: `bits` per element, a scale and a bias per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupQuant {
    /// Bits per quantized element (2, 3, 4, 5, 6 or 8 in MLX).
    pub bits: u32,
    /// Elements sharing one scale and bias (32, 64 or 128 in MLX).
    pub group_size: u32,
    /// Bits of each scale and each bias (16 for float16/bfloat16 scales).
    pub scale_bits: u32,
}

impl GroupQuant {
    /// MLX's default layout for `bits` and `group_size`: 16-bit scale and bias.
    pub fn mlx(bits: u32, group_size: u32) -> GroupQuant {
        GroupQuant {
            bits,
            group_size,
            scale_bits: 16,
        }
    }

    /// Bits per element, scale and bias shared over the group.
    pub fn bits_per_element(&self) -> f64 {
        self.bits as f64 + 2.0 * self.scale_bits as f64 / self.group_size.max(1) as f64
    }
}

impl ElementBytes for GroupQuant {
    fn bytes_per_element(&self) -> f64 {
        self.bits_per_element() / 8.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn mlx_four_bit_group_64_is_4_5_bits() {
        let q = GroupQuant::mlx(4, 64);
        assert_relative_eq!(q.bits_per_element(), 4.5);
        assert_relative_eq!(q.bytes_per_element(), 0.5625);
        assert_relative_eq!(GroupQuant::mlx(8, 32).bits_per_element(), 9.0);
    }

    #[test]
    fn ggml_bytes_per_element() {
        use crate::dtype::ggml::GgmlType;
        assert_relative_eq!(GgmlType::Q8_0.bytes_per_element(), 34.0 / 32.0);
        assert_relative_eq!(GgmlType::F16.bytes_per_element(), 2.0);
    }
}
