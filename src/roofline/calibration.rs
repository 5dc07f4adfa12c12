//! Calibrating the estimate band against published measurements.
//!
//! For each measurement, r = measured tok/s / estimated tok/s (with the
//! profile's eta and c). Within a platform family the band is the range of r;
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
    EtaBand {
        low: percentile(&s, q).min(1.0),
        high: percentile(&s, 1.0 - q).max(1.0),
    }
}

/// Fit every family with at least `min_rows` rows.
pub fn fit(rows: &[Row], min_rows: usize) -> BTreeMap<String, FamilyFit> {
    let mut by_family: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.estimate > 0.0 && r.measured > 0.0) {
        by_family
            .entry(r.family.clone())
            .or_default()
            .push(r.measured / r.estimate);
    }
    by_family
        .into_iter()
        .filter(|(_, r)| r.len() >= min_rows.max(2))
        .map(|(family, ratios)| {
            let n = ratios.len();
            let (mut err, mut inside) = (0.0, 0usize);
            for i in 0..n {
                let mut rest: Vec<f64> = ratios
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, r)| *r)
                    .collect();
                let b = band_of(&rest);
                let m = median(&mut rest);
                err += ((m - ratios[i]) / ratios[i]).abs();
                inside += usize::from(ratios[i] >= b.low && ratios[i] <= b.high);
            }
            let mut all = ratios.clone();
            let fit = FamilyFit {
                n,
                median_ratio: median(&mut all),
                band: band_of(&ratios),
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
        }
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
