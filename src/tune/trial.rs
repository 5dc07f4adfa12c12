//! One trial: what the tuner asks for ([`TrialRequest`]), what comes back
//! ([`TrialOutcome`]), and the one trait between them ([`Evaluator`]).
//!
//! Every flag the tuner searches is a start-up flag, so one trial is one
//! server start: the evaluator starts the server with the configuration,
//! measures every probe the campaign needs (all depths, concurrency levels)
//! while it is up, and stops it. A failure (crash, OOM, timeout, Ctrl-C) is
//! a status in the outcome, never an `Err` (STYLE habit 5).

use super::space::Config;
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
}

impl Probe {
    /// The key under which the measurement is logged (`decode_tok_s@0`).
    pub fn key(&self) -> String {
        match self {
            Probe::Decode { depth, .. } => format!("decode_tok_s@{depth}"),
            Probe::Prefill { tokens } => format!("prefill_tok_s@{tokens}"),
            Probe::Ttft { depth } => format!("ttft_s@{depth}"),
            Probe::Aggregate { streams, .. } => format!("aggregate_tok_s@{streams}"),
        }
    }

    /// Whether a larger value is better (rates) or worse (times).
    pub fn higher_is_better(&self) -> bool {
        !matches!(self, Probe::Ttft { .. })
    }
}

/// Summary of repeated samples of one measurement (unit in its key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Stat {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one sample).
    pub stddev: f64,
    /// Median.
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// The samples, in the order measured.
    pub samples: Vec<f64>,
}

impl Stat {
    /// Statistics of `samples` (empty gives all zeros).
    pub fn of(samples: &[f64]) -> Stat {
        let n = samples.len();
        if n == 0 {
            return Stat::default();
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Stat {
            mean,
            stddev: var.sqrt(),
            median,
            min: s[0],
            max: s[n - 1],
            samples: samples.to_vec(),
        }
    }

    /// Relative spread, (max - min) / median.
    pub fn spread(&self) -> f64 {
        if self.median > 0.0 {
            (self.max - self.min) / self.median
        } else {
            0.0
        }
    }
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

/// What the tuner asks the evaluator to do.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRequest {
    /// Campaign name (tag for the server's environment).
    pub campaign: String,
    /// Trial id in the log.
    pub trial_id: u64,
    /// The configuration.
    pub config: Config,
    /// Probes to measure while the server is up.
    pub probes: Vec<Probe>,
    /// Repeats of the short screening measurement.
    pub screen_repeats: u32,
    /// Repeats for a promising configuration (total, screening included).
    pub full_repeats: u32,
    /// Top-k probe for the quality guard, if wanted.
    pub quality: Option<QualityProbe>,
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

/// What one trial produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrialOutcome {
    /// How it ended.
    pub status: Option<Status>,
    /// Why it failed (last log lines, the error), if it did.
    pub reason: Option<String>,
    /// Measurements taken (possibly partial on failure).
    pub measurements: Measurements,
    /// Whether the full repeats were taken (not only screening).
    pub full: bool,
    /// Seconds from spawn to ready.
    pub startup_s: f64,
    /// Seconds spent measuring.
    pub measure_s: f64,
    /// Slot layout from the startup log.
    pub slots: Option<SlotInfo>,
    /// Quality sample, if asked.
    pub quality: Option<QualitySample>,
}

impl TrialOutcome {
    /// The status, `Crashed` if the evaluator forgot to set one.
    pub fn status(&self) -> Status {
        self.status.unwrap_or(Status::Crashed)
    }
}

/// What the log records about the server binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerInfo {
    /// Path of the binary.
    pub binary: String,
    /// Build as `--version` prints it (`b11434 (929cf876)`).
    pub build: String,
}

/// Starts a server with a configuration, measures, stops it.
///
/// `promote` is asked after the screening repeats: `true` means take the
/// full repeats on the same running server.
pub trait Evaluator {
    /// The server binary and build.
    fn server(&mut self) -> ServerInfo;
    /// `--help` of the binary, to reject flags it does not know.
    fn help_text(&mut self) -> Option<String>;
    /// Run one trial.
    fn evaluate(
        &mut self,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> TrialOutcome;
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
