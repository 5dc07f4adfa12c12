//! The field's charts for rooftune's results: a campaign's optimisation
//! history and per-flag effects (as Optuna draws them), decode against
//! context depth with its ceiling (as llama.cpp's `compare-llama-bench.py
//! --plot` draws tokens per second against depth). Builders only: they turn
//! results into [`Chart`] data; `format::svg` draws them.

use super::chart::{Axis, Chart, Point, Series, Style};
use crate::campaign::history::History;
use crate::campaign::record::TrialLine;
use crate::trial::Status;
use serde_json::Value;

fn subtitle_of(name: &str, h: &History) -> String {
    let t = h.trials.first();
    let model = t.map_or("?".to_string(), |t| {
        std::path::Path::new(&t.model.path)
            .file_name()
            .map_or(t.model.path.clone(), |f| f.to_string_lossy().into_owned())
    });
    let hw = t.map_or("?".to_string(), |t| {
        format!("{} ({})", t.hardware.profile, t.hardware.cpu)
    });
    let build = t.map_or("?".to_string(), |t| {
        t.server.build.lines().next().unwrap_or("").to_string()
    });
    format!("{model} on {hw}; {build}; campaign {name}")
}

/// The optimisation history: each trial's score (1 = the defaults) in log
/// order, the best so far as a step line, the defaults as a dashed line,
/// screened-only trials hollow, failed and skipped trials as crosses below
/// the axis.
pub fn campaign_history(name: &str, h: &History) -> Chart {
    let mut full = Vec::new();
    let mut screened = Vec::new();
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    let mut best = Vec::new();
    let mut best_so_far: Option<f64> = None;
    for t in &h.trials {
        let x = t.id as f64;
        let note = format!(
            "trial {} `{}`: {}{}",
            t.id,
            t.config().label(),
            t.status.as_str(),
            t.objective.score.map_or(String::new(), |s| format!(
                ", {:+.1}% vs defaults",
                (s - 1.0) * 100.0
            ))
        );
        match (t.status, t.objective.score) {
            (Status::Ok, Some(s)) if t.full => {
                full.push(Point::new(x, s).note(note));
                if best_so_far.is_none_or(|b| s > b) {
                    best_so_far = Some(s);
                }
            }
            (Status::Ok, Some(s)) => screened.push(Point::new(x, s).note(note)),
            (Status::Skipped, _) => skipped.push(Point::new(x, f64::NAN).note(note)),
            (Status::Ok, None) => {}
            _ => failed.push(Point::new(x, f64::NAN).note(note)),
        }
        if let Some(b) = best_so_far {
            best.push(Point::new(x, b));
        }
    }
    let (first, last) = (
        h.trials.first().map_or(0.0, |t| t.id as f64),
        h.trials.last().map_or(1.0, |t| t.id as f64),
    );
    let mut series = vec![
        Series::new(
            "defaults (1.0)",
            Style::Dashed,
            vec![Point::new(first, 1.0), Point::new(last, 1.0)],
        ),
        Series::new("best so far", Style::Step, best),
        Series::new("measured", Style::Points, full),
    ];
    if !screened.is_empty() {
        series.push(Series::new("screened only", Style::Hollow, screened));
    }
    if !failed.is_empty() {
        series.push(Series::new(
            "crashed / oom / timeout",
            Style::Crosses,
            failed,
        ));
    }
    if !skipped.is_empty() {
        series.push(Series::new("skipped", Style::Crosses, skipped));
    }
    let objective = h
        .sessions
        .last()
        .map_or(String::new(), |s| s.objective.clone());
    Chart {
        id: "campaign".into(),
        title: format!("Campaign {name}: {objective} per trial"),
        subtitle: subtitle_of(name, h),
        x: Axis::linear("trial (log order)"),
        y: Axis::linear("score vs the defaults (1 = defaults)"),
        series,
    }
}

