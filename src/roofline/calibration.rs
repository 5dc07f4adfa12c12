//! Calibrating the estimate band against published measurements.
//!
//! For each measurement, r = measured tok/s / estimated tok/s (with the
//! profile's eta and c, plus a cost per routed expert run per token, fitted
//! per family: on the M3 Ultra, llama.cpp Metal runs GLM-4.7-Flash, GLM-5.1
//! and Qwen3.5-122B-A10B at 17-37% of their ceilings where Llama-2-7B
//! reaches 42%, an added 40-64 us per routed expert per MoE layer per token,
//! while the MoE rows on DGX Spark (CUDA) need 0-5 us; without the term
//! Apple/llama.cpp's held-out error is 21%, with it 6%). Within a platform family the band is the range of r;
//! its honesty is judged leave-one-out: each row is predicted from a band and
//! a median fitted on the other rows only, and the held-out error and the
//! share of held-out rows inside their band are reported.

use super::decode::EtaBand;
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
    /// Routed experts run per token (`ModelShape::expert_dispatches`).
    pub expert_dispatches: f64,
}

/// The fit of one family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyFit {
    /// Rows used.
    pub n: usize,
    /// Median of r.
    pub median_ratio: f64,
    /// Band of r (min..=max over the rows), with the fitted cost per routed expert.
    pub band: EtaBand,
    /// Mean absolute % error of held-out predictions (median ratio from the other rows).
    pub holdout_mape_pct: f64,
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
/// least ten, else their range; it always contains 1 (the profile itself).
fn band_of(r: &[f64]) -> EtaBand {
    let mut s = r.to_vec();
    s.sort_by(f64::total_cmp);
    let q = if s.len() >= 10 { 0.1 } else { 0.0 };
    EtaBand::ratios(percentile(&s, q).min(1.0), percentile(&s, 1.0 - q).max(1.0))
}

/// The cost per routed expert that best explains what the rows measure
/// beyond their estimates: least squares on relative error,
/// min sum ((1/e + k x D - 1/m) x m)^2 over k >= 0, so
/// k = sum (1/m - 1/e) D m^2 / sum D^2 m^2 (0 without MoE rows).
pub fn per_expert_s(rows: &[&Row]) -> f64 {
    let (num, den) =
        rows.iter()
            .filter(|r| r.expert_dispatches > 0.0)
            .fold((0.0, 0.0), |(n, d), r| {
                let m2 = r.measured * r.measured;
                (
                    n + (1.0 / r.measured - 1.0 / r.estimate) * r.expert_dispatches * m2,
                    d + r.expert_dispatches * r.expert_dispatches * m2,
                )
            });
    if den > 0.0 {
        (num / den).max(0.0)
    } else {
        0.0
    }
}

/// r of each row with the expert term `k`.
fn ratios(rows: &[&Row], k: f64) -> Vec<f64> {
    let b = EtaBand::ratios(1.0, 1.0);
    let b = EtaBand {
        per_expert_s: k,
        ..b
    };
    rows.iter()
        .map(|r| r.measured / b.with_experts(r.estimate, r.expert_dispatches))
        .collect()
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
            let (mut err, mut inside) = (0.0, 0usize);
            for i in 0..n {
                let rest: Vec<&Row> = rows
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, r)| *r)
                    .collect();
                let k = per_expert_s(&rest);
                let mut r_rest = ratios(&rest, k);
                let r_i = ratios(&rows[i..=i], k)[0];
                let b = band_of(&r_rest);
                let m = median(&mut r_rest);
                err += ((m - r_i) / r_i).abs();
                inside += usize::from(r_i >= b.low && r_i <= b.high);
            }
            let k = per_expert_s(&rows);
            let mut all = ratios(&rows, k);
            let fit = FamilyFit {
                n,
                band: EtaBand {
                    per_expert_s: k,
                    ..band_of(&all)
                },
                median_ratio: median(&mut all),
                holdout_mape_pct: 100.0 * err / n as f64,
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
            expert_dispatches: 0.0,
        }
    }

    #[test]
    fn a_cost_per_routed_expert_is_recovered_and_narrows_the_band() {
        // Dense rows on the estimate; MoE rows slower by 50 us per routed expert.
        let k = 50e-6;
        let moe = |est: f64, d: f64| Row {
            expert_dispatches: d,
            measured: 1.0 / (1.0 / est + k * d),
            ..row("a", 0.0, est)
        };
        let rows = vec![
            row("a", 100.0, 100.0),
            row("a", 50.0, 50.0),
            row("a", 20.0, 20.0),
            moe(60.0, 600.0),
            moe(30.0, 184.0),
            moe(120.0, 384.0),
        ];
        let refs: Vec<&Row> = rows.iter().collect();
        approx::assert_relative_eq!(per_expert_s(&refs), k, max_relative = 1e-9);
        let f = &fit(&rows, 3)["a"];
        approx::assert_relative_eq!(f.band.per_expert_s, k, max_relative = 1e-9);
        assert!(f.holdout_mape_pct < 1e-6, "{f:?}");
        assert!((f.band.low - 1.0).abs() < 1e-9 && (f.band.high - 1.0).abs() < 1e-9);
        // The term never goes negative: rows faster than their estimate give 0.
        let fast = [Row {
            expert_dispatches: 100.0,
            ..row("b", 200.0, 100.0)
        }];
        assert_eq!(per_expert_s(&fast.iter().collect::<Vec<_>>()), 0.0);
        // The estimate with the term: 1 / (1/60 + 50e-6 x 600) tok/s.
        approx::assert_relative_eq!(
            f.band.with_experts(60.0, 600.0),
            1.0 / (1.0 / 60.0 + 0.03),
            max_relative = 1e-12
        );
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
