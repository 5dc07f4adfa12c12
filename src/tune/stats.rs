//! Comparisons that are right under noise: intervals on log ratios of
//! paired measurements.
//!
//! Each server start that measures a configuration is a [`Block`]: the log
//! of the objective's performance for every repeat (a weighted sum of
//! `ln(value)` over the objective's terms, times negated, so a difference of
//! two blocks' means is the log of their score ratio). The defaults are not
//! one measurement but an estimate: every block of the defaults (the first,
//! the anchors, the re-runs, the race rounds) is evidence about them.
//!
//! - [`Noise`]: the measured noise: within a start (pooled over every block
//!   with two or more repeats) and between starts (from successive blocks of
//!   the defaults: the drift the anchors saw).
//! - [`paired`]: a candidate against the defaults measured nearest in time,
//!   as a t-interval on the log ratio (an empirical one over three or more
//!   pairs, else one whose width comes from the measured noise).
//! - [`drift`]: whether a re-measurement of the defaults moved beyond what
//!   the noise allows.
//! - [`race`]: a paired-t race (irace's F-race with its t-test variant)
//!   over interleaved rounds: contestants significantly worse than the best
//!   are dropped until the best is separated or the rounds run out.
//!
//! Pure functions of numbers, so their answers are tested against known
//! values (Student's t, scripted noise).

use serde::{Deserialize, Serialize};

/// One server start's measurement of one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Position in time (the trial id).
    pub seq: u64,
    /// Log performance of each repeat (higher is better).
    pub logs: Vec<f64>,
}

impl Block {
    /// Mean log performance (0 for an empty block).
    pub fn mean(&self) -> f64 {
        mean(&self.logs)
    }

    /// Repeats.
    pub fn n(&self) -> usize {
        self.logs.len()
    }
}

fn median(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// Sample variance (n - 1); 0 below two values.
fn var(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
}

/// The measured noise, in log units (0.1 is about 10%).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Noise {
    /// Standard deviation of one repeat within a server start (pooled).
    pub within_sd: f64,
    /// Degrees of freedom of `within_sd` (sum of n - 1 over blocks).
    pub within_df: usize,
    /// Standard deviation of a start's mean beyond the within-start noise,
    /// from successive blocks of the defaults (0 with fewer than two).
    pub between_sd: f64,
}

impl Noise {
    /// Pool the within-start noise of `all` blocks; the between-start noise
    /// from `defaults` in time order.
    pub fn measure(all: &[&Block], defaults: &[&Block]) -> Noise {
        let df: usize = all.iter().map(|b| b.n().saturating_sub(1)).sum();
        let ss: f64 = all
            .iter()
            .filter(|b| b.n() >= 2)
            .map(|b| var(&b.logs) * (b.n() - 1) as f64)
            .sum();
        let within_var = if df > 0 { ss / df as f64 } else { 0.0 };
        let mut d: Vec<&&Block> = defaults.iter().filter(|b| b.n() > 0).collect();
        d.sort_by_key(|b| b.seq);
        let between_var = if d.len() >= 2 {
            let terms: Vec<f64> = d
                .windows(2)
                .map(|w| {
                    let diff = w[1].mean() - w[0].mean();
                    let expected = within_var * (1.0 / w[0].n() as f64 + 1.0 / w[1].n() as f64);
                    (diff * diff - expected) / 2.0
                })
                .collect();
            mean(&terms).max(0.0)
        } else {
            0.0
        };
        Noise {
            within_sd: within_var.sqrt(),
            within_df: df,
            between_sd: between_var.sqrt(),
        }
    }

    /// Variance of the difference of two blocks' means with `n1` and `n2` repeats.
    fn diff_var(&self, n1: usize, n2: usize) -> f64 {
        let w = self.within_sd.powi(2);
        w * (1.0 / n1.max(1) as f64 + 1.0 / n2.max(1) as f64) + self.between_sd.powi(2)
    }
}

