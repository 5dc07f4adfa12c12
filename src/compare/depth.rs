//! Decode at depth, held out: how well the estimate's attention term predicts
//! published rows measured deep in the context.
//!
//! A row at depth `d` is paired with the rows of the same hardware, model,
//! quant and runtime at depth 0 (their mean). The measured seconds per token at depth 0
//! are kept (the estimate's depth-0 accuracy is the bands' business); what is
//! predicted is the fall from there:
//!
//!   s(d) = s(0) + mem_factor x (KV read time at full bandwidth)
//!               + attn_factor x (attention FLOPs at d / compute roof)
//!
//! `mem_factor` is the profile's 1 / eta; `attn_factor` (the share of the
//! compute roof the attention kernels miss, `roofline::estimate`) is fitted
//! on the *other* depth rows only (least squares on relative error, >= 0),
//! so every row is predicted held out. The KV-bytes-only prediction (the
//! engine before the attention term) is reported beside it.

use super::machine::AsDevice;
use crate::catalog::measurements::{MeasurementKind, PublishedMeasurement};
use crate::catalog::{Catalog, CatalogError};
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::Machine;
use crate::roofline::placement::{self, Placement};
use crate::roofline::{estimate, prefill};
use serde::Serialize;

/// One depth row and what its fall is made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthRow {
    /// Hardware profile.
    pub hw: String,
    /// Model spec.
    pub model: String,
    /// Runtime as published.
    pub runtime: String,
    /// Depth, tokens.
    pub depth: u64,
    /// Measured at depth 0, tok/s.
    pub measured_0_tok_s: f64,
    /// Measured at depth, tok/s.
    pub measured_tok_s: f64,
    /// Added KV read time per token at full bandwidth, times 1 / eta, seconds.
    pub kv_s: f64,
    /// Attention FLOPs per token at depth / compute roof, seconds.
    pub attn_roof_s: f64,
}

impl DepthRow {
    /// Seconds per token measured at depth 0 and at depth.
    fn seconds(&self) -> (f64, f64) {
        (1.0 / self.measured_0_tok_s, 1.0 / self.measured_tok_s)
    }

    /// Predicted tok/s at depth with an attention factor.
    pub fn predict(&self, attn_factor: f64) -> f64 {
        let (s0, _) = self.seconds();
        1.0 / (s0 + self.kv_s + attn_factor * self.attn_roof_s)
    }
}

/// A depth row predicted held out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthHeldOut {
    /// The row.
    pub row: DepthRow,
    /// Attention factor fitted on the other rows.
    pub attn_factor: f64,
    /// Predicted, tok/s.
    pub predicted_tok_s: f64,
    /// Signed error, % (positive = predicted too fast).
    pub error_pct: f64,
    /// With the KV bytes alone, tok/s.
    pub kv_only_tok_s: f64,
    /// Its signed error, %.
    pub kv_only_error_pct: f64,
}

/// Every plain row at depth > 0 that has a depth-0 partner.
pub fn rows(cat: &Catalog) -> Result<Vec<DepthRow>, CatalogError> {
    let plain: Vec<&PublishedMeasurement> = cat
        .measurements
        .iter()
        .filter(|m| m.kind == MeasurementKind::Plain)
        .collect();
    let mut out = Vec::new();
    for m in plain.iter().filter(|m| m.depth > 0) {
        let partners: Vec<f64> = plain
            .iter()
            .filter(|z| {
                z.depth == 0
                    && z.hw == m.hw
                    && z.model == m.model
                    && z.quant == m.quant
                    && z.runtime == m.runtime
            })
            .map(|z| z.tok_s)
            .collect();
        if partners.is_empty() {
            continue;
        }
        // Several depth-0 rows (one post quoting two runs): their mean.
        let zero = partners.iter().sum::<f64>() / partners.len() as f64;
        out.push(row(cat, m, zero)?);
    }
    Ok(out)
}

