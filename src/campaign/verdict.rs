//! One rule for a trial's verdict, whoever ran it: the tuner's trials and
//! hand-run `bench --log` trials are judged by the same function against the
//! same evidence (the campaign's best so far, the measured noise and each
//! line's paired interval over the defaults), so a log never holds two
//! definitions of "better".

use super::history::History;
use super::record::{Role, TrialLine, Verdict};
use crate::trial::Status;

/// What a verdict is judged against.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The best score so far and its trial id.
    pub best: Option<(f64, u64)>,
    /// Smallest relative change of the re-measured defaults worth
    /// re-running for (the change must also be beyond the noise).
    pub drift_limit: f64,
    /// The measured noise, for drift.
    pub noise: crate::tune::stats::Noise,
    /// The confidence of the drift test.
    pub confidence: f64,
    /// The defaults block drift is judged from, and the objective that
    /// turns a line into a block.
    pub drift_baseline: Option<(crate::tune::stats::Block, crate::tune::objective::Objective)>,
    /// Trials since the last clean anchor (re-run when the anchor drifted).
    pub since_clean_anchor: Vec<u64>,
    /// How reports name the defaults (`llama-server's defaults`).
    pub defaults: String,
}

impl Evidence {
    /// The evidence a log holds, with the campaign's drift limit.
    pub fn from_history(h: &History, drift_limit: f64, defaults: String) -> Evidence {
        let objective = h
            .trials
            .first()
            .and_then(|t| crate::tune::objective::Objective::from_label(&t.objective.label));
        let confidence = h
            .sessions
            .last()
            .and_then(|s| s.confidence)
            .unwrap_or(super::evidence::DEFAULT_CONFIDENCE);
        let noise = objective.as_ref().map_or_else(Default::default, |o| {
            super::evidence::LogEvidence::of(h, o, confidence).noise
        });
        let drift_baseline = match (objective, h.drift_baseline()) {
            (Some(o), Some(t)) => Some((super::evidence::block(t, &o), o)),
            _ => None,
        };
        Evidence {
            best: h
                .winner()
                .and_then(|w| w.objective.score.map(|s| (s, w.id))),
            drift_limit,
            noise,
            confidence,
            drift_baseline,
            since_clean_anchor: h.since_clean_anchor(),
            defaults,
        }
    }
}

/// Set the line's verdict and its reason (and, for a drifted anchor, the
/// line's `reason`, which the runner reads to re-run the suspect trials).
pub fn judge(line: &mut TrialLine, e: &Evidence) {
    let pct = |s: f64| format!("{:+.1}%", (s - 1.0) * 100.0);
    let lossy = if line.lossy.is_empty() {
        String::new()
    } else {
        format!(" (lossy: {})", line.lossy.join(", "))
    };
    let interval = line
        .objective
        .interval
        .map(|iv| format!("; gain {}", iv.label()))
        .unwrap_or_default();
    let by = if line.role == Role::Manual {
        "hand-run: "
    } else {
        ""
    };
    let (verdict, reason) = match (line.status, line.role, line.objective.score) {
        (Status::Ok, Role::Default, _) => (Verdict::Keep, format!("the reference: {}", e.defaults)),
        (Status::Ok, Role::Anchor, Some(_)) => {
            let (change, drifted) = match &e.drift_baseline {
                Some((base, o)) => {
                    let now = crate::tune::stats::Block {
                        seq: line.id,
                        logs: o.log_perf(&line.measurements),
                    };
                    let change = now.mean() - base.mean();
                    let d =
                        crate::tune::stats::drift(base, &now, &e.noise, e.confidence, e.drift_limit);
                    (change.exp(), d.is_some())
                }
                None => (line.objective.score.unwrap_or(1.0), false),
            };
            let noise = format!("{:.1}%", e.noise.within_sd * 100.0);
            if drifted {
                line.reason = Some(format!(
                    "drift: the defaults now score {change:.3} ({}) of their last clean measurement, beyond the noise (sd {noise} a repeat) and {:.0}%; re-running trials {:?}",
                    pct(change),
                    e.drift_limit * 100.0,
                    e.since_clean_anchor
                ));
            }
            (
                Verdict::Discard,
                format!(
                    "anchor: the defaults re-measured at {} ({})",
                    pct(change),
                    if drifted { "drifted" } else { "clean: within the noise" }
                ),
            )
        }
        (Status::Ok, Role::Race, _) => (
            Verdict::Discard,
            format!(
                "race round {}: measured beside the other finalists and the defaults{interval}{lossy}",
                line.round.unwrap_or(0)
            ),
        ),
        (Status::Ok, _, Some(s)) if !line.full => (
            Verdict::Discard,
            format!(
                "{by}screened out at {} over the defaults{}{lossy}",
                pct(s),
                interval
            ),
        ),
        (Status::Ok, _, Some(s)) => match e.best {
            Some((b, id)) if s <= b => {
                let gap = 1.0 - s / b;
                let noise = line.objective.noise;
                let how = if gap <= noise.max(0.03) && gap < 0.2 {
                    "within noise of"
                } else {
                    "below"
                };
                (
                    Verdict::Discard,
                    format!(
                        "{by}{:.1}% {how} the best so far (trial {id}){interval}{lossy}",
                        gap * 100.0
                    ),
                )
            }
            _ => (
                Verdict::Keep,
                format!("{by}best so far: {} over the defaults{interval}{lossy}", pct(s)),
            ),
        },
        (Status::Ok, _, None) => (
            Verdict::Discard,
            format!("{by}measured, but the objective could not be scored (no reference)"),
        ),
        (st, _, _) => (
            Verdict::Discard,
            // A reason may already say its status ("skipped: ..."): not twice.
            format!(
                "{}: {}",
                st.as_str(),
                line.reason.as_deref().map_or("no reason given", |r| r
                    .strip_prefix(st.as_str())
                    .and_then(|r| r.strip_prefix(": "))
                    .unwrap_or(r))
            ),
        ),
    };
    line.verdict = verdict;
    line.verdict_reason = reason;
}
