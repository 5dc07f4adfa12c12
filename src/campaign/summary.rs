//! The result of a campaign, derived from its log: trials sorted by the
//! objective, the winner with its gain over the defaults and its command
//! line, the quality guard's verdict, and where the time went. Built here,
//! rendered by `report::campaign`.

use super::history::History;
use super::record::{Role, TrialLine, Verdict};
use crate::trial::Status;
use crate::tune::quality::{self, Divergence};
use serde::Serialize;

/// One row of the trials table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Trial id.
    pub id: u64,
    /// Role (`default`, `search`, `anchor`, `rerun`, `manual`).
    pub role: Role,
    /// Configuration label (`-t 2 -ub 256`).
    pub config: String,
    /// Status.
    pub status: Status,
    /// The objective's value in its unit (single-term objectives).
    pub value: Option<f64>,
    /// Relative spread of the measurement.
    pub noise: f64,
    /// Every measurement's mean, by key (for mixes and extra probes).
    pub measured: Vec<(String, f64)>,
    /// Score relative to the defaults.
    pub score: Option<f64>,
    /// Percent of the roofline ceiling.
    pub pct_of_ceiling: Option<f64>,
    /// Percent of the roofline ceiling of every measurement that has one.
    pub pct_by_key: Vec<(String, f64)>,
    /// Measurements above their ceiling (the profile is wrong, not a result).
    pub above_ceiling: Vec<String>,
    /// Whether only screening was measured.
    pub screened_only: bool,
    /// Lossy tags.
    pub lossy: Vec<String>,
    /// KEEP or DISCARD.
    pub verdict: Verdict,
    /// Why (or the failure reason).
    pub reason: String,
    /// Ids this line supersedes.
    pub supersedes: Vec<u64>,
}

/// The winner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Winner {
    /// Trial id.
    pub id: u64,
    /// Configuration label.
    pub config: String,
    /// The command line to paste.
    pub command: String,
    /// The objective's value.
    pub value: Option<f64>,
    /// The defaults' value.
    pub default_value: Option<f64>,
    /// Gain over the defaults, percent (score - 1).
    pub gain_pct: Option<f64>,
    /// Percent of the roofline ceiling.
    pub pct_of_ceiling: Option<f64>,
    /// Percent of the roofline ceiling of every measurement that has one.
    pub pct_by_key: Vec<(String, f64)>,
    /// Relative spread of its measurement.
    pub noise: f64,
    /// Lossy tags: speed that may have been bought with accuracy.
    pub lossy: Vec<String>,
    /// Top-k divergence from the defaults on the quality prompts.
    pub quality: Option<Divergence>,
    /// Other trials within noise of the winner (cannot be told apart).
    pub ties: Vec<u64>,
    /// Whether the defaults are among the ties.
    pub ties_defaults: bool,
}

/// Where the campaign's time went.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeSplit {
    /// Server starts (a trial that shared another's start is not one).
    pub restarts: u64,
    /// Seconds from spawn to ready, all trials.
    pub startup_s: f64,
    /// Seconds measuring, all trials.
    pub measure_s: f64,
}

/// A campaign's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignSummary {
    /// Campaign name.
    pub name: String,
    /// Objective label.
    pub objective: String,
    /// Log format version.
    pub format: u32,
    /// Sessions (runs and resumes).
    pub sessions: usize,
    /// Configurations measured against the budget.
    pub trials_used: u32,
    /// Rows, best first; failed, skipped and superseded lines last.
    pub rows: Vec<Row>,
    /// The winner, if any configuration was fully measured.
    pub winner: Option<Winner>,
    /// Drift events (anchor lines that drifted).
    pub drift: Vec<String>,
    /// Time split.
    pub time: TimeSplit,
    /// Server build(s) seen.
    pub builds: Vec<String>,
    /// The backend's server name (`llama-server`), for "over X's defaults".
    pub server: String,
    /// What the evidence supports (the race's reading), if the defaults were measured.
    pub decision: Option<super::decision::Decision>,
    /// The command to paste: the recommended configuration's, or the defaults'.
    pub paste: Option<String>,
}

fn row(t: &TrialLine) -> Row {
    Row {
        id: t.id,
        role: t.role,
        config: t.config().label(),
        status: t.status,
        value: t.objective.value,
        noise: t.objective.noise,
        measured: t
            .measurements
            .iter()
            .map(|(k, v)| (k.clone(), v.mean))
            .collect(),
        score: t.objective.score,
        pct_of_ceiling: t.objective.pct_of_ceiling,
        pct_by_key: pct_by_key(t),
        above_ceiling: above_ceiling(t),
        screened_only: t.status == Status::Ok && !t.full,
        lossy: t.lossy.clone(),
        verdict: t.verdict,
        reason: t.verdict_reason.clone(),
        supersedes: t.supersedes.clone(),
    }
}