/// One small chart per flag: each measured trial's score against the
/// flag's value, the defaults dashed.
pub fn flag_effects(name: &str, h: &History) -> Vec<Chart> {
    let measured: Vec<&TrialLine> = h
        .trials
        .iter()
        .filter(|t| t.status == Status::Ok && t.objective.score.is_some())
        .collect();
    let mut flags: Vec<String> = Vec::new();
    for t in &measured {
        for (k, _) in &t.config_order {
            if !flags.contains(k) {
                flags.push(k.clone());
            }
        }
    }
    flags
        .iter()
        .map(|flag| {
            let mut values: Vec<String> = Vec::new();
            for t in &measured {
                let v = t
                    .config
                    .get(flag)
                    .cloned()
                    .unwrap_or_else(|| "default".into());
                if !values.contains(&v) {
                    values.push(v);
                }
            }
            let pts = measured
                .iter()
                .filter_map(|t| {
                    let v = t
                        .config
                        .get(flag)
                        .cloned()
                        .unwrap_or_else(|| "default".into());
                    let i = values.iter().position(|x| *x == v)?;
                    let s = t.objective.score?;
                    Some(Point::new(i as f64, s).note(format!(
                        "trial {} `{}`: {s:.3}",
                        t.id,
                        t.config().label()
                    )))
                })
                .collect();
            let n = values.len().max(1) as f64;
            Chart {
                id: format!("flag{}", flag.replace('-', "_")),
                title: format!("Effect of {flag}"),
                subtitle: subtitle_of(name, h),
                x: Axis::categories(format!("{flag} value"), values),
                y: Axis::linear("score vs the defaults"),
                series: vec![
                    Series::new(
                        "defaults",
                        Style::Dashed,
                        vec![Point::new(-0.4, 1.0), Point::new(n - 0.6, 1.0)],
                    ),
                    Series::new("trials", Style::Points, pts),
                ],
            }
        })
        .collect()
}

/// Decode against context depth for a `bench --json` result: the measured
/// median per depth with its min-max, and the roofline ceiling per depth; a
/// median above its ceiling is drawn as a warning.
pub fn bench_depth(v: &Value) -> Option<Chart> {
    let decode = v["measurement"]["decode"].as_array()?;
    let mut measured = Vec::new();
    let mut ceiling = Vec::new();
    for d in decode {
        let depth = d["depth"].as_f64()?;
        let s = if d["server_tok_s"].is_object() {
            &d["server_tok_s"]
        } else {
            &d["client_tok_s"]
        };
        if let (Some(med), Some(lo), Some(hi)) =
            (s["median"].as_f64(), s["min"].as_f64(), s["max"].as_f64())
        {
            let above = d["vs_ceiling"]["above_ceiling"].as_bool().unwrap_or(false);
            let pct = d["vs_ceiling"]["pct_of_ceiling"]
                .as_f64()
                .map_or(String::new(), |p| format!(", {p:.0}% of ceiling"));
            measured.push(
                Point::new(depth, med)
                    .range(lo, hi)
                    .warn(above)
                    .note(format!(
                        "depth {depth:.0}: {med:.1} tok/s (min {lo:.1}, max {hi:.1}){pct}"
                    )),
            );
        }
        if let Some(c) = d["vs_ceiling"]["ceiling"].as_f64() {
            ceiling.push(
                Point::new(depth, c).note(format!("ceiling at depth {depth:.0}: {c:.1} tok/s")),
            );
        }
    }
    let t = &v["target"];
    let file = t["model"].as_str().unwrap_or("?");
    let file = std::path::Path::new(file)
        .file_name()
        .map_or(file.to_string(), |f| f.to_string_lossy().into_owned());
    let subtitle = format!(
        "{} on {}; {} {}",
        file,
        v["ceilings"]["hardware"].as_str().unwrap_or("no profile"),
        t["backend"].as_str().unwrap_or("?"),
        t["version"]
            .as_str()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
    );
    let mut series = Vec::new();
    if !ceiling.is_empty() {
        series.push(Series::new("roofline ceiling", Style::Dashed, ceiling));
    }
    series.push(Series::new(
        "measured median (min-max)",
        Style::Line,
        measured,
    ));
    Some(Chart {
        id: "decode_depth".into(),
        title: "Decode against context depth".into(),
        subtitle,
        x: Axis::linear("context depth (tokens)"),
        y: Axis::linear("decode (tok/s per stream)"),
        series,
    })
}
