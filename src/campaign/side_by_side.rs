//! Two logs' measurements side by side, each as a share of ONE ceiling:
//! what `campaign compare` adds when two logs measured the same
//! architecture, typically llama-server on a GGUF and mlx_lm.server on its
//! MLX twin (`rooftune synth --format both`).
//!
//! A ceiling comes from the model's shape and the machine, never from the
//! backend, so one number serves both columns: the first log's ceiling for
//! that measurement, else the second's (a note says when the two logs
//! recorded different ones, e.g. two probes of the machine). Two backends'
//! logs on different shapes are refused (their percentages would not share a
//! ceiling); two logs of one backend on different models are simply not put
//! side by side.
//!
//! Which trial a figure comes from: a tuned log's winner; in a log of
//! hand-run trials only (`bench --log`, `replay --log`) the latest trial
//! that measured it. Each cell shows the median and its coefficient of
//! variation (the noise of repeats; for a replay, the spread over the
//! session's requests).

use super::history::History;
use super::record::{Role, TrialLine};
use super::CampaignError;
use crate::shape::ShapeKey;
use crate::trial::{Stat, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One log's figure for one measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Median, in the measurement's unit (tok/s or seconds).
    pub value: f64,
    /// Coefficient of variation of its samples.
    pub cv: f64,
    /// Samples.
    pub n: usize,
    /// Percent of the shared ceiling (rates only; None above it).
    pub pct_of_ceiling: Option<f64>,
    /// Above the shared ceiling: the profile or the shape is wrong.
    pub above_ceiling: bool,
    /// The trial it comes from.
    pub trial: u64,
}

/// One measurement in both logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The measurement key (`decode_tok_s@1024`).
    pub key: String,
    /// What it is, with its unit (`decode at depth 1024, tok/s`).
    pub label: String,
    /// The one ceiling both cells are a share of (rates), tok/s.
    pub ceiling: Option<f64>,
    /// The first log's figure.
    pub a: Option<Cell>,
    /// The second log's figure.
    pub b: Option<Cell>,
}

/// The measurements of two logs against one ceiling each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideBySide {
    /// The shape both logs measured.
    pub shape: ShapeKey,
    /// The first log's server (`llama-server`).
    pub a_server: String,
    /// The second log's server (`mlx_lm.server`).
    pub b_server: String,
    /// Rows: prefill, TTFT, decode by depth, then the rest.
    pub rows: Vec<Row>,
    /// What to keep in mind (ceilings that differed, other machines).
    pub notes: Vec<String>,
}

/// A log's figures by key: (stat, ceiling, trial id).
type Figures = BTreeMap<String, (Stat, Option<f64>, u64)>;

/// Finished trials that measured something.
fn measured(h: &History) -> Vec<&TrialLine> {
    h.effective()
        .into_iter()
        .filter(|t| t.status == Status::Ok && !t.measurements.is_empty())
        .collect()
}

/// See the module docs: the winner's figures, or for hand-run logs the
/// latest of each.
fn figures(h: &History) -> Figures {
    let lines = measured(h);
    let hand_run = lines.iter().all(|t| t.role == Role::Manual);
    let chosen: Vec<&TrialLine> = match h.winner() {
        Some(w) if !hand_run => vec![w],
        _ => lines,
    };
    let mut out = Figures::new();
    for t in chosen {
        for (k, s) in &t.measurements {
            out.insert(k.clone(), (s.clone(), t.ceilings.get(k).copied(), t.id));
        }
    }
    out
}

/// The server a log measured, as it names itself (`llama-server`).
fn server(h: &History) -> String {
    measured(h).last().map_or_else(String::new, |t| {
        t.server
            .backend
            .parse::<crate::server::BackendKind>()
            .map_or_else(|_| t.server.backend.clone(), |k| k.get().name().into())
    })
}

/// The shape a log's trials measured: as recorded, else read from the model
/// path it records (logs from before shapes were recorded).
fn shape(h: &History) -> Option<(ShapeKey, String)> {
    let t = measured(h).into_iter().last()?;
    let path = t.model.path.clone();
    if let Some(s) = &t.model.shape {
        return Some((s.clone(), path));
    }
    let p = Path::new(&path);
    let read = if crate::mlx::is_model_dir(p) {
        crate::mlx::shape::model_shape(p).ok()
    } else {
        crate::gguf::GgufModel::open(p)
            .ok()
            .and_then(|m| crate::gguf::shape::model_shape(&m).ok())
    };
    Some((read?.key(), path))
}

fn model_path(h: &History) -> String {
    measured(h)
        .last()
        .map_or_else(String::new, |t| t.model.path.clone())
}

/// A rate (tok/s, has a ceiling) rather than a time.
fn is_rate(key: &str) -> bool {
    key.split('@').next().is_some_and(|k| k.ends_with("tok_s"))
}

