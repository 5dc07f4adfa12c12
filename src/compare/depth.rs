//! Decode at depth, held out: how well the estimate's attention term predicts
//! published rows measured deep in the context.
//!
//! A row at depth `d` is paired with the shallowest rows of the same
//! hardware, model, quant and runtime (their mean; depth 0 for a llama-bench
//! sweep, a few hundred tokens for a series measured after short prompts).
//! The measured seconds per token there are kept (the estimate's depth-0 accuracy is the bands' business); what is
//! predicted is the fall from there:
//!
//!   s(d) = s(0) + kv_factor x (KV read time at full bandwidth / eta)
//!               + attn_factor x (attention FLOPs at d / compute roof)
//!
//! Both factors (how far the attention kernels fall short of reading the
//! cache at the weights' pace, and of the compute roof: `roofline::estimate`)
//! are fitted per family and runtime (`apple-silicon/llama.cpp`: one runtime's kernels
//! on one kind of chip) on the depth rows of the *other* models only (least
//! squares on relative error, >= 0), so every row is predicted held out: a
//! model's rows at other depths never help predict it. A family with no other
//! model's rows borrows the factor of all other models. The KV-bytes-only
//! prediction (the engine before the attention term) is reported beside it.

use super::calibration::{band_key, runtime_class};
use super::held_out::{by_family, error_pct, fit_per_family, fit_set, max_abs, mean_abs, Held};
use super::machine::AsDevice;
use crate::catalog::measurements::{MeasurementKind, PublishedMeasurement};
use crate::catalog::{Catalog, CatalogError};
use crate::roofline::decode::DepthFactors;
use crate::roofline::fit;
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::Machine;
use crate::roofline::placement::{self, Placement};
use crate::roofline::{estimate, prefill};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One depth row and what its fall is made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthRow {
    /// Hardware profile.
    pub hw: String,
    /// Model spec.
    pub model: String,
    /// Runtime as published.
    pub runtime: String,
    /// The family and runtime its attention factor is fitted within
    /// (`compare::calibration::band_key`).
    pub family: String,
    /// Depth, tokens.
    pub depth: u64,
    /// Depth of the shallow partner rows, tokens.
    pub depth_0: u64,
    /// Measured at the partners' depth, tok/s.
    pub measured_0_tok_s: f64,
    /// Measured at depth, tok/s.
    pub measured_tok_s: f64,
    /// Added KV read time per token at full bandwidth, times 1 / eta, seconds.
    pub kv_s: f64,
    /// Attention FLOPs per token at depth / compute roof, seconds.
    pub attn_roof_s: f64,
}

impl DepthRow {
    /// Seconds per token measured at the partners' depth and at depth.
    fn seconds(&self) -> (f64, f64) {
        (1.0 / self.measured_0_tok_s, 1.0 / self.measured_tok_s)
    }

    /// Predicted tok/s at depth with these factors.
    pub fn predict(&self, f: DepthFactors) -> f64 {
        let (s0, _) = self.seconds();
        1.0 / (s0 + f.kv * self.kv_s + f.attn * self.attn_roof_s)
    }
}

/// Held-out errors of one family's depth rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthSummary {
    /// Family and runtime.
    pub family: String,
    /// Rows.
    pub rows: usize,
    /// Models among them.
    pub models: usize,
    /// Mean absolute held-out error, %.
    pub mean_abs_pct: f64,
    /// Largest absolute held-out error, %.
    pub max_abs_pct: f64,
    /// Mean absolute error of the KV bytes alone, %.
    pub kv_only_mean_abs_pct: f64,
}

/// Per family: how well the held-out factors predict its rows.
pub fn summary(held: &[DepthHeldOut]) -> Vec<DepthSummary> {
    by_family(held, |h| h.row.family.as_str())
        .into_iter()
        .map(|(family, hs)| {
            let mut models: Vec<(&str, &str)> = hs
                .iter()
                .map(|h| (h.row.hw.as_str(), h.row.model.as_str()))
                .collect();
            models.sort_unstable();
            models.dedup();
            DepthSummary {
                family,
                rows: hs.len(),
                models: models.len(),
                mean_abs_pct: mean_abs(&hs, |h| h.error_pct),
                max_abs_pct: max_abs(&hs, |h| h.error_pct),
                kv_only_mean_abs_pct: mean_abs(&hs, |h| h.kv_only_error_pct),
            }
        })
        .collect()
}

/// A depth row predicted held out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthHeldOut {
    /// The row.
    pub row: DepthRow,
    /// DepthFactors fitted on the other models' rows.
    pub factors: DepthFactors,
    /// Predicted, tok/s.
    pub predicted_tok_s: f64,
    /// Signed error, % (positive = predicted too fast).
    pub error_pct: f64,
    /// With the KV bytes alone, tok/s.
    pub kv_only_tok_s: f64,
    /// Its signed error, %.
    pub kv_only_error_pct: f64,
}

