//! What the evidence supports: the best configuration among those tested,
//! its gain over the defaults as an interval with the probability that it
//! beats them, and the call: change to it, or keep the defaults.
//!
//! The rule: a configuration is recommended over the defaults only when
//! its whole interval lies above them at the campaign's confidence. A lossy
//! one (it changes the numbers the model produces) also needs the quality
//! guard's top-1 agreement with the defaults at or above `min_top1`;
//! otherwise it is named "faster but changes the output" with both
//! figures, and the paste line stays lossless.

use super::evidence::{self, LogEvidence, DEFAULT_CONFIDENCE};
use super::history::History;
use super::record::{Role, TrialLine};
use crate::trial::Status;
use crate::tune::objective::Objective;
use crate::tune::quality::{self, Divergence};
use crate::tune::stats::{self, Block, Interval};
use serde::Serialize;

/// Least top-1 agreement when the log does not say (older logs).
pub const DEFAULT_MIN_TOP1: f64 = 0.95;

/// One configuration and the evidence about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contender {
    /// Its latest fully measured trial.
    pub id: u64,
    /// Configuration label.
    pub config: String,
    /// The command line to paste.
    pub command: String,
    /// Lossy tags.
    pub lossy: Vec<String>,
    /// Gain over the defaults (log-ratio interval, paired).
    pub interval: Option<Interval>,
    /// Server starts that measured it.
    pub measurements: usize,
    /// Repeats over all its measurements.
    pub repeats: usize,
    /// Top-k divergence from the defaults, where sampled.
    pub quality: Option<Divergence>,
}

impl Contender {
    /// Significantly better than the defaults.
    pub fn better(&self) -> bool {
        self.interval.is_some_and(|iv| iv.better())
    }

    /// Passes the quality guard (lossless, or top-1 agreement at least `min_top1`).
    pub fn quality_ok(&self, min_top1: f64) -> bool {
        self.lossy.is_empty() || self.quality.is_some_and(|q| q.top1_agreement >= min_top1)
    }
}

/// The campaign's call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The best configuration among those tested (None: the defaults were best).
    pub best: Option<Contender>,
    /// What to run: None means keep the defaults.
    pub recommend: Option<Contender>,
    /// The best was lossy and is not recommended: faster, but it changes the output.
    pub faster_but_lossy: Option<Contender>,
    /// Configurations the best was raced against (labels; the defaults included).
    pub raced_against: Vec<String>,
    /// Race rounds run.
    pub rounds: usize,
    /// Whether the race separated the best from every other contestant.
    pub separated: bool,
    /// Race rounds left out because a block in them was disturbed (1-based).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<usize>,
    /// Two-sided confidence of the intervals.
    pub confidence: f64,
    /// Least top-1 agreement a lossy configuration needs.
    pub min_top1: f64,
    /// The reading in one sentence.
    pub why: String,
    /// The measured noise: sd of one repeat within a start, and of a start's mean between starts (log units).
    pub noise_within: f64,
    /// Between-start noise (log units).
    pub noise_between: f64,
}

fn contender(
    h: &History,
    ev: &LogEvidence,
    o: &Objective,
    cfg: &[(String, String)],
) -> Option<Contender> {
    let lines: Vec<&TrialLine> = h
        .effective()
        .into_iter()
        .filter(|t| t.status == Status::Ok && t.config_order == cfg)
        .collect();
    let last = lines.iter().rev().find(|t| t.full).or(lines.last())?;
    let blocks: Vec<Block> = lines.iter().map(|t| evidence::block(t, o)).collect();
    let refs: Vec<&Block> = blocks.iter().collect();
    let quality = match (
        h.default_trial().and_then(|d| d.quality.as_ref()),
        last.quality.as_ref(),
    ) {
        (Some(d), Some(q)) => quality::compare(d, q),
        _ => None,
    };
    Some(Contender {
        id: last.id,
        config: last.config().label(),
        command: last.command.clone(),
        lossy: last.lossy.clone(),
        interval: ev.interval(&refs),
        measurements: blocks.len(),
        repeats: blocks.iter().map(Block::n).sum(),
        quality,
    })
}

/// The race a log holds: its contestants (index 0: the defaults), the best
/// (None: the defaults), rounds, whether the best was separated, and the
/// rounds left out as disturbed (0-based).
struct RaceOf {
    contestants: Vec<Vec<(String, String)>>,
    best: Option<Vec<(String, String)>>,
    rounds: usize,
    separated: bool,
    left_out: Vec<usize>,
}

fn race_of(h: &History, o: &Objective, confidence: f64) -> Option<RaceOf> {
    let raced: Vec<&TrialLine> = h
        .effective()
        .into_iter()
        .filter(|t| t.role == Role::Race && t.status == Status::Ok)
        .collect();
    let mut contestants: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for t in &raced {
        if !evidence::same_as_defaults(t) && !contestants.contains(&t.config_order) {
            contestants.push(t.config_order.clone());
        }
    }
    if contestants.len() < 2 {
        return None;
    }
    let mut rounds: Vec<Vec<Option<f64>>> = Vec::new();
    for t in &raced {
        let i = if evidence::same_as_defaults(t) {
            0
        } else {
            contestants.iter().position(|c| *c == t.config_order)?
        };
        let r = t.round.unwrap_or(1).max(1) as usize - 1;
        if rounds.len() <= r {
            rounds.resize(r + 1, vec![None; contestants.len()]);
        }
        let b = evidence::block(t, o);
        if b.n() > 0 {
            rounds[r][i] = Some(b.mean());
        }
    }
    let res = stats::race(&rounds, contestants.len(), 0, confidence, rounds.len());
    Some(RaceOf {
        best: (res.best != 0).then(|| contestants[res.best].clone()),
        contestants,
        rounds: res.rounds,
        separated: res.separated,
        left_out: res.left_out,
    })
}

