//! Calibrating the estimate against published measurements.
//!
//! For each measurement, r = measured tok/s / estimated tok/s (with the
//! profile's eta and c). The profiles' eta and c were fitted on dense models,
//! and routed (MoE) models run at a lower share of them: on the M3 Ultra,
//! llama.cpp runs Llama-2-7B within a few % of the profile, but GLM-4.7-Flash,
//! Qwen3.5-122B-A10B and GLM-5.1 at r = 0.44-0.55 (expert gathers with poor
//! locality, many small matrix products, routing). One ratio for both would
//! miss every MoE row by 80-125%. So within a platform family and runtime the
//! two classes are fitted apart:
//!
//! - dense: the band is the spread of the dense rows' r, always containing 1
//!   (the profile itself is the point estimate);
//! - MoE, when the family has at least two MoE rows: the point estimate is the
//!   profile's times the median r of the MoE rows, and the band their spread.
//!
//! A class with fewer than two rows falls back to all of the family's rows
//! (dense) or to the dense fit (MoE). Honesty is judged leave-one-out: each
//! row is predicted from the other rows only, and the held-out error (all
//! rows, and MoE rows alone) and the share of held-out rows inside their band
//! are reported.

use super::decode::{EtaBand, MoeBand};
use serde::Serialize;
use std::collections::BTreeMap;

/// One measurement next to the engine's numbers for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Platform family.
    pub family: String,
    /// Measured tok/s.
    pub measured: f64,
    /// Estimate with the profile's eta, tok/s.
    pub estimate: f64,
    /// Ceiling at spec bandwidth, tok/s.
    pub ceiling: f64,
    /// Whether the model routes to experts.
    pub moe: bool,
}

/// The fit of one family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyFit {
    /// Rows used.
    pub n: usize,
    /// Median of r.
    pub median_ratio: f64,
    /// Band of r (min..=max over the rows).
    pub band: EtaBand,
    /// MoE rows among them.
    pub moe_rows: usize,
    /// Mean absolute % error of held-out predictions (fitted on the other rows).
    pub holdout_mape_pct: f64,
    /// The same over the MoE rows alone (0 without any).
    pub holdout_moe_mape_pct: f64,
    /// Share of held-out rows inside the band fitted without them.
    pub holdout_coverage: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return 1.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Percentile (0..=1) of sorted values, by linear interpolation.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 1.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    let next = sorted[(i + 1).min(sorted.len() - 1)];
    sorted[i] + f * (next - sorted[i])
}

/// The band: the 10th to 90th percentile of the ratios when there are at
/// least ten, else their range; it always contains `center` (the point
/// estimate: 1 for the profile itself).
fn spread_of(r: &[f64], center: f64) -> (f64, f64) {
    let mut s = r.to_vec();
    s.sort_by(f64::total_cmp);
    let q = if s.len() >= 10 { 0.1 } else { 0.0 };
    (
        percentile(&s, q).min(center),
        percentile(&s, 1.0 - q).max(center),
    )
}

/// The fit on some rows of one family: r per row and whether it is MoE.
struct Model {
    ratios: Vec<(f64, bool)>,
}

impl Model {
    fn fit(rows: &[&Row]) -> Model {
        Model {
            ratios: rows
                .iter()
                .map(|r| (r.measured / r.estimate, r.moe))
                .collect(),
        }
    }

    fn class(&self, moe: bool) -> Vec<f64> {
        self.ratios
            .iter()
            .filter(|r| r.1 == moe)
            .map(|r| r.0)
            .collect()
    }

    fn all(&self) -> Vec<f64> {
        self.ratios.iter().map(|r| r.0).collect()
    }

    fn band(&self) -> EtaBand {
        let mut dense = self.class(false);
        if dense.len() < 2 {
            dense = self.all();
        }
        let (low, high) = spread_of(&dense, 1.0);
        let mut moe = self.class(true);
        let moe = (moe.len() >= 2).then(|| {
            let scale = median(&mut moe);
            let (low, high) = spread_of(&moe, scale);
            MoeBand { scale, low, high }
        });
        EtaBand { low, high, moe }
    }