/// A two-sided interval on a mean log ratio (candidate over reference).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Mean log ratio.
    pub center: f64,
    /// Lower bound (log).
    pub lo: f64,
    /// Upper bound (log).
    pub hi: f64,
    /// Two-sided confidence (0.95).
    pub confidence: f64,
    /// Pairs (server starts of the candidate) behind it.
    pub pairs: usize,
    /// Probability that the candidate is better (log ratio > 0), from the
    /// t distribution of the estimate.
    pub p_better: f64,
}

impl Interval {
    /// From a mean, its standard error and degrees of freedom.
    pub fn from_t(center: f64, se: f64, df: f64, confidence: f64, pairs: usize) -> Interval {
        let t = t_quantile(0.5 + confidence / 2.0, df);
        let p_better = if se > 0.0 {
            t_cdf(center / se, df)
        } else if center > 0.0 {
            1.0
        } else if center < 0.0 {
            0.0
        } else {
            0.5
        };
        Interval {
            center,
            lo: center - t * se,
            hi: center + t * se,
            confidence,
            pairs,
            p_better,
        }
    }

    /// The interval as ratios: (low, center, high); 1.10 = 10% better.
    pub fn ratios(&self) -> (f64, f64, f64) {
        (self.lo.exp(), self.center.exp(), self.hi.exp())
    }

    /// Significantly better than the reference (the whole interval above 0).
    pub fn better(&self) -> bool {
        self.lo > 0.0
    }

    /// Significantly worse than the reference.
    pub fn worse(&self) -> bool {
        self.hi < 0.0
    }

    /// A label such as `+8.2% [+1.0%, +15.9%] (95%)`.
    pub fn label(&self) -> String {
        let (lo, c, hi) = self.ratios();
        let pct = |r: f64| format!("{:+.1}%", (r - 1.0) * 100.0);
        format!(
            "{} [{}, {}] ({:.0}%)",
            pct(c),
            pct(lo),
            pct(hi),
            self.confidence * 100.0
        )
    }
}

/// The defaults' block nearest in time to `seq` (the earlier on a tie).
pub fn nearest<'a>(defaults: &[&'a Block], seq: u64) -> Option<&'a Block> {
    defaults
        .iter()
        .filter(|b| b.n() > 0)
        .min_by_key(|b| (b.seq.abs_diff(seq), b.seq))
        .copied()
}

/// A candidate's blocks against the defaults measured nearest in time.
/// Three or more pairs: a paired t-interval over the pairs' differences
/// (the noise they show, drift included). Fewer: the differences' mean
/// with a width from the measured [`Noise`] (its pooled degrees of freedom).
/// None without a pair.
pub fn paired(
    candidate: &[&Block],
    defaults: &[&Block],
    noise: &Noise,
    confidence: f64,
) -> Option<Interval> {
    let pairs: Vec<(f64, f64)> = candidate
        .iter()
        .filter(|c| c.n() > 0)
        .filter_map(|c| {
            let d = nearest(defaults, c.seq)?;
            Some((c.mean() - d.mean(), noise.diff_var(c.n(), d.n())))
        })
        .collect();
    let k = pairs.len();
    if k == 0 {
        return None;
    }
    let diffs: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let center = mean(&diffs);
    if k >= 3 {
        let se = (var(&diffs) / k as f64).sqrt();
        return Some(Interval::from_t(center, se, (k - 1) as f64, confidence, k));
    }
    let model_var = pairs.iter().map(|p| p.1).sum::<f64>() / (k * k) as f64;
    Some(Interval::from_t(
        center,
        model_var.sqrt(),
        noise.within_df.max(1) as f64,
        confidence,
        k,
    ))
}