/// Every plain row deeper than the shallowest row of the same hardware,
/// model, quant and runtime, paired with those shallowest rows.
pub fn rows(cat: &Catalog) -> Result<Vec<DepthRow>, CatalogError> {
    let plain: Vec<&PublishedMeasurement> = cat
        .measurements
        .iter()
        .filter(|m| m.kind == MeasurementKind::Plain)
        .collect();
    let same = |a: &PublishedMeasurement, b: &PublishedMeasurement| {
        a.hw == b.hw && a.model == b.model && a.quant == b.quant && a.runtime == b.runtime
    };
    let mut out = Vec::new();
    for m in &plain {
        let shallowest = plain
            .iter()
            .filter(|z| same(z, m))
            .map(|z| z.depth)
            .min()
            .unwrap_or(m.depth);
        if m.depth <= shallowest {
            continue;
        }
        // Several rows there (one post quoting two runs): their mean.
        let partners: Vec<f64> = plain
            .iter()
            .filter(|z| same(z, m) && z.depth == shallowest)
            .map(|z| z.tok_s)
            .collect();
        let zero = partners.iter().sum::<f64>() / partners.len() as f64;
        out.push(row(cat, m, shallowest, zero)?);
    }
    Ok(out)
}

fn row(
    cat: &Catalog,
    m: &PublishedMeasurement,
    depth_0: u64,
    zero_tok_s: f64,
) -> Result<DepthRow, CatalogError> {
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
        family: band_key(hw.family.as_str(), runtime_class(m.runtime.as_deref())),
        depth: m.depth,
        depth_0,
        measured_0_tok_s: zero_tok_s,
        measured_tok_s: m.tok_s,
        kv_s: (mem(m.depth) - mem(depth_0)) / eta.max(1e-9),
        attn_roof_s: (prefill::attn_flops(&shape, m.depth) - prefill::attn_flops(&shape, depth_0))
            / roof,
    })
}

/// The factors that best explain `rows`: least squares on the relative
/// error of seconds at depth, both >= 0, the KV factor alone on a tie (when
/// the rows cannot tell the terms apart, e.g. every model with the same query
/// heads per KV head, whose attention FLOPs are then a fixed multiple of its
/// KV bytes: arithmetic beyond the reads must show in the rows); zero
/// without rows.
pub fn fit_factors(rows: &[&DepthRow]) -> DepthFactors {
    let (kv, attn) = fit::two_factors(rows.iter().map(|r| {
        let (s0, sd) = r.seconds();
        (r.kv_s / sd, r.attn_roof_s / sd, 1.0 - s0 / sd)
    }));
    DepthFactors { kv, attn }
}

impl Held for DepthRow {
    fn hw(&self) -> &str {
        &self.hw
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn family(&self) -> &str {
        &self.family
    }
}

/// Per family and runtime: the factors fitted on all its depth rows, and how
/// many rows (computed once from the bundled measurements, as the bands are).
pub fn family_factors(cat: &Catalog) -> &'static BTreeMap<String, (DepthFactors, usize)> {
    static CELL: OnceLock<BTreeMap<String, (DepthFactors, usize)>> = OnceLock::new();
    CELL.get_or_init(|| fit_per_family(&rows(cat).unwrap_or_default(), fit_factors))
}

