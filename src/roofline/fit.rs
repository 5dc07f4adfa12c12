//! Fitting the estimate's terms: non-negative least squares on relative
//! error, validated leave-one-model-out.
//!
//! Each measurement is a point: its features (`estimate::decode_features` or
//! `prefill_features`) and the seconds per token measured. The fit minimises
//! the sum of squared *relative* errors (each row divided by its measured
//! seconds, so a fast small model weighs as much as a slow big one) with
//! every coefficient >= 0 (an efficiency or an overhead cannot be negative),
//! by the Lawson-Hanson active-set method on unit-norm columns (a handful of
//! features; a tiny ridge copes with collinear columns, e.g. a vocabulary
//! size every model shares).
//!
//! Held out: each model (group) in turn is left out, the terms are fitted on
//! the rest and its points predicted; the error of a point is
//! |measured rate / predicted rate - 1|.

use serde::Serialize;

/// Two non-negative coefficients `(a, b)` minimising the sum over rows
/// `(x1, x2, y)` of `(a x1 + b x2 - y)^2`: the unconstrained solution when
/// neither comes out negative, else the better of each alone. On a near-tie (collinear columns:
/// either alone fits as well) the first column alone wins, so the caller
/// puts the term it would rather believe first. (0, 0) without rows.
pub fn two_factors(rows: impl Iterator<Item = (f64, f64, f64)>) -> (f64, f64) {
    let (mut a11, mut a12, mut a22, mut b1, mut b2, mut yy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (x1, x2, y) in rows {
        a11 += x1 * x1;
        a12 += x1 * x2;
        a22 += x2 * x2;
        b1 += x1 * y;
        b2 += x2 * y;
        yy += y * y;
    }
    let residual = |(a, b): (f64, f64)| {
        yy - 2.0 * (a * b1 + b * b2) + a * a * a11 + 2.0 * a * b * a12 + b * b * a22
    };
    let mut candidates = Vec::new();
    // On unit-norm columns: one can be 30x smaller than the other and nearly parallel.
    if a11 > 0.0 && a22 > 0.0 {
        let (n1, n2) = (a11.sqrt(), a22.sqrt());
        let rho = a12 / (n1 * n2);
        let det = 1.0 - rho * rho;
        if det > 1e-9 {
            let (c1, c2) = (b1 / n1, b2 / n2);
            let ab = ((c1 - rho * c2) / det / n1, (c2 - rho * c1) / det / n2);
            if ab.0 >= 0.0 && ab.1 >= 0.0 {
                candidates.push(ab);
            }
        }
    }
    if a11 > 0.0 {
        candidates.push(((b1 / a11).max(0.0), 0.0));
    }
    if a22 > 0.0 {
        candidates.push((0.0, (b2 / a22).max(0.0)));
    }
    candidates.push((0.0, 0.0));
    let best = candidates
        .iter()
        .map(|c| residual(*c))
        .fold(f64::INFINITY, f64::min);
    let tie = 1e-9 * yy.max(f64::MIN_POSITIVE);
    candidates
        .into_iter()
        .find(|c| residual(*c) <= best + tie)
        .unwrap_or((0.0, 0.0))
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// The model it was measured on (the unit left out together).
    pub group: String,
    /// Context depth, tokens (for reports).
    pub depth: u64,
    /// Features, in the estimate's order.
    pub features: Vec<f64>,
    /// Measured seconds per token.
    pub seconds: f64,
    /// The least seconds per token any prediction may give: the point's
    /// ceiling (an estimate is never faster than it); 0 when unknown. A fit
    /// whose terms all miss a held-out point's features would otherwise
    /// predict it infinitely fast.
    pub floor_s: f64,
}

/// A held-out prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldOut {
    /// Model left out.
    pub group: String,
    /// Depth, tokens.
    pub depth: u64,
    /// Measured rate, tok/s.
    pub measured_tok_s: f64,
    /// Predicted from a fit without this model, tok/s.
    pub predicted_tok_s: f64,
    /// Relative error, % (signed: positive = predicted too fast).
    pub error_pct: f64,
}

