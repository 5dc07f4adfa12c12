//! What a trial is and what it measured, shared by every stage that measures,
//! tunes, logs or reports: the probe kinds, the one statistics type (with the
//! one definition of noise), how a trial ended, and the server facts a log
//! records.
//!
//! A leaf: it imports nothing from the rest of the crate, so `bench`, `tune`
//! and `campaign` all use it without importing one another.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One measurement a started server can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "probe", rename_all = "snake_case")]
pub enum Probe {
    /// Single-stream decode after a prompt of `depth` tokens, `tokens` generated.
    Decode {
        /// Context depth, tokens.
        depth: u64,
        /// Tokens generated.
        tokens: u64,
    },
    /// Prompt processing of `tokens` tokens (no cache).
    Prefill {
        /// Prompt length, tokens.
        tokens: u64,
    },
    /// Time to first token for a prompt of `depth` tokens.
    Ttft {
        /// Prompt length, tokens.
        depth: u64,
    },
    /// Aggregate generation rate of `streams` concurrent requests.
    Aggregate {
        /// Concurrent requests.
        streams: u32,
        /// Tokens generated per request.
        tokens: u64,
    },
    /// A coding-agent session replayed turn by turn (the campaign's
    /// `objective.session`), prompt cache on: one figure per replay.
    Agentic {
        /// Which figure of the replay.
        stat: AgenticStat,
    },
}

/// The figure an agentic objective minimises, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgenticStat {
    /// Median time to first token over the session's requests.
    TtftMedian,
    /// 90th percentile time to first token.
    TtftP90,
    /// The session's total wait: the sum of its times to first token.
    TotalWait,
}

impl AgenticStat {
    /// Every figure.
    pub const ALL: [AgenticStat; 3] = [
        AgenticStat::TtftMedian,
        AgenticStat::TtftP90,
        AgenticStat::TotalWait,
    ];

    /// Its name in a campaign spec (`statistic = "p90"`).
    pub fn name(self) -> &'static str {
        match self {
            AgenticStat::TtftMedian => "median",
            AgenticStat::TtftP90 => "p90",
            AgenticStat::TotalWait => "total_wait",
        }
    }
}

impl Probe {
    /// The key under which the measurement is logged (`decode_tok_s@0`).
    pub fn key(&self) -> String {
        match self {
            Probe::Decode { depth, .. } => format!("decode_tok_s@{depth}"),
            Probe::Prefill { tokens } => format!("prefill_tok_s@{tokens}"),
            Probe::Ttft { depth } => format!("ttft_s@{depth}"),
            Probe::Aggregate { streams, .. } => format!("aggregate_tok_s@{streams}"),
            Probe::Agentic { stat } => format!("agentic_s@{}", stat.name()),
        }
    }

    /// Whether a larger value is better (rates) or worse (times).
    pub fn higher_is_better(&self) -> bool {
        !matches!(self, Probe::Ttft { .. } | Probe::Agentic { .. })
    }
}

/// A result whose coefficient of variation is above this is noisy: the one
/// definition of noise in rooftune (hyperfine warns on the same kind of figure).
pub const NOISY_CV: f64 = 0.05;

/// Statistics of repeated samples of one measurement (unit in its key).
///
/// Mean, standard deviation, median, min, max like hyperfine; the
/// coefficient of variation decides noise ([`NOISY_CV`]); the relative
/// standard error and the median absolute deviation say how far to trust the
/// mean and how wide the middle is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Stat {
    /// Number of samples.
    #[serde(default)]
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation, n - 1 (0 for one sample).
    pub stddev: f64,
    /// Median.
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Coefficient of variation, stddev / |mean| (0.05 = 5 %).
    #[serde(default)]
    pub cv: f64,
    /// Standard error of the mean as a share of the mean, cv / sqrt(n).
    #[serde(default)]
    pub sem_rel: f64,
    /// Median absolute deviation from the median.
    #[serde(default)]
    pub mad: f64,
    /// CV above [`NOISY_CV`].
    #[serde(default)]
    pub noisy: bool,
    /// The samples, in the order measured.
    #[serde(default)]
    pub samples: Vec<f64>,
}