/// Order of rows: prefill, cold TTFT, decode by depth, the rest by name.
fn order(key: &str) -> (u8, u64, String) {
    let (kind, at) = key.split_once('@').unwrap_or((key, ""));
    let rank = match kind {
        "prefill_tok_s" => 0,
        "ttft_s" => 1,
        "decode_tok_s" => 2,
        "aggregate_tok_s" => 3,
        _ => 4,
    };
    // cache on before off
    let at_n = at.parse().unwrap_or(u64::from(at.ends_with("off")));
    (rank, at_n, key.to_string())
}

/// What a key measures, with its unit.
pub fn label(key: &str) -> String {
    let (kind, at) = key.split_once('@').unwrap_or((key, ""));
    match kind {
        "prefill_tok_s" => format!("prefill of {at} tokens, tok/s"),
        "ttft_s" => format!("TTFT of a cold {at}-token prompt, s"),
        "decode_tok_s" => format!("decode at depth {at}, tok/s"),
        "aggregate_tok_s" => format!("aggregate decode of {at} streams, tok/s"),
        "replay_ttft_s" => format!(
            "replay TTFT median, prompt cache {}, s",
            at.strip_prefix("cache-").unwrap_or(at)
        ),
        _ => key.to_string(),
    }
}

fn cell(f: Option<&(Stat, Option<f64>, u64)>, key: &str, ceiling: Option<f64>) -> Option<Cell> {
    let (s, _, trial) = f?;
    let vs = ceiling
        .filter(|_| is_rate(key))
        .map(|c| crate::compare::ceiling::versus(s.median, c));
    Some(Cell {
        value: s.median,
        cv: s.cv,
        n: s.n.max(s.samples.len()),
        pct_of_ceiling: vs.as_ref().and_then(|v| v.pct_of_ceiling),
        above_ceiling: vs.is_some_and(|v| v.above_ceiling),
        trial: *trial,
    })
}