/// The change of a re-measured defaults block from the previous one, as a
/// log ratio, when it is beyond the within-start noise at `confidence` and
/// larger than `floor` (a relative change, 0.05 = 5%); None when it is not.
pub fn drift(prev: &Block, now: &Block, noise: &Noise, confidence: f64, floor: f64) -> Option<f64> {
    if prev.n() == 0 || now.n() == 0 {
        return None;
    }
    let change = now.mean() - prev.mean();
    let within = Noise {
        between_sd: 0.0,
        ..*noise
    };
    let se = within.diff_var(prev.n(), now.n()).sqrt();
    let t = t_quantile(0.5 + confidence / 2.0, noise.within_df.max(1) as f64);
    (change.abs() > t * se && change.abs() > (1.0 + floor).ln()).then_some(change)
}

/// How a race ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Race {
    /// Index of the best contestant (by mean log performance over the rounds).
    pub best: usize,
    /// Contestants still in the race (not significantly worse than the best).
    pub alive: Vec<usize>,
    /// Whether the best is separated from every other contestant.
    pub separated: bool,
    /// Rounds used.
    pub rounds: usize,
    /// Rounds left out of the comparison because one contestant's block in
    /// them was disturbed (see [`disturbed_rounds`]), 0-based.
    #[serde(default)]
    pub left_out: Vec<usize>,
}

/// How far (in robust standard deviations of the race's residuals) a
/// block may sit from what its round and its contestant predict before
/// the round is taken as disturbed.
pub const DISTURBED_SDS: f64 = 6.0;

/// Rounds in which one block was disturbed: a machine that slowed down (or
/// recovered) in the middle of a round shifts that block against the rest
/// of its round, and one such pair can decide a paired race on its own.
/// Each block's residual from a robust two-way fit (round centre +
/// contestant effect, medians, on the rounds where every contestant was
/// measured) is compared
/// with the residuals' robust spread (1.4826 x their median absolute
/// value); a round with a residual beyond [`DISTURBED_SDS`] of it, and
/// beyond 5% (a shift smaller than that is noise that the t-test
/// handles), is left out. At least [`MIN_ROUNDS`] complete rounds are
/// needed to judge; at most half of the rounds are left out, and never so
/// many that fewer than [`MIN_ROUNDS`] remain.
pub fn disturbed_rounds(rounds: &[Vec<Option<f64>>], n: usize) -> Vec<usize> {
    let complete: Vec<(usize, Vec<f64>)> = rounds
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let v: Option<Vec<f64>> = (0..n).map(|c| r.get(c).copied().flatten()).collect();
            v.map(|v| (i, v))
        })
        .collect();
    if complete.len() < MIN_ROUNDS || n < 2 {
        return Vec::new();
    }
    // A robust two-way fit (one pass of median polish): each round's
    // centre is its median, each contestant's effect the median over rounds
    // of its offset from that centre, so one disturbed round cannot spread
    // into the others' residuals.
    let centre: Vec<f64> = complete.iter().map(|(_, v)| median(v)).collect();
    let effect: Vec<f64> = (0..n)
        .map(|c| {
            let d: Vec<f64> = complete
                .iter()
                .zip(&centre)
                .map(|((_, v), m)| v[c] - m)
                .collect();
            median(&d)
        })
        .collect();
    let resid: Vec<(usize, f64)> = complete
        .iter()
        .zip(&centre)
        .flat_map(|((i, v), m)| {
            let effect = &effect;
            v.iter()
                .enumerate()
                .map(move |(c, x)| (*i, x - m - effect[c]))
        })
        .collect();
    let mut abs: Vec<f64> = resid.iter().map(|(_, r)| r.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let sd = 1.4826 * abs[abs.len() / 2];
    let limit = (DISTURBED_SDS * sd).max(1.05f64.ln());
    let mut worst: Vec<(usize, f64)> = complete
        .iter()
        .map(|(i, _)| {
            let m = resid
                .iter()
                .filter(|(j, _)| j == i)
                .map(|(_, r)| r.abs())
                .fold(0.0, f64::max);
            (*i, m)
        })
        .filter(|(_, m)| *m > limit)
        .collect();
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    worst.truncate((complete.len() / 2).min(complete.len() - MIN_ROUNDS));
    let mut out: Vec<usize> = worst.into_iter().map(|(i, _)| i).collect();
    out.sort_unstable();
    out
}

