//! What a log says: the trials that count (not superseded), the reference
//! (the defaults), the best, the budget used, and a listing of campaigns.

use super::log;
use super::record::{Line, Role, SessionLine, TrialLine};
use super::CampaignError;
use crate::trial::Status;
use crate::tune::space::Config;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A campaign log, read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Session lines, in order.
    pub sessions: Vec<SessionLine>,
    /// Trial lines, in order.
    pub trials: Vec<TrialLine>,
}

impl History {
    /// From the lines of a log.
    pub fn from_lines(lines: Vec<Line>) -> History {
        let mut h = History::default();
        for l in lines {
            h.push(l);
        }
        h
    }

    /// Read a log file.
    pub fn read(path: &Path) -> Result<History, CampaignError> {
        Ok(History::from_lines(log::read(path)?))
    }

    /// Add one line.
    pub fn push(&mut self, line: Line) {
        match line {
            Line::Session(s) => self.sessions.push(s),
            Line::Trial(t) => self.trials.push(*t),
        }
    }

    /// The id the next trial gets.
    pub fn next_id(&self) -> u64 {
        self.trials.iter().map(|t| t.id + 1).max().unwrap_or(0)
    }

    /// Ids replaced by later lines.
    pub fn superseded(&self) -> BTreeSet<u64> {
        self.trials
            .iter()
            .flat_map(|t| t.supersedes.iter().copied())
            .collect()
    }

    /// Finished trials that are not superseded.
    pub fn effective(&self) -> Vec<&TrialLine> {
        let gone = self.superseded();
        self.trials
            .iter()
            .filter(|t| t.finished() && !gone.contains(&t.id))
            .collect()
    }

    /// The reference for a trial measured now: the defaults measured
    /// nearest in time (the last measured trial that runs what the defaults
    /// run: the first, an anchor, a race round), or, if the defaults never
    /// measured, the first measured trial.
    pub fn reference(&self) -> Option<&TrialLine> {
        self.trials
            .iter()
            .rev()
            .find(|t| t.status == Status::Ok && super::evidence::same_as_defaults(t))
            .or_else(|| self.trials.iter().find(|t| t.status == Status::Ok))
    }

    /// The defaults block drift is judged from: the last measurement of the
    /// defaults that did not drift, or a drifted one whose level was then
    /// accepted (re-runs followed it).
    pub fn drift_baseline(&self) -> Option<&TrialLine> {
        let drifted = |t: &TrialLine| t.reason.as_deref().is_some_and(|r| r.starts_with("drift"));
        let mut rerun_after = false;
        for t in self.trials.iter().rev() {
            if t.role == Role::Rerun {
                rerun_after = true;
            }
            if t.status == Status::Ok
                && matches!(t.role, Role::Default | Role::Anchor)
                && (!drifted(t) || rerun_after)
            {
                return Some(t);
            }
        }
        None
    }

    /// The defaults trial, whatever its status, if it finished.
    pub fn default_trial(&self) -> Option<&TrialLine> {
        self.trials
            .iter()
            .find(|t| t.role == Role::Default && t.finished())
    }

    /// Measured candidates (not anchors), best score first.
    pub fn ranked(&self) -> Vec<&TrialLine> {
        let mut v: Vec<&TrialLine> = self
            .effective()
            .into_iter()
            .filter(|t| !matches!(t.role, Role::Anchor | Role::Race) && t.status == Status::Ok)
            .collect();
        v.sort_by(|a, b| {
            let s = |t: &TrialLine| t.objective.score.unwrap_or(f64::NEG_INFINITY);
            s(b).total_cmp(&s(a))
                .then(b.full.cmp(&a.full))
                .then(a.id.cmp(&b.id))
        });
        v
    }

    /// The winner: the best fully measured candidate.
    pub fn winner(&self) -> Option<&TrialLine> {
        self.ranked().into_iter().find(|t| t.full)
    }

    /// The first finished line for a configuration the solver proposed
    /// (what the solver was told then; replay reads the same).
    pub fn first_finished(&self, config: &Config) -> Option<&TrialLine> {
        self.trials.iter().find(|t| {
            t.finished()
                && matches!(t.role, Role::Search | Role::Default)
                && t.config_order == config.0
        })
    }

    /// Configurations measured against the trial budget (defaults and search).
    pub fn trials_used(&self) -> u32 {
        self.trials
            .iter()
            .filter(|t| t.measured() && matches!(t.role, Role::Search | Role::Default))
            .count() as u32
    }

    /// Minutes of trial time used (start-up + measuring, every role).
    pub fn minutes_used(&self) -> f64 {
        self.trials
            .iter()
            .map(|t| t.startup_s + t.measure_s)
            .sum::<f64>()
            / 60.0
    }

    /// Search trials measured since the last anchor (or the defaults) whose
    /// results would be suspect if the anchor drifted now.
    pub fn since_clean_anchor(&self) -> Vec<u64> {
        let clean = |t: &TrialLine| {
            t.finished()
                && (t.role == Role::Default
                    || (t.role == Role::Anchor
                        && !t.reason.as_deref().is_some_and(|r| r.starts_with("drift"))))
        };
        let last = self.trials.iter().rposition(clean);
        let from = last.map_or(0, |i| i + 1);
        let gone = self.superseded();
        self.trials[from..]
            .iter()
            .filter(|t| t.measured() && t.role == Role::Search && !gone.contains(&t.id))
            .map(|t| t.id)
            .collect()
    }

    /// Total start-up and measuring seconds.
    pub fn time_split_s(&self) -> (f64, f64) {
        self.trials
            .iter()
            .fold((0.0, 0.0), |(a, b), t| (a + t.startup_s, b + t.measure_s))
    }
}

/// One campaign in a folder listing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Listed {
    /// Campaign name (folder name).
    pub name: String,
    /// Log path.
    pub path: PathBuf,
    /// Trial lines.
    pub trials: usize,
    /// The objective label.
    pub objective: String,
    /// The winner's score against the defaults.
    pub best_score: Option<f64>,
    /// The winner's configuration label.
    pub best: Option<String>,
    /// When the last trial finished.
    pub last: Option<String>,
    /// Why the log could not be read (the other fields are then empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// Campaigns under `dir` (each `dir/NAME/trials.jsonl`), by name.
pub fn list(dir: &Path) -> Result<Vec<Listed>, CampaignError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CampaignError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = log::path_in(&e.path());
        if !path.is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let h = match History::read(&path) {
            Ok(h) => h,
            // One bad log must not hide the others: list it as unreadable.
            Err(err) => {
                let why = err.to_string();
                let first = why.lines().next().unwrap_or_default().to_string();
                out.push(Listed {
                    name,
                    objective: format!("UNREADABLE: {first}"),
                    trials: 0,
                    best_score: None,
                    best: None,
                    last: None,
                    unreadable: Some(why),
                    path,
                });
                continue;
            }
        };
        let winner = h.winner();
        out.push(Listed {
            name,
            objective: h
                .sessions
                .last()
                .map(|s| s.objective.clone())
                .or_else(|| h.trials.first().map(|t| t.objective.label.clone()))
                .unwrap_or_default(),
            trials: h.trials.len(),
            best_score: winner.and_then(|w| w.objective.score),
            best: winner.map(|w| w.config().label()),
            last: h.trials.last().map(|t| t.finished_at.clone()),
            unreadable: None,
            path,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