/// Two logs side by side (module docs); None when they are not to be
/// (one backend, different or unknown models, or nothing measured).
pub fn build(
    a: (&str, &History),
    b: (&str, &History),
) -> Result<Option<SideBySide>, CampaignError> {
    let (fa, fb) = (figures(a.1), figures(b.1));
    if fa.is_empty() || fb.is_empty() {
        return Ok(None);
    }
    let (a_server, b_server) = (server(a.1), server(b.1));
    let across = a_server != b_server;
    let unknown = |name: &str, h: &History| CampaignError::ShapeUnknown {
        name: name.to_string(),
        path: model_path(h),
    };
    let (sa, sb) = match (shape(a.1), shape(b.1)) {
        (Some(sa), Some(sb)) => (sa.0, sb.0),
        (None, _) if across => return Err(unknown(a.0, a.1)),
        (_, None) if across => return Err(unknown(b.0, b.1)),
        _ => return Ok(None),
    };
    let differences = sa.differences(&sb);
    if !differences.is_empty() {
        if !across {
            return Ok(None);
        }
        return Err(CampaignError::ShapesDiffer {
            a: a.0.to_string(),
            a_server,
            b: b.0.to_string(),
            b_server,
            differences: differences
                .iter()
                .map(|d| format!("  {d}"))
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort_by_key(|k| order(k));
    keys.dedup();
    let mut notes = Vec::new();
    let rows = keys
        .into_iter()
        .map(|k| {
            let (ca, cb) = (
                fa.get(k).and_then(|f| f.1),
                fb.get(k).and_then(|f| f.1),
            );
            if let (Some(x), Some(y)) = (ca, cb) {
                if (x - y).abs() > 0.005 * x.abs().max(y.abs()) {
                    notes.push(format!(
                        "{}: the logs recorded ceilings {x:.1} and {y:.1} (two probes of the machine?); both columns use {}'s",
                        label(k),
                        a.0
                    ));
                }
            }
            let ceiling = ca.or(cb).filter(|_| is_rate(k));
            Row {
                key: k.clone(),
                label: label(k),
                ceiling,
                a: cell(fa.get(k), k, ceiling),
                b: cell(fb.get(k), k, ceiling),
            }
        })
        .collect();
    let cpu = |h: &History| measured(h).last().map(|t| t.hardware.cpu.clone());
    if let (Some(x), Some(y)) = (cpu(a.1), cpu(b.1)) {
        if x != y {
            notes.push(format!(
                "the logs come from different machines ({x} and {y}): one ceiling does not fit both"
            ));
        }
    }
    if fa.keys().chain(fb.keys()).any(|k| k.starts_with("replay_")) {
        notes.push(
            "replay rows: the median over the session's requests; their CV is the spread across turns, not noise".into(),
        );
    }
    Ok(Some(SideBySide {
        shape: sa,
        a_server,
        b_server,
        rows,
        notes,
    }))
}

/// Hand-made logs for tests of this module and of its report.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::campaign::record::{Line, ModelInfo, ObjectiveValue, Verdict};
    use crate::trial::ServerInfo;

    pub fn shape(layers: u64) -> ShapeKey {
        ShapeKey {
            layers,
            hidden: 512,
            vocab: 512,
            experts: None,
            kv_elements_per_token: 4096,
            params_per_token: 1.2e7,
            bytes_per_token: 4.8e7,
        }
    }

    pub fn log(backend: &str, layers: u64, decode: f64, ceiling: f64) -> History {
        let stat = |x: f64| Stat::of(&[x * 0.98, x, x * 1.02]);
        let t = TrialLine {
            v: 1,
            campaign: "c".into(),
            id: 1,
            session: 0,
            role: Role::Manual,
            config: BTreeMap::new(),
            config_order: Vec::new(),
            lossy: Vec::new(),
            command: String::new(),
            server: ServerInfo {
                backend: backend.into(),
                binary: backend.into(),
                build: "b1".into(),
            },
            hardware: Default::default(),
            model: ModelInfo {
                path: format!("/nonexistent/{backend}"),
                shape: Some(shape(layers)),
                ..Default::default()
            },
            status: Status::Ok,
            reason: None,
            full: true,
            measurements: BTreeMap::from([
                ("decode_tok_s@1024".to_string(), stat(decode * 0.8)),
                ("decode_tok_s@0".to_string(), stat(decode)),
                ("prefill_tok_s@512".to_string(), stat(decode * 10.0)),
                ("ttft_s@512".to_string(), stat(0.5)),
            ]),
            ceilings: BTreeMap::from([
                ("decode_tok_s@0".to_string(), ceiling),
                ("decode_tok_s@1024".to_string(), ceiling * 0.9),
                ("prefill_tok_s@512".to_string(), ceiling * 20.0),
            ]),
            objective: ObjectiveValue::default(),
            verdict: Verdict::Keep,
            verdict_reason: String::new(),
            supersedes: Vec::new(),
            round: None,
            shared_start: None,
            slots: None,
            quality: None,
            started_at: String::new(),
            finished_at: String::new(),
            startup_s: 0.0,
            measure_s: 0.0,
        };
        History::from_lines(vec![Line::Trial(Box::new(t))])
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::log;
    use super::*;

    #[test]
    fn one_ceiling_for_both_columns_and_rows_in_order() {
        let (a, b) = (log("llama", 4, 50.0, 100.0), log("mlx", 4, 40.0, 104.0));
        let s = build(("a", &a), ("b", &b)).unwrap().expect("side by side");
        assert_eq!(
            (s.a_server.as_str(), s.b_server.as_str()),
            ("llama-server", "mlx_lm.server")
        );
        let keys: Vec<&str> = s.rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "prefill_tok_s@512",
                "ttft_s@512",
                "decode_tok_s@0",
                "decode_tok_s@1024"
            ]
        );
        let d0 = &s.rows[2];
        assert_eq!(d0.ceiling, Some(100.0), "the first log's ceiling");
        let pct = |c: &Option<Cell>| c.as_ref().and_then(|c| c.pct_of_ceiling).unwrap();
        approx::assert_relative_eq!(pct(&d0.a), 50.0, max_relative = 1e-9);
        approx::assert_relative_eq!(pct(&d0.b), 40.0, max_relative = 1e-9);
        assert_eq!(s.rows[1].ceiling, None, "a time has no ceiling");
        assert!(s.rows[1].a.as_ref().unwrap().pct_of_ceiling.is_none());
        assert!(
            s.notes.iter().any(|n| n.contains("100.0 and 104.0")),
            "{:?}",
            s.notes
        );
    }

    #[test]
    fn two_backends_on_different_shapes_are_refused() {
        let (a, b) = (log("llama", 4, 50.0, 100.0), log("mlx", 2, 40.0, 100.0));
        let e = build(("a", &a), ("b", &b)).unwrap_err();
        assert!(matches!(e, CampaignError::ShapesDiffer { .. }), "{e}");
        assert!(e.to_string().contains("layers: 4 vs 2"), "{e}");
        // One backend on two models: no side-by-side table, no error.
        let c = log("llama", 2, 40.0, 100.0);
        assert!(build(("a", &a), ("c", &c)).unwrap().is_none());
    }

    #[test]
    fn an_unknown_shape_across_backends_is_an_error() {
        let a = log("llama", 4, 50.0, 100.0);
        let mut b = log("mlx", 4, 40.0, 100.0);
        if let Some(t) = b.trials.first_mut() {
            t.model.shape = None;
        }
        let e = build(("a", &a), ("b", &b)).unwrap_err();
        assert!(matches!(e, CampaignError::ShapeUnknown { .. }), "{e}");
    }
}
