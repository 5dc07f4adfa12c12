//! What `calibrate` fits on, from the files it is given: `bench --json`
//! results and campaign logs (`experiments/NAME/trials.jsonl`, or the
//! folder holding one).
//!
//! The campaign log is read here, in `app`, because `compare` (where the fit
//! lives) ranks below `campaign`. From a log the defaults count: the last
//! measured trial that runs what llama-server's defaults run
//! ([`crate::campaign::history::History::reference`]), so every model is
//! calibrated on the same kind of server, not on whichever flags won. Its
//! `decode_tok_s@D` medians become decode points and `prefill_tok_s@N`
//! medians prefill points.

use crate::campaign::history::History;
use crate::compare::calibrate::{self, Measured};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The log file inside a campaign folder.
const LOG_FILE: &str = "trials.jsonl";

/// A campaign log when `path` is one (a `.jsonl` file, or a folder holding
/// `trials.jsonl`).
pub fn campaign_log(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        return Some(path.join(LOG_FILE));
    }
    (path.extension().is_some_and(|e| e == "jsonl")).then(|| path.to_path_buf())
}

/// Read every input: campaign logs as such, anything else as a bench result.
pub fn read_all(inputs: &[PathBuf]) -> Result<Vec<Measured>> {
    let mut runs = Vec::new();
    for p in inputs {
        match campaign_log(p) {
            Some(log) => runs.extend(read_campaign(&log)?),
            None => runs.push(calibrate::read_bench(p)?),
        }
    }
    Ok(runs)
}

/// The defaults' measurements in one campaign log (none when the defaults
/// never measured: a note says so).
pub fn read_campaign(log: &Path) -> Result<Option<Measured>> {
    let h =
        History::read(log).with_context(|| format!("reading campaign log {}", log.display()))?;
    let Some(t) = h.reference() else {
        eprintln!(
            "note: {}: no measured trial, nothing to calibrate on",
            log.display()
        );
        return Ok(None);
    };
    let (decode, prefill) = points(&t.measurements);
    if decode.is_empty() && prefill.is_empty() {
        eprintln!(
            "note: {}: trial {} has no decode or prefill rate",
            log.display(),
            t.id
        );
        return Ok(None);
    }
    Ok(Some(calibrate::measured(
        log,
        &t.model.path,
        decode,
        prefill,
    )?))
}

/// (depth or prompt tokens, tok/s) pairs.
type Rates = Vec<(u64, f64)>;

/// Decode (depth, tok/s) and prefill (tokens, tok/s) medians by probe key.
fn points(m: &crate::trial::Measurements) -> (Rates, Rates) {
    let at = |key: &str, prefix: &str| -> Option<u64> { key.strip_prefix(prefix)?.parse().ok() };
    let ok = |x: f64| x.is_finite() && x > 0.0;
    let (mut decode, mut prefill) = (Vec::new(), Vec::new());
    for (key, s) in m {
        if !ok(s.median) {
            continue;
        }
        if let Some(d) = at(key, "decode_tok_s@") {
            decode.push((d, s.median));
        } else if let Some(n) = at(key, "prefill_tok_s@") {
            prefill.push((n, s.median));
        }
    }
    (decode, prefill)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::Stat;

    #[test]
    fn rates_by_key_become_points() {
        let stat = |x: f64| Stat {
            median: x,
            ..Stat::default()
        };
        let m: crate::trial::Measurements = [
            ("decode_tok_s@0".to_string(), stat(50.0)),
            ("decode_tok_s@2048".to_string(), stat(30.0)),
            ("prefill_tok_s@512".to_string(), stat(400.0)),
            ("ttft_s@512".to_string(), stat(1.2)),
            ("decode_tok_s@4096".to_string(), stat(f64::NAN)),
        ]
        .into_iter()
        .collect();
        let (d, p) = points(&m);
        assert_eq!(d, vec![(0, 50.0), (2048, 30.0)]);
        assert_eq!(p, vec![(512, 400.0)]);
    }

    #[test]
    fn folders_and_jsonl_are_logs_other_files_are_results() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            campaign_log(dir.path()),
            Some(dir.path().join("trials.jsonl"))
        );
        assert!(campaign_log(Path::new("x/trials.jsonl")).is_some());
        assert!(campaign_log(Path::new("bench.json")).is_none());
    }
}