/// Rounds a race takes before it drops anyone (three pairs for a t-test).
pub const MIN_ROUNDS: usize = 3;

/// One contestant's paired differences against another over rounds where
/// both were measured: `rounds[r][i]` is contestant i's block mean in round r.
fn diffs(rounds: &[Vec<Option<f64>>], a: usize, b: usize) -> Vec<f64> {
    rounds
        .iter()
        .filter_map(|r| Some(r.get(a).copied()?? - r.get(b).copied()??))
        .collect()
}

/// The paired interval of `a` over `b` across race rounds.
pub fn race_interval(
    rounds: &[Vec<Option<f64>>],
    a: usize,
    b: usize,
    confidence: f64,
) -> Option<Interval> {
    let d = diffs(rounds, a, b);
    if d.len() < 2 {
        return None;
    }
    let se = (var(&d) / d.len() as f64).sqrt();
    Some(Interval::from_t(
        mean(&d),
        se,
        (d.len() - 1) as f64,
        confidence,
        d.len(),
    ))
}

/// Confidence of one look of a race planned for `max_rounds` rounds: the
/// error rate is split over the looks (Bonferroni), so testing after every
/// round does not separate identical configurations more often than
/// `1 - confidence` overall.
pub fn per_look(confidence: f64, max_rounds: usize) -> f64 {
    let looks = max_rounds.saturating_sub(MIN_ROUNDS) + 1;
    1.0 - (1.0 - confidence) / looks as f64
}

/// Judge a race after its rounds so far: contestants (index `keep` is
/// never dropped: the defaults, the baseline every gain is measured
/// against) significantly worse than the best leave the race. The best is
/// separated when every other contestant is out. `confidence` is the
/// overall confidence over the `max_rounds` looks ([`per_look`]).
pub fn race(
    rounds: &[Vec<Option<f64>>],
    n: usize,
    keep: usize,
    confidence: f64,
    max_rounds: usize,
) -> Race {
    let confidence = per_look(confidence, max_rounds);
    let left_out = disturbed_rounds(rounds, n);
    let kept: Vec<Vec<Option<f64>>> = rounds
        .iter()
        .enumerate()
        .filter(|(i, _)| !left_out.contains(i))
        .map(|(_, r)| r.clone())
        .collect();
    let rounds = &kept[..];
    let mut alive: Vec<usize> = (0..n).collect();
    let avg = |i: usize| {
        let v: Vec<f64> = rounds.iter().filter_map(|r| r.get(i).copied()?).collect();
        if v.is_empty() {
            f64::NEG_INFINITY
        } else {
            mean(&v)
        }
    };
    let best = alive
        .iter()
        .copied()
        .max_by(|a, b| avg(*a).total_cmp(&avg(*b)).then(b.cmp(a)))
        .unwrap_or(keep);
    if rounds.len() >= MIN_ROUNDS {
        alive.retain(|&i| {
            i == best
                || i == keep
                || !race_interval(rounds, best, i, confidence).is_some_and(|iv| iv.better())
        });
    }
    let separated = alive.iter().all(|&i| {
        i == best
            || (rounds.len() >= MIN_ROUNDS
                && race_interval(rounds, best, i, confidence).is_some_and(|iv| iv.better()))
    });
    Race {
        best,
        alive,
        separated,
        rounds: rounds.len() + left_out.len(),
        left_out,
    }
}

// --- Student's t ---------------------------------------------------------

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9), |error| < 1e-13 for x > 0.
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |a, (i, c)| a + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction for the incomplete beta (Numerical Recipes `betacf`).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-14 {
            break;
        }
    }
    h
}