/// The fit and its validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    /// Coefficients, in feature order, fitted on every point.
    pub coefficients: Vec<f64>,
    /// In-sample mean absolute error, %.
    pub in_sample_pct: f64,
    /// Held-out predictions (empty with fewer than two models).
    pub held_out: Vec<HeldOut>,
    /// Mean absolute held-out error, %.
    pub holdout_mean_pct: Option<f64>,
    /// Largest absolute held-out error, % (the estimate's band).
    pub holdout_max_pct: Option<f64>,
}

/// Non-negative least squares on relative error (Lawson-Hanson active set
/// on unit-norm columns; a column that is zero for every point stays 0).
pub fn nnls(points: &[Point], n: usize) -> Vec<f64> {
    let rows: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.seconds > 0.0 && p.seconds.is_finite())
        .map(|p| {
            (0..n)
                .map(|j| p.features.get(j).copied().unwrap_or(0.0) / p.seconds)
                .map(|x| if x.is_finite() { x } else { 0.0 })
                .collect()
        })
        .collect();
    let norms: Vec<f64> = (0..n)
        .map(|j| rows.iter().map(|f| f[j] * f[j]).sum::<f64>().sqrt())
        .collect();
    let a: Vec<Vec<f64>> = rows
        .iter()
        .map(|f| {
            (0..n)
                .map(|j| if norms[j] > 0.0 { f[j] / norms[j] } else { 0.0 })
                .collect()
        })
        .collect();
    let x = active_set(&a, n);
    (0..n)
        .map(|j| if norms[j] > 0.0 { x[j] / norms[j] } else { 0.0 })
        .collect()
}

/// min |A x - 1|^2 subject to x >= 0.
fn active_set(a: &[Vec<f64>], n: usize) -> Vec<f64> {
    const TOL: f64 = 1e-12;
    let mut x = vec![0.0; n];
    let mut passive = vec![false; n];
    let gradient = |x: &[f64]| -> Vec<f64> {
        let r: Vec<f64> = a
            .iter()
            .map(|row| 1.0 - row.iter().zip(x).map(|(v, k)| v * k).sum::<f64>())
            .collect();
        (0..n)
            .map(|j| a.iter().zip(&r).map(|(row, ri)| row[j] * ri).sum())
            .collect()
    };
    for _ in 0..(3 * n + 3) {
        let w = gradient(&x);
        let Some(j) = (0..n)
            .filter(|&j| !passive[j] && w[j] > TOL)
            .max_by(|&p, &q| w[p].total_cmp(&w[q]))
        else {
            break;
        };
        passive[j] = true;
        for _ in 0..(3 * n + 3) {
            let z = least_squares(a, n, &passive);
            if (0..n).filter(|&k| passive[k]).all(|k| z[k] > TOL) {
                x = z;
                break;
            }
            let alpha = (0..n)
                .filter(|&k| passive[k] && z[k] <= TOL)
                .map(|k| x[k] / (x[k] - z[k]))
                .fold(1.0f64, f64::min);
            for k in 0..n {
                x[k] += alpha * (z[k] - x[k]);
                if passive[k] && x[k] <= TOL {
                    passive[k] = false;
                    x[k] = 0.0;
                }
            }
        }
    }
    x
}

