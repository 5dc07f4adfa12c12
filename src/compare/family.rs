//! What `predict` takes from a platform family's published rows: the decode
//! band and cost per routed expert (`calibration`), how decode falls with
//! depth (`depth`) and how fast prefill runs (`prefill`), each once the
//! family has enough rows to fit it.

use super::{calibration, depth, prefill};
use crate::catalog::Catalog;
use crate::roofline::decode::EtaBand;

/// The least depth rows a family needs before its factors replace the KV
/// bytes alone.
pub const MIN_DEPTH_ROWS: usize = 8;

/// The least prefill rows a family needs before its factors replace half the
/// ceiling in the time to first token.
pub const MIN_PREFILL_ROWS: usize = 8;

/// A family's llama.cpp band with its depth and prefill factors where it
/// has the rows for them.
pub fn band_for(cat: &Catalog, family: &str) -> EtaBand {
    band_for_runtime(cat, family, "llama.cpp")
}

/// The runtime class a model shape runs on: `mlx` for MLX quantizations and
/// directories, else `llama.cpp`.
pub fn runtime_of(shape: &crate::shape::ModelShape) -> &'static str {
    if shape.quant_label.to_ascii_lowercase().starts_with("mlx") {
        "mlx"
    } else {
        "llama.cpp"
    }
}

/// A family's band for a runtime class (`calibration::runtime_class`), with
/// that runtime's depth and prefill factors where it has the rows for them.
pub fn band_for_runtime(cat: &Catalog, family: &str, runtime: &str) -> EtaBand {
    let key = calibration::band_key(family, runtime);
    let band = calibration::band_for_runtime(cat, family, runtime);
    EtaBand {
        depth: depth::family_factors(cat)
            .get(&key)
            .filter(|(_, n)| *n >= MIN_DEPTH_ROWS)
            .map(|(f, _)| *f),
        prefill: prefill::family_factors(cat)
            .get(&key)
            .filter(|(_, n)| *n >= MIN_PREFILL_ROWS)
            .map(|(f, _)| *f),
        ..band
    }
}