/// The log without the race trials of the rounds `left_out` (0-based).
fn without_race_rounds(h: &History, left_out: &[usize]) -> History {
    let mut out = h.clone();
    out.trials.retain(|t| {
        !(t.role == Role::Race
            && t.round
                .is_some_and(|r| left_out.contains(&(r.max(1) as usize - 1))))
    });
    out
}

/// Decide from a log. None when the log has no objective or no measured defaults.
pub fn decide(h: &History) -> Option<Decision> {
    let o = h
        .trials
        .first()
        .and_then(|t| Objective::from_label(&t.objective.label))?;
    let session = h.sessions.last();
    let confidence = session
        .and_then(|s| s.confidence)
        .unwrap_or(DEFAULT_CONFIDENCE);
    let min_top1 = session.and_then(|s| s.min_top1).unwrap_or(DEFAULT_MIN_TOP1);
    // Race rounds left out as disturbed are no evidence for anyone.
    let race = race_of(h, &o, confidence);
    let kept = race.as_ref().map(|r| without_race_rounds(h, &r.left_out));
    let h = kept.as_ref().unwrap_or(h);
    let ev = LogEvidence::of(h, &o, confidence);
    if ev.defaults.is_empty() {
        return None;
    }
    // Every fully measured configuration that is not the defaults in effect.
    let mut configs: Vec<Vec<(String, String)>> = Vec::new();
    for t in h.effective() {
        if t.status == Status::Ok
            && t.full
            && !matches!(t.role, Role::Anchor)
            && !evidence::same_as_defaults(t)
            && !configs.contains(&t.config_order)
        {
            configs.push(t.config_order.clone());
        }
    }
    let all: Vec<Contender> = configs
        .iter()
        .filter_map(|c| contender(h, &ev, &o, c))
        .collect();
    let center = |c: &Contender| c.interval.map_or(f64::NEG_INFINITY, |iv| iv.center);
    let (contestants, raced_best, rounds, separated, left_out) = match race {
        Some(r) => (
            r.contestants,
            Some(r.best),
            r.rounds,
            r.separated,
            r.left_out.iter().map(|i| i + 1).collect(),
        ),
        None => (vec![Vec::new()], None, 0, false, Vec::new()),
    };
    let best_cfg = match raced_best {
        Some(b) => b,
        None => all
            .iter()
            .filter(|c| center(c) > 0.0)
            .max_by(|a, b| center(a).total_cmp(&center(b)))
            .map(|c| configs[all.iter().position(|x| x == c).unwrap_or(0)].clone()),
    };
    let best = best_cfg.and_then(|c| contender(h, &ev, &o, &c));
    let raced_against: Vec<String> = contestants
        .iter()
        .filter(|c| {
            best.as_ref()
                .is_none_or(|b| crate::tune::space::Config((*c).clone()).label() != b.config)
        })
        .map(|c| crate::tune::space::Config(c.clone()).label())
        .filter(|_| rounds > 0)
        .collect();
    let admitted = |c: &Contender| c.better() && c.quality_ok(min_top1);
    let gain = |c: &Contender| c.interval.map_or_else(|| "?".into(), |iv| iv.label());
    let (recommend, faster_but_lossy, why) = match &best {
        None => (
            None,
            None,
            "keep the defaults: no configuration measured better than them".to_string(),
        ),
        Some(b) if admitted(b) => (
            Some(b.clone()),
            None,
            format!(
                "change to `{}`: {} over the defaults, P(better) {:.0}%",
                b.config,
                gain(b),
                b.interval.map_or(0.0, |iv| iv.p_better) * 100.0
            ),
        ),
        Some(b) if !b.lossy.is_empty() && center(b) > 0.0 => {
            // Faster but lossy: fall back to the best lossless configuration the evidence supports.
            let fallback = all
                .iter()
                .filter(|c| c.lossy.is_empty() && c.better())
                .max_by(|a, b| center(a).total_cmp(&center(b)))
                .cloned();
            let why = match &fallback {
                Some(f) => format!(
                    "`{}` is faster ({}) but changes the output; change to the lossless `{}`: {}",
                    b.config,
                    gain(b),
                    f.config,
                    gain(f)
                ),
                None => format!(
                    "keep the defaults: `{}` is faster ({}) but changes the output",
                    b.config,
                    gain(b)
                ),
            };
            (fallback, Some(b.clone()), why)
        }
        Some(b) => (
            None,
            None,
            format!(
                "keep the defaults: the evidence does not separate `{}` from them ({})",
                b.config,
                gain(b)
            ),
        ),
    };
    Some(Decision {
        best,
        recommend,
        faster_but_lossy,
        raced_against,
        rounds,
        separated,
        left_out,
        confidence,
        min_top1,
        why,
        noise_within: ev.noise.within_sd,
        noise_between: ev.noise.between_sd,
    })
}
