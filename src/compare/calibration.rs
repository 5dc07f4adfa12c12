//! Published measurements next to the engine's numbers for them: the check
//! that no plain-decode figure beats its ceiling, and the per-family estimate
//! band calibrated on them.

use super::machine::AsDevice;
use crate::catalog::measurements::{MeasurementKind, PublishedMeasurement};
use crate::catalog::{Catalog, CatalogError};
use crate::roofline::calibration::{self, FamilyFit, Row};
use crate::roofline::decode::{self, DecodePoint, EtaBand};
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::Machine;
use crate::roofline::placement::{self, Placement};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The runtime class of a published row (`llama.cpp`, `mlx`, `other`): the
/// estimate band is fitted per platform family and runtime, because one chip
/// runs MLX and llama.cpp at different shares of its bandwidth.
pub fn runtime_class(runtime: Option<&str>) -> &'static str {
    match runtime.map(str::to_lowercase) {
        Some(r) if r.starts_with("llama.cpp") => "llama.cpp",
        Some(r) if r.starts_with("mlx") => "mlx",
        _ => "other",
    }
}

/// The key a band is fitted under: `apple-silicon/mlx`.
pub fn band_key(family: &str, runtime: &str) -> String {
    format!("{family}/{runtime}")
}

/// A measurement with the engine's decode point for the same hardware, model, quant and depth.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The published figure.
    pub measurement: PublishedMeasurement,
    /// Platform family of its hardware.
    pub family: String,
    /// The engine's prediction (spec bandwidth, profile eta).
    pub point: DecodePoint,
    /// Routed experts run per token (`ModelShape::expert_dispatches`).
    pub expert_dispatches: f64,
}

impl Checked {
    /// Measured as a share of the plain-decode ceiling. Drafted decoding
    /// (speculative, prompt lookup) may pass it legitimately: it checks
    /// several tokens per read of the weights. A plain row above it would be
    /// a bug in the ceiling, which `published` and the property tests check.
    pub fn pct_of_ceiling(&self) -> f64 {
        100.0 * self.measurement.tok_s / self.point.ceiling_tok_s
    }
}

/// Evaluate every published measurement against the engine.
pub fn check_all(cat: &Catalog) -> Result<Vec<Checked>, CatalogError> {
    cat.measurements.iter().map(|m| check(cat, m)).collect()
}

/// Evaluate one measurement (whole model on one device of its profile).
pub fn check(cat: &Catalog, m: &PublishedMeasurement) -> Result<Checked, CatalogError> {
    let hw = cat.hardware(&m.hw)?;
    let spec = cat.model(&m.model)?;
    let quant = cat.quant(&m.quant)?;
    let shape = spec.shape(&quant);
    let machine = Machine::single(hw.device(hw.name.clone()));
    let a = placement::assign(&shape, &machine, Placement::ALL);
    let point = decode::at_depth(
        &shape,
        &machine,
        &a,
        m.depth,
        KvOptions::default(),
        EtaBand::default(),
    );
    Ok(Checked {
        measurement: m.clone(),
        family: hw.family.as_str().to_string(),
        point,
        expert_dispatches: shape.expert_dispatches(),
    })
}

/// Calibrated estimate bands per family, from the plain-decode rows at depth 0
/// (computed once): the band is the runtime's efficiency with an empty cache;
/// how decode falls with depth is fitted apart (`compare::depth`), so rows
/// measured deep in the context do not widen it.
///
/// Cached per process from the first catalog passed in: measurements only come
/// from the bundled data, which user profiles (the only other source) never change.
pub fn family_bands(cat: &Catalog) -> &'static BTreeMap<String, FamilyFit> {
    static CELL: OnceLock<BTreeMap<String, FamilyFit>> = OnceLock::new();
    CELL.get_or_init(|| {
        let rows: Vec<Row> = check_all(cat)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| {
                c.measurement.kind == MeasurementKind::Plain
                    && c.measurement.depth == 0
                    && c.measurement.band
            })
            .map(|c| Row {
                family: band_key(&c.family, runtime_class(c.measurement.runtime.as_deref())),
                measured: c.measurement.tok_s,
                estimate: c.point.estimate_tok_s,
                ceiling: c.point.ceiling_tok_s,
                expert_dispatches: c.expert_dispatches,
            })
            .collect();
        calibration::fit(&rows, 3)
    })
}

/// The band for a family on llama.cpp (the runtime rooftune serves), or the
/// default when it has too few measurements.
pub fn band_for(cat: &Catalog, family: &str) -> EtaBand {
    band_for_runtime(cat, family, "llama.cpp")
}

/// The band for a family and runtime class, or the default when it has too few measurements.
pub fn band_for_runtime(cat: &Catalog, family: &str, runtime: &str) -> EtaBand {
    family_bands(cat)
        .get(&band_key(family, runtime))
        .map_or(EtaBand::default(), |f| f.band)
}