    /// The point prediction for a row and its band, tok/s.
    fn predict(&self, r: &Row) -> (f64, (f64, f64)) {
        let b = self.band();
        match (r.moe, b.moe) {
            (true, Some(m)) => (
                r.estimate * m.scale,
                (r.estimate * m.low, r.estimate * m.high),
            ),
            _ => {
                let mut dense = self.class(false);
                let point = if dense.len() >= 2 {
                    median(&mut dense)
                } else {
                    median(&mut self.all())
                };
                (
                    r.estimate * point,
                    (r.estimate * b.low, r.estimate * b.high),
                )
            }
        }
    }
}

/// Fit every family with at least `min_rows` rows.
pub fn fit(rows: &[Row], min_rows: usize) -> BTreeMap<String, FamilyFit> {
    let mut by_family: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.estimate > 0.0 && r.measured > 0.0) {
        by_family.entry(r.family.clone()).or_default().push(r);
    }
    by_family
        .into_iter()
        .filter(|(_, r)| r.len() >= min_rows.max(2))
        .map(|(family, rows)| {
            let n = rows.len();
            let (mut err, mut moe_err, mut inside) = (0.0, 0.0, 0usize);
            for (i, held) in rows.iter().enumerate() {
                let rest: Vec<&Row> = rows
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, r)| *r)
                    .collect();
                let (point, (lo, hi)) = Model::fit(&rest).predict(held);
                let e = ((point - held.measured) / held.measured).abs();
                err += e;
                if held.moe {
                    moe_err += e;
                }
                inside += usize::from(held.measured >= lo && held.measured <= hi);
            }
            let all = Model::fit(&rows);
            let moe_rows = rows.iter().filter(|r| r.moe).count();
            let fit = FamilyFit {
                n,
                median_ratio: median(&mut all.all()),
                band: all.band(),
                moe_rows,
                holdout_mape_pct: 100.0 * err / n as f64,
                holdout_moe_mape_pct: 100.0 * moe_err / moe_rows.max(1) as f64,
                holdout_coverage: inside as f64 / n as f64,
            };
            (family, fit)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(f: &str, m: f64, e: f64) -> Row {
        Row {
            family: f.into(),
            measured: m,
            estimate: e,
            ceiling: e * 1.5,
            moe: false,
        }
    }

    fn moe(f: &str, m: f64, e: f64) -> Row {
        Row {
            moe: true,
            ..row(f, m, e)
        }
    }

    /// Dense rows on the profile, MoE rows at half of it: the MoE class gets
    /// its own point (0.5) and predicts held-out MoE rows exactly, where one
    /// ratio for both classes would miss them by about 100%.
    #[test]
    fn moe_rows_are_fitted_apart_from_dense_ones() {
        let rows = vec![
            row("a", 50.0, 50.0),
            row("a", 20.0, 20.0),
            row("a", 100.0, 100.0),
            row("a", 70.0, 70.0),
            moe("a", 30.0, 60.0),
            moe("a", 40.0, 80.0),
            moe("a", 15.0, 30.0),
        ];
        let f = &fit(&rows, 3)["a"];
        let m = f.band.moe.expect("three MoE rows");
        assert!((m.scale - 0.5).abs() < 1e-9 && (m.low - 0.5).abs() < 1e-9);
        assert_eq!(f.moe_rows, 3);
        assert!(f.holdout_moe_mape_pct < 1e-6, "{}", f.holdout_moe_mape_pct);
        assert!(f.holdout_mape_pct < 1e-6);
        assert!((f.holdout_coverage - 1.0).abs() < 1e-9);
        // One MoE row is not a class: it falls back to the dense fit.
        let few = fit(&rows[..5], 3);
        assert!(few["a"].band.moe.is_none());
        assert!((few["a"].holdout_moe_mape_pct - 100.0).abs() < 1e-6);
    }

    #[test]
    fn band_spans_ratios_and_holdout_is_honest() {
        let rows = vec![
            row("a", 90.0, 100.0),
            row("a", 110.0, 100.0),
            row("a", 100.0, 100.0),
            row("b", 1.0, 1.0),
        ];
        let fits = fit(&rows, 3);
        let a = &fits["a"];
        assert_eq!(a.n, 3);
        assert!((a.band.low - 0.9).abs() < 1e-9 && (a.band.high - 1.1).abs() < 1e-9);
        // Held out, the extremes fall outside the band of the others.
        assert!((a.holdout_coverage - 1.0 / 3.0).abs() < 1e-9);
        assert!(!fits.contains_key("b"));
    }
}
