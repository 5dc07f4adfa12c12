//! Summary statistics over repeats, with a noise verdict.
//!
//! Like hyperfine: mean, standard deviation, median, min, max; the
//! coefficient of variation (stddev / mean) and the standard error of the mean
//! decide whether a result is noisy, and the warning says what to change.
//! MAD (median absolute deviation) is kept for outlier-robust spread.

use serde::Serialize;

/// A result whose CV is above this is flagged as noisy.
pub const NOISY_CV: f64 = 0.05;

/// Statistics of one metric over repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1).
    pub stddev: f64,
    /// Median.
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Coefficient of variation, stddev / mean (0.05 = 5 %).
    pub cv: f64,
    /// Standard error of the mean as a share of the mean (stddev / sqrt(n) / mean).
    pub sem_rel: f64,
    /// Median absolute deviation.
    pub mad: f64,
    /// CV above [`NOISY_CV`] (or fewer than 3 samples to tell).
    pub noisy: bool,
}

fn median_of(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

impl Summary {
    /// Summarise samples (non-finite ones are dropped); None if none remain.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        let stddev = var.sqrt();
        let median = median_of(&v);
        let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let cv = if mean != 0.0 {
            stddev / mean.abs()
        } else {
            0.0
        };
        Some(Summary {
            n,
            mean,
            stddev,
            median,
            min: v[0],
            max: v[n - 1],
            cv,
            sem_rel: cv / (n as f64).sqrt(),
            mad: median_of(&dev),
            noisy: cv > NOISY_CV,
        })
    }

    /// A warning for a noisy result, naming what to do, or None.
    pub fn warning(&self, what: &str) -> Option<String> {
        self.noisy.then(|| {
            format!(
                "{what} is noisy: CV {:.1}% over {} runs (min {:.1}, max {:.1}); \
                 quiet the machine or raise --repeats (the mean's standard error is {:.1}%)",
                self.cv * 100.0,
                self.n,
                self.min,
                self.max,
                self.sem_rel * 100.0
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn basic() {
        let s = Summary::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.n, 8);
        assert_relative_eq!(s.mean, 5.0);
        assert_relative_eq!(s.stddev, (32.0f64 / 7.0).sqrt());
        assert_relative_eq!(s.median, 4.5);
        assert_eq!((s.min, s.max), (2.0, 9.0));
        assert_relative_eq!(s.mad, 0.5);
        assert!(s.noisy);
        assert!(s.warning("decode").unwrap().contains("--repeats"));
    }

    #[test]
    fn quiet_and_empty() {
        let s = Summary::of(&[100.0, 101.0, 99.0, f64::NAN]).unwrap();
        assert_eq!(s.n, 3);
        assert!(!s.noisy && s.warning("x").is_none());
        assert_relative_eq!(s.sem_rel, s.cv / 3f64.sqrt());
        assert!(Summary::of(&[]).is_none());
        assert_eq!(Summary::of(&[3.0]).unwrap().stddev, 0.0);
    }
}