/// Unconstrained least squares on the passive columns (normal equations,
/// Gaussian elimination with partial pivoting and a tiny ridge for columns
/// that repeat one another).
fn least_squares(a: &[Vec<f64>], n: usize, passive: &[bool]) -> Vec<f64> {
    let idx: Vec<usize> = (0..n).filter(|&j| passive[j]).collect();
    let k = idx.len();
    let mut m = vec![vec![0.0; k + 1]; k];
    for (r, &jr) in idx.iter().enumerate() {
        for (c, &jc) in idx.iter().enumerate() {
            m[r][c] = a.iter().map(|row| row[jr] * row[jc]).sum();
        }
        m[r][r] += 1e-12;
        m[r][k] = a.iter().map(|row| row[jr]).sum();
    }
    for col in 0..k {
        let piv = (col..k)
            .max_by(|&p, &q| m[p][col].abs().total_cmp(&m[q][col].abs()))
            .unwrap_or(col);
        m.swap(col, piv);
        let d = m[col][col];
        if d.abs() < 1e-300 {
            continue;
        }
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / d;
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut z = vec![0.0; n];
    for (r, &j) in idx.iter().enumerate() {
        z[j] = if m[r][r].abs() > 1e-300 {
            m[r][k] / m[r][r]
        } else {
            0.0
        };
    }
    z
}

/// Predicted seconds for a point (never under its floor).
pub fn predict(c: &[f64], p: &Point) -> f64 {
    let s: f64 = p.features.iter().zip(c).map(|(f, k)| f * k).sum();
    s.max(p.floor_s)
}

/// Fit on every point and validate leaving one group out at a time.
pub fn fit(points: &[Point], n: usize) -> Fit {
    fit_filled(points, n, &|_, _| {})
}

/// [`fit`], where `fill` sets the coefficients of columns that no fitted
/// point has (all zero: e.g. a weight type only the held-out model uses)
/// from the others; it is given which columns the fitted points have.
pub fn fit_filled(points: &[Point], n: usize, fill: &dyn Fn(&mut [f64], &[bool])) -> Fit {
    let fitted = |rows: &[Point]| {
        let mut c = nnls(rows, n);
        let has: Vec<bool> = (0..n)
            .map(|j| {
                rows.iter()
                    .any(|p| p.features.get(j).is_some_and(|f| *f != 0.0))
            })
            .collect();
        fill(&mut c, &has);
        c
    };
    let coefficients = fitted(points);
    let rel = |pred_s: f64, p: &Point| 100.0 * (p.seconds / pred_s - 1.0);
    let in_sample_pct = mean(
        points
            .iter()
            .map(|p| rel(predict(&coefficients, p), p).abs()),
    );
    let mut groups: Vec<&str> = points.iter().map(|p| p.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut held_out = Vec::new();
    if groups.len() >= 2 {
        for g in &groups {
            let rest: Vec<Point> = points.iter().filter(|p| p.group != *g).cloned().collect();
            let c = fitted(&rest);
            for p in points.iter().filter(|p| p.group == *g) {
                let pred = predict(&c, p);
                held_out.push(HeldOut {
                    group: p.group.clone(),
                    depth: p.depth,
                    measured_tok_s: 1.0 / p.seconds,
                    predicted_tok_s: if pred > 0.0 {
                        1.0 / pred
                    } else {
                        f64::INFINITY
                    },
                    error_pct: rel(pred, p),
                });
            }
        }
    }
    let errs = || held_out.iter().map(|h| h.error_pct.abs());
    Fit {
        coefficients,
        in_sample_pct,
        holdout_mean_pct: (!held_out.is_empty()).then(|| mean(errs())),
        holdout_max_pct: errs().reduce(f64::max),
        held_out,
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_out_point_no_fitted_term_explains_is_predicted_at_its_floor() {
        // Model "b" is all in a column no other model has: held out, the
        // fit gives that column 0, and the prediction stops at b's ceiling.
        let pt = |g: &str, f: Vec<f64>, s: f64| Point {
            group: g.into(),
            depth: 0,
            features: f,
            seconds: s,
            floor_s: s / 2.0,
        };
        let pts = vec![
            pt("a", vec![1e-3, 0.0], 2e-3),
            pt("c", vec![2e-3, 0.0], 4e-3),
            pt("b", vec![0.0, 1e-3], 3e-3),
        ];
        let f = fit(&pts, 2);
        let b = f.held_out.iter().find(|h| h.group == "b").expect("b");
        assert!(b.predicted_tok_s.is_finite(), "{b:?}");
        approx::assert_relative_eq!(b.error_pct, 100.0, max_relative = 1e-9);
        assert!(f.holdout_max_pct.is_some_and(f64::is_finite));
    }

    /// Points made from known terms: 4 models x 3 depths, features like decode's.
    fn synthetic(truth: &[f64]) -> Vec<Point> {
        let mut pts = Vec::new();
        for (m, (mem_s, layers, vocab)) in [
            (0.002, 8.0, 256.0),
            (0.010, 32.0, 256.0),
            (0.005, 18.0, 262_144.0),
            (0.020, 24.0, 151_936.0),
        ]
        .into_iter()
        .enumerate()
        {
            for depth in [0u64, 2048, 4096] {
                let attn = 1e-9 * depth as f64 * layers;
                let features = vec![mem_s * (1.0 + depth as f64 / 1e4), attn, 1.0, layers, vocab];
                let seconds = features.iter().zip(truth).map(|(f, c)| f * c).sum();
                pts.push(Point {
                    group: format!("m{m}"),
                    depth,
                    features,
                    seconds,
                    floor_s: 0.0,
                });
            }
        }
        pts
    }

    #[test]
    fn recovers_known_terms_and_predicts_held_out_models() {
        let truth = [1.3, 20.0, 4e-4, 5e-5, 1e-8];
        let f = fit(&synthetic(&truth), 5);
        for (got, want) in f.coefficients.iter().zip(truth) {
            approx::assert_relative_eq!(*got, want, max_relative = 1e-4);
        }
        assert!(f.in_sample_pct < 1e-3);
        assert_eq!(f.held_out.len(), 12);
        assert!(
            f.holdout_max_pct.expect("held out") < 0.1,
            "{:?}",
            f.held_out
        );
    }

    #[test]
    fn a_column_only_the_held_out_model_has_is_filled() {
        // Column 0 is a type only model m0 has; m1..m3 use column 1 at the
        // same factor, so filling 0 from 1 predicts m0 exactly.
        let truth = [1.3, 1.3, 20.0, 4e-4, 5e-5, 1e-8];
        let mut pts = synthetic(&[1.3, 20.0, 4e-4, 5e-5, 1e-8]);
        for p in &mut pts {
            let mem = p.features[0];
            let typed = if p.group == "m0" {
                [mem, 0.0]
            } else {
                [0.0, mem]
            };
            p.features.splice(0..1, typed);
            p.seconds = p.features.iter().zip(&truth).map(|(f, c)| f * c).sum();
        }
        let unfilled = fit(&pts, 6);
        let m0 = |f: &Fit| {
            f.held_out
                .iter()
                .filter(|h| h.group == "m0")
                .map(|h| h.error_pct.abs())
                .fold(0.0, f64::max)
        };
        // Without a fill, m0's weights cost nothing when it is held out.
        assert!(m0(&unfilled) > 10.0, "{:?}", unfilled.held_out);
        let filled = fit_filled(&pts, 6, &|c, has| {
            if !has[0] {
                c[0] = c[1];
            }
        });
        assert!(m0(&filled) < 0.1, "{:?}", filled.held_out);
    }

    #[test]
    fn coefficients_stay_non_negative_and_errors_are_reported() {
        // The truth has a negative per-token term; the fit may not follow it.
        let mut pts = synthetic(&[1.0, 0.0, -1e-4, 1e-4, 0.0]);
        pts.iter_mut().for_each(|p| p.seconds = p.seconds.max(1e-4));
        let f = fit(&pts, 5);
        assert!(f.coefficients.iter().all(|c| *c >= 0.0));
        assert!(f.holdout_mean_pct.is_some());
        // One model alone: no held-out figure.
        let one: Vec<Point> = pts.into_iter().filter(|p| p.group == "m0").collect();
        assert!(fit(&one, 5).holdout_max_pct.is_none());
    }
}