fn median_of(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

impl Stat {
    /// Statistics of `samples`; non-finite ones are dropped, none gives all zeros.
    pub fn of(samples: &[f64]) -> Stat {
        Stat::of_finite(samples).unwrap_or_default()
    }

    /// Statistics of the finite `samples`, or None when none are finite.
    pub fn of_finite(samples: &[f64]) -> Option<Stat> {
        let kept: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if kept.is_empty() {
            return None;
        }
        let n = kept.len();
        let mean = kept.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            kept.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        let stddev = var.sqrt();
        let mut sorted = kept.clone();
        sorted.sort_by(f64::total_cmp);
        let median = median_of(&sorted);
        let mut dev: Vec<f64> = sorted.iter().map(|x| (x - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let cv = if mean != 0.0 {
            stddev / mean.abs()
        } else {
            0.0
        };
        Some(Stat {
            n,
            mean,
            stddev,
            median,
            min: sorted[0],
            max: sorted[n - 1],
            cv,
            sem_rel: cv / (n as f64).sqrt(),
            mad: median_of(&dev),
            noisy: cv > NOISY_CV,
            samples: kept,
        })
    }

    /// Relative noise, the coefficient of variation (recomputed from the
    /// samples for lines logged before it was stored).
    pub fn noise(&self) -> f64 {
        if self.cv > 0.0 || self.samples.len() < 2 {
            self.cv
        } else {
            Stat::of(&self.samples).cv
        }
    }

    /// Relative range, (max - min) / median: a descriptive figure for tables.
    pub fn spread(&self) -> f64 {
        if self.median > 0.0 {
            (self.max - self.min) / self.median
        } else {
            0.0
        }
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

/// A measurement next to its roofline ceiling (filled by `compare`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VsCeiling {
    /// The ceiling, in the measurement's unit (tok/s).
    pub ceiling: f64,
    /// The measurement as a percentage of the ceiling; None when the
    /// measurement is above it (a ceiling cannot be beaten).
    pub pct_of_ceiling: Option<f64>,
    /// True when the measurement is above its ceiling: the hardware profile
    /// or the model's shape is wrong, not the measurement a result.
    pub above_ceiling: bool,
}

/// Measurements of one trial, by probe key.
pub type Measurements = BTreeMap<String, Stat>;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Measured.
    Ok,
    /// The server exited or a request failed.
    Crashed,
    /// Out of memory (the server said so, or the kernel killed it).
    Oom,
    /// The server did not become ready, or a request took too long.
    Timeout,
    /// Not run: invalid, or proved not to fit.
    Skipped,
    /// Ctrl-C during the trial.
    Interrupted,
}

impl Status {
    /// The word used in logs and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Crashed => "crashed",
            Status::Oom => "oom",
            Status::Timeout => "timeout",
            Status::Skipped => "skipped",
            Status::Interrupted => "interrupted",
        }
    }
}

/// Top-k next-token log-probabilities at one generated position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenStep {
    /// The token chosen (greedy).
    pub id: i64,
    /// `[token id, log-probability]`, most likely first.
    pub top: Vec<(i64, f64)>,
}

/// What the server generated for the fixed quality prompts, with top-k
/// probabilities: compared between configurations by the quality guard.
pub type QualitySample = Vec<Vec<TokenStep>>;

/// The quality probe: fixed prompts, greedy, a few tokens, top-k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityProbe {
    /// Prompts, as text.
    pub prompts: Vec<String>,
    /// Tokens generated per prompt.
    pub n_predict: u64,
    /// Top-k probabilities kept per position.
    pub n_probs: u32,
}

/// Slot layout the server printed at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotInfo {
    /// `n_slots`.
    pub n_slots: u64,
    /// `n_ctx_slot`, tokens.
    pub n_ctx_slot: u64,
    /// `kv_unified`.
    pub kv_unified: bool,
}

fn default_backend() -> String {
    "llama".into()
}

/// What the log records about the server binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerInfo {
    /// The backend (`llama`); logs written before it was recorded were all llama-server.
    #[serde(default = "default_backend")]
    pub backend: String,
    /// Path of the binary.
    pub binary: String,
    /// Build as `--version` prints it (`b11434 (929cf876)`).
    pub build: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn stat_of_samples() {
        let s = Stat::of(&[10.0, 12.0, 11.0, 13.0]);
        assert_relative_eq!(s.mean, 11.5);
        assert_relative_eq!(s.median, 11.5);
        assert_relative_eq!(s.stddev, 1.2909944, epsilon = 1e-6);
        assert_relative_eq!(s.spread(), 3.0 / 11.5);
        assert_eq!(Stat::of(&[]).mean, 0.0);
        assert_eq!(Stat::of(&[5.0]).stddev, 0.0);
    }

    #[test]
    fn noise_is_the_coefficient_of_variation() {
        let s = Stat::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.n, 8);
        assert_relative_eq!(s.mad, 0.5);
        assert_relative_eq!(s.noise(), s.stddev / s.mean);
        assert!(s.noisy);
        assert!(s.warning("decode").unwrap().contains("--repeats"));
        let q = Stat::of_finite(&[100.0, 101.0, 99.0, f64::NAN]).unwrap();
        assert_eq!(q.n, 3);
        assert!(!q.noisy && q.warning("x").is_none());
        assert_relative_eq!(q.sem_rel, q.cv / 3f64.sqrt());
        assert!(Stat::of_finite(&[]).is_none());
        // A line logged before `cv` was stored: recomputed from its samples.
        let old = Stat {
            cv: 0.0,
            ..s.clone()
        };
        assert_relative_eq!(old.noise(), s.cv);
    }

    #[test]
    fn probe_keys() {
        assert_eq!(
            Probe::Decode {
                depth: 0,
                tokens: 32
            }
            .key(),
            "decode_tok_s@0"
        );
        assert!(!Probe::Ttft { depth: 512 }.higher_is_better());
    }
}
