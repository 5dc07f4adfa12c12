//! Data types of stored weights and caches: bytes per element and per block.
//!
//! A leaf: nothing here imports from the rest of the crate, so the roofline's
//! KV and weight arithmetic can name a type without tying itself to one
//! runtime's catalog. [`ggml`] holds llama.cpp's block types (what a GGUF
//! stores); [`group`] holds MLX-style affine group quantization, whose cost
//! depends on the group size as well as the bits.

pub mod ggml;
pub mod group;

/// Bytes per element of a stored type, whatever runtime defines it.
pub trait ElementBytes {
    /// Average bytes one element occupies, scales and biases included.
    fn bytes_per_element(&self) -> f64;
}

impl ElementBytes for ggml::GgmlType {
    fn bytes_per_element(&self) -> f64 {
        self.type_size() as f64 / self.block_size() as f64
    }
}

/// The element type of a cache: one of llama.cpp's block types (`-ctk q8_0`)
/// or MLX-style group quantization (`--kv-bits 4 --kv-group-size 64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheDtype {
    /// A ggml type.
    Ggml(ggml::GgmlType),
    /// Affine group quantization.
    Group(group::GroupQuant),
}

impl CacheDtype {
    /// Average bytes per cached element, scales included.
    pub fn bytes_per_element(&self) -> f64 {
        match self {
            CacheDtype::Ggml(t) => ElementBytes::bytes_per_element(t),
            CacheDtype::Group(g) => g.bytes_per_element(),
        }
    }
}

impl From<ggml::GgmlType> for CacheDtype {
    fn from(t: ggml::GgmlType) -> Self {
        CacheDtype::Ggml(t)
    }
}

impl std::fmt::Display for CacheDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheDtype::Ggml(t) => write!(f, "{t}"),
            CacheDtype::Group(g) => write!(f, "{}bit-g{}", g.bits, g.group_size),
        }
    }
}

impl serde::Serialize for CacheDtype {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dtypes_cost_what_they_store() {
        let q8: CacheDtype = ggml::GgmlType::Q8_0.into();
        assert!((q8.bytes_per_element() - 34.0 / 32.0).abs() < 1e-12);
        let mlx4 = CacheDtype::Group(group::GroupQuant::mlx(4, 64));
        assert!((mlx4.bytes_per_element() - 0.5625).abs() < 1e-12);
        assert_eq!(mlx4.to_string(), "4bit-g64");
    }
}