/// Each row predicted from a factor fitted on the other models' rows of its
/// family and runtime (of every family when its own has none).
pub fn held_out(rows: &[DepthRow]) -> Vec<DepthHeldOut> {
    rows.iter()
        .map(|r| {
            let f = fit_factors(&fit_set(rows, r));
            let predicted = r.predict(f);
            let kv_only = r.predict(DepthFactors::KV_ONLY);
            DepthHeldOut {
                row: r.clone(),
                factors: f,
                predicted_tok_s: predicted,
                error_pct: error_pct(predicted, r.measured_tok_s),
                kv_only_tok_s: kv_only,
                kv_only_error_pct: error_pct(kv_only, r.measured_tok_s),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row whose fall is exactly `f` times its two terms.
    fn row(
        model: &str,
        family: &str,
        s0: f64,
        kv_s: f64,
        attn_roof_s: f64,
        f: DepthFactors,
    ) -> DepthRow {
        DepthRow {
            hw: "h".into(),
            model: model.into(),
            runtime: "r".into(),
            family: family.into(),
            depth: 1000,
            depth_0: 0,
            measured_0_tok_s: 1.0 / s0,
            measured_tok_s: 1.0 / (s0 + f.kv * kv_s + f.attn * attn_roof_s),
            kv_s,
            attn_roof_s,
        }
    }

    const F: DepthFactors = DepthFactors {
        kv: 1.6,
        attn: 12.0,
    };

    #[test]
    fn shared_factors_are_recovered_and_predict_held_out_rows() {
        let rows = vec![
            row("a", "f/r", 0.05, 0.001, 0.002, F),
            row("b", "f/r", 0.02, 0.004, 0.0002, F),
            row("c", "f/r", 0.01, 0.0005, 0.003, F),
            row("d", "f/r", 0.03, 0.002, 0.0005, F),
        ];
        let fit = fit_factors(&rows.iter().collect::<Vec<_>>());
        approx::assert_relative_eq!(fit.kv, F.kv, max_relative = 1e-9);
        approx::assert_relative_eq!(fit.attn, F.attn, max_relative = 1e-9);
        for h in held_out(&rows) {
            assert!(h.error_pct.abs() < 1e-6, "{h:?}");
            assert!(h.kv_only_error_pct > 0.0, "KV alone predicts too fast");
        }
        // Neither factor goes below zero, whatever the rows say.
        let faster = row(
            "e",
            "f/r",
            0.05,
            0.01,
            0.001,
            DepthFactors {
                kv: -1.0,
                attn: 2.0,
            },
        );
        let f = fit_factors(&[&faster, &rows[0]]);
        assert!(f.kv >= 0.0 && f.attn >= 0.0, "{f:?}");
    }

    #[test]
    fn when_the_rows_cannot_tell_the_terms_apart_the_kv_factor_takes_the_fall() {
        // Attention FLOPs a fixed multiple of the KV bytes in every row (the
        // same query heads per KV head): either factor alone fits.
        let rows = [
            row(
                "a",
                "f/r",
                0.05,
                0.002,
                0.0001,
                DepthFactors { kv: 1.3, attn: 0.0 },
            ),
            row(
                "b",
                "f/r",
                0.02,
                0.006,
                0.0003,
                DepthFactors { kv: 1.3, attn: 0.0 },
            ),
        ];
        let f = fit_factors(&rows.iter().collect::<Vec<_>>());
        approx::assert_relative_eq!(f.kv, 1.3, max_relative = 1e-6);
        assert_eq!(f.attn, 0.0);
    }

    #[test]
    fn a_row_is_predicted_from_other_models_of_its_family() {
        // Model "a" runs attention at 30x the roof at both its depths; its own
        // other depth may not help predict it, nor model "c" of another family.
        let slow = DepthFactors {
            kv: 1.0,
            attn: 30.0,
        };
        let fast = DepthFactors {
            kv: 1.0,
            attn: 10.0,
        };
        let other = DepthFactors {
            kv: 1.0,
            attn: 50.0,
        };
        let rows = vec![
            row("a", "f/r", 0.05, 0.001, 0.002, slow),
            row("a", "f/r", 0.05, 0.002, 0.001, slow),
            row("b", "f/r", 0.02, 0.004, 0.001, fast),
            row("b", "f/r", 0.02, 0.001, 0.003, fast),
            row("c", "g/r", 0.01, 0.0005, 0.001, other),
        ];
        let held = held_out(&rows);
        for h in &held[..2] {
            approx::assert_relative_eq!(h.factors.attn, 10.0, max_relative = 1e-6);
            assert!(h.error_pct > 0.0, "b's factors predict a too fast");
        }
        // "b" is fitted on a's rows; "c", alone in its family, on all others.
        approx::assert_relative_eq!(held[2].factors.attn, 30.0, max_relative = 1e-6);
        assert!(held[4].factors.attn > 10.0 && held[4].factors.attn < 30.0);
        let s = summary(&held);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].family.as_str(), s[0].rows, s[0].models),
            ("f/r", 4, 2)
        );
        assert!(s[0].max_abs_pct >= s[0].mean_abs_pct);
    }

    #[test]
    fn published_depth_rows_are_found_with_their_shallow_partners() {
        let cat = Catalog::bundled().expect("catalog");
        let r = rows(cat).expect("rows");
        let has = |model: &str, depth: u64| r.iter().any(|x| x.model == model && x.depth == depth);
        assert!(has("glm-5.1", 5460), "{r:?}");
        assert!(has("gpt-oss-120b", 32768), "{r:?}");
        for x in &r {
            assert!(x.measured_tok_s < x.measured_0_tok_s, "{x:?}");
            assert!(x.kv_s > 0.0 && x.attn_roof_s > 0.0, "{x:?}");
        }
        // The KV bytes alone predict the rows too fast on the whole (a
        // single row can sit inside its benchmark's noise); held out, the
        // fitted factors explain the falls of each family better.
        let held = held_out(&r);
        let mean_kv_only =
            held.iter().map(|h| h.kv_only_error_pct).sum::<f64>() / held.len() as f64;
        assert!(mean_kv_only > 0.0, "{mean_kv_only}");
        // (A family with one model borrows every other family's factors: MLX's
        // one series falls at about its KV bytes' pace, slower than theirs.)
        for s in summary(&held).iter().filter(|s| s.models >= 2) {
            assert!(s.mean_abs_pct < s.kv_only_mean_abs_pct, "{s:?}");
        }
    }
}