fn row(cat: &Catalog, m: &PublishedMeasurement, zero_tok_s: f64) -> Result<DepthRow, CatalogError> {
    let hw = cat.hardware(&m.hw)?;
    let shape = cat.model(&m.model)?.shape(&cat.quant(&m.quant)?);
    let dev = hw.device(hw.name.clone());
    let eta = dev.eta;
    let machine = Machine::single(dev);
    let a = placement::assign(&shape, &machine, Placement::ALL);
    let opts = KvOptions::default();
    let mem = |d| {
        let (weights_s, kv_s) = estimate::memory_s(&shape, &machine, &a, d, opts);
        weights_s + kv_s
    };
    let roof = estimate::peak_ops(&shape, &machine);
    Ok(DepthRow {
        hw: m.hw.clone(),
        model: m.model.clone(),
        runtime: m.runtime.clone().unwrap_or_default(),
        depth: m.depth,
        measured_0_tok_s: zero_tok_s,
        measured_tok_s: m.tok_s,
        kv_s: (mem(m.depth) - mem(0)) / eta.max(1e-9),
        attn_roof_s: (prefill::attn_flops(&shape, m.depth) - prefill::attn_flops(&shape, 0)) / roof,
    })
}

/// The attention factor that best explains `rows` (least squares on the
/// relative error of seconds at depth; never negative; 0 without rows).
pub fn fit_attn_factor(rows: &[&DepthRow]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for r in rows {
        let (s0, sd) = r.seconds();
        let x = r.attn_roof_s / sd;
        num += x * (1.0 - (s0 + r.kv_s) / sd);
        den += x * x;
    }
    if den > 0.0 {
        (num / den).max(0.0)
    } else {
        0.0
    }
}

/// Each row predicted from a factor fitted on the others.
pub fn held_out(rows: &[DepthRow]) -> Vec<DepthHeldOut> {
    let err = |pred: f64, r: &DepthRow| 100.0 * (pred / r.measured_tok_s - 1.0);
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let rest: Vec<&DepthRow> = rows
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, r)| r)
                .collect();
            let k = fit_attn_factor(&rest);
            let predicted = r.predict(k);
            let kv_only = r.predict(0.0);
            DepthHeldOut {
                row: r.clone(),
                attn_factor: k,
                predicted_tok_s: predicted,
                error_pct: err(predicted, r),
                kv_only_tok_s: kv_only,
                kv_only_error_pct: err(kv_only, r),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(s0: f64, kv_s: f64, attn_roof_s: f64, k: f64) -> DepthRow {
        DepthRow {
            hw: "h".into(),
            model: "m".into(),
            runtime: "r".into(),
            depth: 1000,
            measured_0_tok_s: 1.0 / s0,
            measured_tok_s: 1.0 / (s0 + kv_s + k * attn_roof_s),
            kv_s,
            attn_roof_s,
        }
    }

    #[test]
    fn a_shared_factor_is_recovered_and_predicts_held_out_rows() {
        let rows = vec![
            row(0.05, 0.001, 0.002, 12.0),
            row(0.02, 0.004, 0.0002, 12.0),
            row(0.01, 0.0005, 0.001, 12.0),
        ];
        approx::assert_relative_eq!(
            fit_attn_factor(&rows.iter().collect::<Vec<_>>()),
            12.0,
            max_relative = 1e-9
        );
        for h in held_out(&rows) {
            assert!(h.error_pct.abs() < 1e-6, "{h:?}");
            assert!(h.kv_only_error_pct > 0.0, "KV alone predicts too fast");
        }
    }

    #[test]
    fn published_depth_rows_are_found_with_their_depth_zero_partners() {
        let cat = Catalog::bundled().expect("catalog");
        let r = rows(cat).expect("rows");
        let has = |model: &str, depth: u64| r.iter().any(|x| x.model == model && x.depth == depth);
        assert!(has("glm-5.1", 5460), "{r:?}");
        assert!(has("gpt-oss-120b", 32768), "{r:?}");
        for x in &r {
            assert!(x.measured_tok_s < x.measured_0_tok_s, "{x:?}");
            assert!(x.kv_s > 0.0 && x.attn_roof_s > 0.0, "{x:?}");
        }
        // Held out, the attention term explains more of each fall than the
        // KV bytes alone (which predict every row too fast).
        for h in held_out(&r) {
            assert!(h.kv_only_error_pct > 0.0, "{h:?}");
            assert!(h.error_pct.abs() < h.kv_only_error_pct, "{h:?}");
        }
    }
}
