//! Prefill, held out: how well two fitted factors predict published prompt
//! processing rates, and what the time to first token then uses.
//!
//! A prompt of `n` tokens started after `d` cached ones runs at the mean
//! depth `d + n / 2` its tokens see (the roofline's time per token is linear
//! in depth, so the mean of the times is the time at the mean depth):
//!
//!   s = weights x (dense weight FLOPs / compute roof)
//!     + experts x (routed expert FLOPs / compute roof)
//!     + attn x (attention FLOPs at the mean depth / compute roof)
//!
//! The factors are fitted per family and runtime on the rows of the *other*
//! models (non-negative least squares on relative error, `roofline::fit`),
//! so every row is predicted held out; a family with no other model borrows
//! the factors of all others. The scenario's default (half the
//! ceiling) is reported beside it.

use super::calibration::{band_key, runtime_class};
use super::held_out::{by_family, error_pct, fit_per_family, fit_set, max_abs, mean_abs, Held};
use super::machine::AsDevice;
use crate::catalog::measurements::PublishedPrefill;
use crate::catalog::{Catalog, CatalogError};
use crate::roofline::fit;
use crate::roofline::machine::Machine;
use crate::roofline::prefill::{self, PrefillFactors};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The share of the ceiling a prefill runs at without fitted factors
/// (`roofline::Scenario::prefill_eff`'s default).
pub const DEFAULT_SHARE: f64 = 0.5;

/// One published prefill rate and its two compute terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefillRow {
    /// Hardware profile.
    pub hw: String,
    /// Model spec.
    pub model: String,
    /// The family and runtime its factors are fitted within.
    pub family: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Tokens cached before the prompt.
    pub depth: u64,
    /// Measured, tok/s.
    pub measured_tok_s: f64,
    /// The ceiling at the mean depth, tok/s.
    pub ceiling_tok_s: f64,
    /// Dense weight FLOPs per token / compute roof, seconds.
    pub weights_roof_s: f64,
    /// Routed expert FLOPs per token / compute roof, seconds.
    pub experts_roof_s: f64,
    /// Attention FLOPs per token at the mean depth / compute roof, seconds.
    pub attn_roof_s: f64,
}

impl Held for PrefillRow {
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

impl PrefillRow {
    /// Predicted tok/s with these factors (never above the ceiling).
    pub fn predict(&self, f: PrefillFactors) -> f64 {
        let s = f.weights * self.weights_roof_s
            + f.experts * self.experts_roof_s
            + f.attn * self.attn_roof_s;
        if s > 0.0 {
            (1.0 / s).min(self.ceiling_tok_s)
        } else {
            self.ceiling_tok_s
        }
    }
}

/// Every published prefill row whose prompt length is known.
pub fn rows(cat: &Catalog) -> Result<Vec<PrefillRow>, CatalogError> {
    cat.prefill_measurements
        .iter()
        .filter(|m| m.prompt_tokens > 0)
        .map(|m| row(cat, m))
        .collect()
}

fn row(cat: &Catalog, m: &PublishedPrefill) -> Result<PrefillRow, CatalogError> {
    let hw = cat.hardware(&m.hw)?;
    let shape = cat.model(&m.model)?.shape(&cat.quant(&m.quant)?);
    let machine = Machine::single(hw.device(hw.name.clone()));
    let mean = m.depth + m.prompt_tokens / 2;
    let p = prefill::at_depth(&shape, &machine, mean, m.ubatch);
    let roof = p.compute_tok_s * p.flops_per_token;
    let (dense, experts, attn) = prefill::flops_split(&shape, mean);
    Ok(PrefillRow {
        hw: m.hw.clone(),
        model: m.model.clone(),
        family: band_key(hw.family.as_str(), runtime_class(m.runtime.as_deref())),
        prompt_tokens: m.prompt_tokens,
        depth: m.depth,
        measured_tok_s: m.tok_s,
        ceiling_tok_s: p.ceiling_tok_s,
        weights_roof_s: dense / roof,
        experts_roof_s: experts / roof,
        attn_roof_s: attn / roof,
    })
}

/// The factors that best explain `rows` (relative error of seconds per
/// token, all >= 0). A family without MoE rows leaves the experts' factor to
/// the dense weights' (the same matmuls, as far as its rows can tell).
pub fn fit_factors(rows: &[&PrefillRow]) -> PrefillFactors {
    let points: Vec<fit::Point> = rows
        .iter()
        .map(|r| fit::Point {
            group: r.model.clone(),
            depth: r.depth,
            features: vec![r.weights_roof_s, r.experts_roof_s, r.attn_roof_s],
            seconds: 1.0 / r.measured_tok_s,
            floor_s: 1.0 / r.ceiling_tok_s,
        })
        .collect();
    let c = fit::nnls(&points, 3);
    let moe = rows.iter().any(|r| r.experts_roof_s > 0.0);
    PrefillFactors {
        weights: c[0],
        experts: if moe { c[1] } else { c[0] },
        attn: c[2],
    }
}

/// A prefill row predicted held out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefillHeldOut {
    /// The row.
    pub row: PrefillRow,
    /// Factors fitted on the other models' rows.
    pub factors: PrefillFactors,
    /// Predicted, tok/s.
    pub predicted_tok_s: f64,
    /// Signed error, % (positive = predicted too fast).
    pub error_pct: f64,
    /// Signed error of [`DEFAULT_SHARE`] x the ceiling, %.
    pub default_error_pct: f64,
}

