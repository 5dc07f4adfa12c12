//! What a log says about the defaults and each configuration, as
//! [`crate::tune::stats`] blocks: the defaults are an estimate that every
//! measurement of them updates (the first, the anchors, re-runs, race
//! rounds, and configurations identical in effect to them), the noise is
//! measured from the log, and each configuration's gain is an interval
//! from its measurements paired with the defaults nearest in time.

use super::history::History;
use super::record::TrialLine;
use crate::trial::Status;
use crate::tune::objective::Objective;
use crate::tune::stats::{self, Block, Interval, Noise};

/// Confidence when the log does not say (older logs).
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// One trial as a block of log performance.
pub fn block(t: &TrialLine, o: &Objective) -> Block {
    Block {
        seq: t.id,
        logs: o.log_perf(&t.measurements),
    }
}

/// Whether a configuration runs what the defaults run: every flag left
/// out or set to the server's default as its flag table states it. Such a
/// configuration is pooled with the defaults instead of raced against them.
pub fn same_as_defaults(t: &TrialLine) -> bool {
    let backend = t
        .server
        .backend
        .parse::<crate::server::BackendKind>()
        .unwrap_or_default();
    let table = backend.get().flags();
    t.config_order.iter().all(|(flag, value)| {
        value == crate::tune::space::DEFAULT
            || table
                .flag(flag)
                .is_some_and(|d| d.server_default.eq_ignore_ascii_case(value))
    })
}

/// The evidence a log holds, for one objective.
#[derive(Debug, Clone)]
pub struct LogEvidence {
    /// Every measured block of the defaults (or what runs the same), in time order.
    pub defaults: Vec<Block>,
    /// Every measured block, by trial id.
    pub all: Vec<(u64, Block)>,
    /// The measured noise.
    pub noise: Noise,
    /// Two-sided confidence.
    pub confidence: f64,
}

impl LogEvidence {
    /// Collect the effective (not superseded) measured trials of `h`.
    pub fn of(h: &History, o: &Objective, confidence: f64) -> LogEvidence {
        let ok: Vec<&TrialLine> = h
            .effective()
            .into_iter()
            .filter(|t| t.status == Status::Ok)
            .collect();
        let all: Vec<(u64, Block)> = ok.iter().map(|t| (t.id, block(t, o))).collect();
        let defaults: Vec<Block> = ok
            .iter()
            .filter(|t| same_as_defaults(t))
            .map(|t| block(t, o))
            .filter(|b| b.n() > 0)
            .collect();
        let refs: Vec<&Block> = all.iter().map(|(_, b)| b).collect();
        let drefs: Vec<&Block> = defaults.iter().collect();
        let noise = Noise::measure(&refs, &drefs);
        LogEvidence {
            defaults,
            all,
            noise,
            confidence,
        }
    }

    /// The interval of `candidate` blocks over the defaults (paired).
    pub fn interval(&self, candidate: &[&Block]) -> Option<Interval> {
        let d: Vec<&Block> = self.defaults.iter().collect();
        stats::paired(candidate, &d, &self.noise, self.confidence)
    }

    /// The interval of every measured block of the configuration of `t`
    /// (and `extra`, a block not in the log yet).
    pub fn interval_for(
        &self,
        h: &History,
        t: &TrialLine,
        extra: Option<&Block>,
    ) -> Option<Interval> {
        let ids: std::collections::BTreeSet<u64> = h
            .effective()
            .into_iter()
            .filter(|x| x.config_order == t.config_order && x.status == Status::Ok)
            .map(|x| x.id)
            .collect();
        let mut blocks: Vec<&Block> = self
            .all
            .iter()
            .filter(|(id, _)| ids.contains(id))
            .map(|(_, b)| b)
            .collect();
        if let Some(e) = extra {
            blocks.push(e);
        }
        self.interval(&blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_at_its_server_default_is_the_defaults() {
        let mut t: TrialLine = serde_json::from_value(serde_json::json!({
            "v": 1, "campaign": "c", "id": 1, "session": 1, "role": "search",
            "config": {}, "config_order": [], "lossy": [], "command": "",
            "server": {"backend": "llama", "binary": "b", "build": "x"},
            "hardware": {"profile": "p", "cpu": "c", "physical_cores": 2, "memory_bytes": 1},
            "model": {"path": "m", "size_bytes": 1, "sha256": ""},
            "status": "ok", "reason": null, "measurements": {}, "full": true,
            "objective": {"label": "decode_tok_s@0", "value": null, "score": null,
                          "pct_of_ceiling": null, "noise": 0.0},
            "verdict": "KEEP", "verdict_reason": "", "supersedes": [], "slots": null,
            "quality": null, "started_at": "", "finished_at": "", "startup_s": 0.0,
            "measure_s": 0.0
        }))
        .expect("a trial line");
        t.config_order = vec![
            ("-fa".into(), "auto".into()),
            ("-t".into(), "default".into()),
        ];
        assert!(same_as_defaults(&t));
        t.config_order = vec![("-fa".into(), "on".into())];
        assert!(!same_as_defaults(&t));
    }
}