/// Regularized incomplete beta I_x(a, b).
fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Student's t cumulative distribution with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let tail = 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t));
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The `p` quantile of Student's t with `df` degrees of freedom (bisection).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p <= 0.5 {
        return -t_quantile(1.0 - p, df).max(0.0);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while t_cdf(hi, df) < p && hi < 1e7 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn block(seq: u64, values: &[f64]) -> Block {
        Block {
            seq,
            logs: values.iter().map(|v: &f64| v.ln()).collect(),
        }
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        assert_relative_eq!(t_quantile(0.975, 1.0), 12.706, epsilon = 1e-3);
        assert_relative_eq!(t_quantile(0.975, 2.0), 4.303, epsilon = 1e-3);
        assert_relative_eq!(t_quantile(0.975, 10.0), 2.228, epsilon = 1e-3);
        assert_relative_eq!(t_quantile(0.95, 5.0), 2.015, epsilon = 1e-3);
        assert_relative_eq!(t_quantile(0.975, 1e6), 1.960, epsilon = 1e-3);
        assert_relative_eq!(t_cdf(0.0, 3.0), 0.5);
        assert_relative_eq!(t_cdf(-2.228, 10.0), 0.025, epsilon = 1e-4);
    }

    #[test]
    fn noise_pools_within_and_takes_drift_from_the_defaults() {
        // Within: two blocks with sample variances 1 and 4 (n = 3 each) pool to 2.5.
        let a = Block {
            seq: 0,
            logs: vec![0.0, 1.0, 2.0],
        };
        let b = Block {
            seq: 1,
            logs: vec![0.0, 2.0, 4.0],
        };
        let n = Noise::measure(&[&a, &b], &[]);
        assert_relative_eq!(n.within_sd, 2.5f64.sqrt());
        assert_eq!(n.within_df, 4);
        assert_eq!(n.between_sd, 0.0);
        // Exact repeats, starts that differ by 0.2 in turn: between = 0.2 / sqrt(2).
        let d: Vec<Block> = (0..5)
            .map(|i| Block {
                seq: i,
                logs: vec![0.2 * (i % 2) as f64; 3],
            })
            .collect();
        let refs: Vec<&Block> = d.iter().collect();
        let n = Noise::measure(&refs, &refs);
        assert_relative_eq!(n.within_sd, 0.0);
        assert_relative_eq!(n.between_sd, 0.2 / 2f64.sqrt(), epsilon = 1e-12);
    }

    #[test]
    fn paired_uses_the_defaults_nearest_in_time() {
        // The defaults drift from 100 to 70; a candidate measured beside the
        // late anchor at 77 is 10% better, not 23% worse.
        let d0 = block(0, &[100.0, 100.0]);
        let d1 = block(10, &[70.0, 70.0]);
        let c = block(9, &[77.0, 77.0]);
        let noise = Noise {
            within_sd: 0.01,
            within_df: 10,
            between_sd: 0.0,
        };
        let iv = paired(&[&c], &[&d0, &d1], &noise, 0.95).unwrap();
        assert_relative_eq!(iv.ratios().1, 1.1, epsilon = 1e-9);
        assert!(iv.better());
        // With the width from the noise: t(0.975, 10) x 0.01 x sqrt(1/2 + 1/2).
        assert_relative_eq!(iv.hi - iv.center, 2.228 * 0.01, epsilon = 1e-4);
        // Three pairs: the empirical paired interval.
        let cs = [block(1, &[110.0]), block(2, &[112.0]), block(11, &[76.0])];
        let refs: Vec<&Block> = cs.iter().collect();
        let iv = paired(&refs, &[&d0, &d1], &noise, 0.95).unwrap();
        let diffs = [(1.1f64).ln(), (1.12f64).ln(), (76.0f64 / 70.0).ln()];
        let m = diffs.iter().sum::<f64>() / 3.0;
        assert_relative_eq!(iv.center, m, epsilon = 1e-12);
        assert_eq!(iv.pairs, 3);
        assert!(paired(&refs, &[], &noise, 0.95).is_none());
    }

    #[test]
    fn drift_is_judged_against_the_noise() {
        let quiet = Noise {
            within_sd: 0.02,
            within_df: 20,
            between_sd: 0.0,
        };
        let noisy = Noise {
            within_sd: 0.3,
            ..quiet
        };
        let prev = block(0, &[100.0; 3]);
        let now = block(6, &[88.0; 3]);
        assert!(drift(&prev, &now, &quiet, 0.95, 0.05).is_some());
        assert!(drift(&prev, &now, &noisy, 0.95, 0.05).is_none());
        // Beyond the noise but below the floor: not worth re-running for.
        assert!(drift(&prev, &block(6, &[97.0; 3]), &quiet, 0.95, 0.05).is_none());
    }

    /// A race of the defaults (index 0) and contestants with true rates
    /// `rates`, `repeats` per start, uniform +-`noise`.
    fn simulate(rates: &[f64], noise: f64, repeats: usize, max_rounds: usize, seed: u64) -> Race {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut rounds: Vec<Vec<Option<f64>>> = Vec::new();
        loop {
            let r: Vec<Option<f64>> = rates
                .iter()
                .map(|rate| {
                    let logs: Vec<f64> = (0..repeats)
                        .map(|_| (rate * (1.0 + rng.gen_range(-noise..=noise))).ln())
                        .collect();
                    Some(mean(&logs))
                })
                .collect();
            rounds.push(r);
            let result = race(&rounds, rates.len(), 0, 0.95, max_rounds);
            if result.separated || rounds.len() >= max_rounds {
                return result;
            }
        }
    }

    #[test]
    fn ten_percent_better_with_twenty_percent_noise_wins_the_race() {
        let wins = (0..20)
            .filter(|&seed| {
                let r = simulate(&[1.0, 1.1, 1.0], 0.2, 5, 20, seed);
                r.best == 1 && r.separated
            })
            .count();
        assert!(wins >= 18, "won {wins} of 20");
    }

    #[test]
    fn identical_configurations_cannot_be_separated() {
        let separated = (0..20)
            .filter(|&seed| simulate(&[1.0, 1.1, 1.1], 0.2, 5, 20, seed).separated)
            .count();
        assert!(separated <= 2, "separated {separated} of 20");
        // A race with nothing between them ends with both alive.
        let r = simulate(&[1.0, 1.0], 0.2, 3, 12, 5);
        assert!(!r.separated);
        assert_eq!(r.alive, vec![0, 1]);
    }

    #[test]
    fn a_round_with_one_disturbed_block_is_left_out() {
        // Contestant 1 is truly 5% better than the defaults (0) and 2, with
        // 1% noise; in round 2 the machine slowed down 40% after the
        // defaults were measured, so 1 and 2 look 40% worse in that round.
        let mut rng = StdRng::seed_from_u64(4);
        let mut rounds: Vec<Vec<Option<f64>>> = (0..6)
            .map(|_| {
                [0.0, 0.05f64, 0.0]
                    .iter()
                    .map(|m| Some(m + rng.gen_range(-0.01..=0.01)))
                    .collect()
            })
            .collect();
        for c in [1, 2] {
            rounds[2][c] = rounds[2][c].map(|x| x + 0.6f64.ln());
        }
        assert_eq!(disturbed_rounds(&rounds, 3), vec![2]);
        let r = race(&rounds, 3, 0, 0.95, 8);
        assert_eq!(r.left_out, vec![2]);
        assert_eq!(r.best, 1);
        assert!(r.separated, "{r:?}");
        assert_eq!(r.rounds, 6);
        // Plain noise leaves every round in.
        let quiet: Vec<Vec<Option<f64>>> = (0..8)
            .map(|_| (0..3).map(|_| Some(rng.gen_range(-0.2..=0.2))).collect())
            .collect();
        assert!(disturbed_rounds(&quiet, 3).is_empty());
    }

    #[test]
    fn interval_labels_read_as_percent() {
        let iv = Interval::from_t(1.1f64.ln(), 0.0, 5.0, 0.95, 3);
        assert_eq!(iv.label(), "+10.0% [+10.0%, +10.0%] (95%)");
        assert_eq!(iv.p_better, 1.0);
    }
}
