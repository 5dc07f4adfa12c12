//! One rule for a trial's verdict, whoever ran it: the tuner's trials and
//! hand-run `bench --log` trials are judged by the same function against the
//! same evidence (the campaign's best so far and its noise), so a log never
//! holds two definitions of "better".

use super::history::History;
use super::record::{Role, TrialLine, Verdict};
use crate::trial::Status;

/// What a verdict is judged against.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The best score so far and its trial id.
    pub best: Option<(f64, u64)>,
    /// Largest relative change of the re-measured defaults still called clean.
    pub drift_limit: f64,
    /// Trials since the last clean anchor (re-run when the anchor drifted).
    pub since_clean_anchor: Vec<u64>,
    /// How reports name the defaults (`llama-server's defaults`).
    pub defaults: String,
}

impl Evidence {
    /// The evidence a log holds, with the campaign's drift limit.
    pub fn from_history(h: &History, drift_limit: f64, defaults: String) -> Evidence {
        Evidence {
            best: h
                .winner()
                .and_then(|w| w.objective.score.map(|s| (s, w.id))),
            drift_limit,
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
    let by = if line.role == Role::Manual {
        "hand-run: "
    } else {
        ""
    };
    let (verdict, reason) = match (line.status, line.role, line.objective.score) {
        (Status::Ok, Role::Default, _) => (Verdict::Keep, format!("the reference: {}", e.defaults)),
        (Status::Ok, Role::Anchor, Some(s)) => {
            let drift = (s - 1.0).abs();
            if drift > e.drift_limit {
                line.reason = Some(format!(
                    "drift: the defaults now score {s:.3} ({}), beyond {:.0}%; re-running trials {:?}",
                    pct(s),
                    e.drift_limit * 100.0,
                    e.since_clean_anchor
                ));
            }
            (
                Verdict::Discard,
                format!(
                    "anchor: the defaults re-measured at {} ({})",
                    pct(s),
                    if drift > e.drift_limit {
                        "drifted"
                    } else {
                        "clean"
                    }
                ),
            )
        }
        (Status::Ok, _, Some(s)) if !line.full => (
            Verdict::Discard,
            format!("{by}screened out at {} over the defaults{lossy}", pct(s)),
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
                        "{by}{:.1}% {how} the best so far (trial {id}){lossy}",
                        gap * 100.0
                    ),
                )
            }
            _ => (
                Verdict::Keep,
                format!("{by}best so far: {} over the defaults{lossy}", pct(s)),
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