/// Each row predicted from the factors of the other models of its family and
/// runtime (of every family when its own has no other model).
pub fn held_out(rows: &[PrefillRow]) -> Vec<PrefillHeldOut> {
    rows.iter()
        .map(|r| {
            let f = fit_factors(&fit_set(rows, r));
            let predicted = r.predict(f);
            PrefillHeldOut {
                row: r.clone(),
                factors: f,
                predicted_tok_s: predicted,
                error_pct: error_pct(predicted, r.measured_tok_s),
                default_error_pct: error_pct(DEFAULT_SHARE * r.ceiling_tok_s, r.measured_tok_s),
            }
        })
        .collect()
}

/// Held-out errors of one family's prefill rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefillSummary {
    /// Family and runtime.
    pub family: String,
    /// Rows.
    pub rows: usize,
    /// Mean absolute held-out error, %.
    pub mean_abs_pct: f64,
    /// Largest absolute held-out error, %.
    pub max_abs_pct: f64,
    /// Mean absolute error of half the ceiling, %.
    pub default_mean_abs_pct: f64,
}

/// Per family: how well the held-out factors predict its rows.
pub fn summary(held: &[PrefillHeldOut]) -> Vec<PrefillSummary> {
    by_family(held, |h| h.row.family.as_str())
        .into_iter()
        .map(|(family, hs)| PrefillSummary {
            family,
            rows: hs.len(),
            mean_abs_pct: mean_abs(&hs, |h| h.error_pct),
            max_abs_pct: max_abs(&hs, |h| h.error_pct),
            default_mean_abs_pct: mean_abs(&hs, |h| h.default_error_pct),
        })
        .collect()
}

/// How much better than half the ceiling (its held-out mean error, as a
/// share of half the ceiling's) a family's factors must predict its rows to
/// be used: a margin, not a tie within the rows' noise.
pub const USE_BELOW: f64 = 0.9;

/// Whether a family's factors predict its rows well enough to be used.
pub fn worth_using(s: &PrefillSummary) -> bool {
    s.mean_abs_pct < USE_BELOW * s.default_mean_abs_pct
}

/// Per family and runtime whose rows the factors predict clearly better held
/// out than half the ceiling does ([`worth_using`]): the factors fitted on
/// all its rows, and how many rows.
pub fn family_factors(cat: &Catalog) -> &'static BTreeMap<String, (PrefillFactors, usize)> {
    static CELL: OnceLock<BTreeMap<String, (PrefillFactors, usize)>> = OnceLock::new();
    CELL.get_or_init(|| {
        let all = rows(cat).unwrap_or_default();
        let mut fits = fit_per_family(&all, fit_factors);
        let useful: Vec<String> = summary(&held_out(&all))
            .into_iter()
            .filter(worth_using)
            .map(|s| s.family)
            .collect();
        fits.retain(|family, _| useful.contains(family));
        fits
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, w: f64, e: f64, a: f64, f: PrefillFactors) -> PrefillRow {
        PrefillRow {
            hw: "h".into(),
            model: model.into(),
            family: "f/r".into(),
            prompt_tokens: 2048,
            depth: 0,
            measured_tok_s: 1.0 / (f.weights * w + f.experts * e + f.attn * a),
            ceiling_tok_s: 1.0 / (w + e + a),
            weights_roof_s: w,
            experts_roof_s: e,
            attn_roof_s: a,
        }
    }

    #[test]
    fn shared_factors_are_recovered_and_predict_held_out_rows() {
        let f = PrefillFactors {
            weights: 1.8,
            experts: 3.5,
            attn: 3.0,
        };
        let rows = vec![
            row("a", 1e-3, 0.0, 1e-4, f),
            row("b", 2e-4, 4e-4, 3e-4, f),
            row("c", 5e-4, 0.0, 5e-5, f),
            row("d", 1e-4, 6e-4, 1e-5, f),
            row("e", 3e-4, 2e-4, 2e-4, f),
            row("g", 6e-4, 1e-4, 4e-4, f),
        ];
        let fit = fit_factors(&rows.iter().collect::<Vec<_>>());
        approx::assert_relative_eq!(fit.weights, 1.8, max_relative = 1e-6);
        approx::assert_relative_eq!(fit.experts, 3.5, max_relative = 1e-6);
        approx::assert_relative_eq!(fit.attn, 3.0, max_relative = 1e-6);
        let held = held_out(&rows);
        for h in &held {
            assert!(h.error_pct.abs() < 1e-3, "{h:?}");
            assert!(h.predicted_tok_s <= h.row.ceiling_tok_s);
        }
        let s = summary(&held);
        assert_eq!(s.len(), 1);
        assert!(s[0].mean_abs_pct < s[0].default_mean_abs_pct);
    }

    #[test]
    fn published_prefill_rows_sit_under_their_ceilings_and_the_fit_is_used_where_it_helps() {
        let cat = Catalog::bundled().expect("catalog");
        let r = rows(cat).expect("rows");
        assert!(r.len() >= 60, "{}", r.len());
        for x in &r {
            assert!(x.measured_tok_s <= x.ceiling_tok_s, "{x:?}");
        }
        // Held out, the fitted factors explain Apple's rows better than half
        // the ceiling does, and only such a family's factors reach `predict`.
        let sums = summary(&held_out(&r));
        let apple = sums
            .iter()
            .find(|s| s.family == "apple-silicon/llama.cpp")
            .expect("apple rows");
        assert!(worth_using(apple), "{apple:?}");
        for s in &sums {
            let used = family_factors(cat).contains_key(&s.family);
            assert_eq!(used, worth_using(s), "{s:?}");
        }
    }
}