/// Measurements above their ceiling (by key): flagged wherever shown.
fn above_ceiling(t: &TrialLine) -> Vec<String> {
    t.measurements
        .iter()
        .filter(|(k, v)| {
            let rate = !k.starts_with("ttft");
            rate && t
                .ceilings
                .get(*k)
                .is_some_and(|c| crate::compare::ceiling::above(v.mean, *c))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn pct_by_key(t: &TrialLine) -> Vec<(String, f64)> {
    t.measurements
        .iter()
        .filter_map(|(k, v)| {
            let c = t.ceilings.get(k)?;
            Some((k.clone(), crate::compare::pct_of_ceiling(v.mean, *c)?))
        })
        .collect()
}

/// Build the summary of a log.
pub fn summarize(name: &str, h: &History) -> CampaignSummary {
    let ranked = h.ranked();
    let mut rows: Vec<Row> = ranked.iter().map(|t| row(t)).collect();
    let shown: std::collections::BTreeSet<u64> = ranked.iter().map(|t| t.id).collect();
    rows.extend(h.trials.iter().filter(|t| !shown.contains(&t.id)).map(row));
    let winner = h.winner().map(|w| winner(h, w));
    let (startup_s, measure_s) = h.time_split_s();
    let decision = super::decision::decide(h);
    let mut builds: Vec<String> = h.trials.iter().map(|t| t.server.build.clone()).collect();
    builds.sort();
    builds.dedup();
    let server = h
        .trials
        .last()
        .and_then(|t| t.server.backend.parse::<crate::server::BackendKind>().ok())
        .unwrap_or_default()
        .get()
        .name()
        .to_string();
    CampaignSummary {
        server,
        name: name.to_string(),
        objective: h
            .sessions
            .last()
            .map(|s| s.objective.clone())
            .or_else(|| h.trials.first().map(|t| t.objective.label.clone()))
            .unwrap_or_default(),
        format: crate::campaign::record::FORMAT_VERSION,
        sessions: h.sessions.len(),
        trials_used: h.trials_used(),
        rows,
        winner,
        drift: h
            .trials
            .iter()
            .filter(|t| t.role == Role::Anchor)
            .filter_map(|t| t.reason.clone().map(|r| format!("trial {}: {r}", t.id)))
            .collect(),
        time: TimeSplit {
            restarts: h
                .trials
                .iter()
                .filter(|t| t.measured() || t.status == Status::Interrupted)
                .filter(|t| t.shared_start.is_none())
                .count() as u64,
            startup_s,
            measure_s,
        },
        builds,
        paste: decision
            .as_ref()
            .and_then(|d| d.recommend.as_ref().map(|r| r.command.clone()))
            .or_else(|| h.default_trial().map(|d| d.command.clone())),
        decision,
    }
}

fn winner(h: &History, w: &TrialLine) -> Winner {
    let default = h.default_trial();
    let quality = match (default.and_then(|d| d.quality.as_ref()), w.quality.as_ref()) {
        (Some(d), Some(q)) if w.role != Role::Default => quality::compare(d, q),
        _ => None,
    };
    let best = w.objective.score.unwrap_or(0.0);
    let ties: Vec<u64> = h
        .ranked()
        .into_iter()
        .filter(|t| t.id != w.id && t.full)
        .filter(|t| {
            let s = t.objective.score.unwrap_or(0.0);
            let noise = w.objective.noise.max(t.objective.noise).max(0.03);
            best > 0.0 && 1.0 - s / best <= noise
        })
        .map(|t| t.id)
        .collect();
    Winner {
        id: w.id,
        config: w.config().label(),
        command: w.command.clone(),
        value: w.objective.value,
        default_value: default.and_then(|d| d.objective.value),
        gain_pct: w.objective.score.map(|s| (s - 1.0) * 100.0),
        pct_of_ceiling: w.objective.pct_of_ceiling,
        pct_by_key: pct_by_key(w),
        noise: w.objective.noise,
        lossy: w.lossy.clone(),
        quality,
        ties_defaults: default.is_some_and(|d| ties.contains(&d.id)),
        ties,
    }
}

/// Two campaigns side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// First campaign.
    pub a: CampaignSummary,
    /// Second campaign.
    pub b: CampaignSummary,
    /// Flags whose winning values differ: `(flag, value in a, value in b)`.
    pub differing: Vec<(String, String, String)>,
    /// Every measurement of both logs against one ceiling, when both
    /// measured the same shape (`side_by_side`).
    pub side_by_side: Option<super::side_by_side::SideBySide>,
}

/// Compare the winners of two campaigns and, when they measured one shape,
/// put their measurements side by side against one ceiling. Two backends'
/// logs on different (or unknown) shapes are an error.
pub fn compare(
    a: (&str, &History),
    b: (&str, &History),
) -> Result<Comparison, super::CampaignError> {
    let cfg = |h: &History| h.winner().map(|w| w.config.clone()).unwrap_or_default();
    let (ca, cb) = (cfg(a.1), cfg(b.1));
    let mut flags: Vec<&String> = ca.keys().chain(cb.keys()).collect();
    flags.sort();
    flags.dedup();
    let get = |c: &std::collections::BTreeMap<String, String>, f: &str| {
        c.get(f).cloned().unwrap_or_else(|| "default".into())
    };
    let differing = flags
        .into_iter()
        .filter(|f| get(&ca, f) != get(&cb, f))
        .map(|f| (f.clone(), get(&ca, f), get(&cb, f)))
        .collect();
    Ok(Comparison {
        side_by_side: super::side_by_side::build(a, b)?,
        a: summarize(a.0, a.1),
        b: summarize(b.0, b.1),
        differing,
    })
}
