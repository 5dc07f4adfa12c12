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

/// `version: 0.6.0-dev (build 11434, commit unknown); built with ...` ->
/// `0.6.0-dev (build 11434, commit unknown)`.
pub fn short_build(v: &str) -> String {
    let first = v.lines().next().unwrap_or("");
    let first = first.split(';').next().unwrap_or(first);
    first.trim_start_matches("version:").trim().to_string()
}

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
    let build = t.map_or("?".to_string(), |t| short_build(&t.server.build));
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
        small: false,
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
                small: true,
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
        short_build(t["version"].as_str().unwrap_or(""))
    );
    // Measured first (solid, circles), the ceiling second (dotted): the two
    // differ in greyscale too.
    let mut series = vec![Series::new(
        "measured median (min-max)",
        Style::Line,
        measured,
    )];
    if !ceiling.is_empty() {
        series.push(Series::new("roofline ceiling", Style::Dashed, ceiling));
    }
    Some(Chart {
        id: "decode_depth".into(),
        title: "Decode against context depth".into(),
        subtitle,
        x: Axis::linear("context depth (tokens)"),
        y: Axis::linear("decode (tok/s per stream)"),
        series,
        small: false,
    })
}

/// The roofline of a `bench --json` result (log-log): arithmetic intensity
/// against FLOP/s, the bandwidth slope and the compute roof with their
/// values, the ridge point, and each measurement as a point by phase
/// (decode at each depth: low intensity; prefill: a micro-batch shares one
/// read of the weights, high intensity). A point above its roof is drawn as a
/// warning, never as a win.
pub fn bench_roofline(v: &Value) -> Option<Chart> {
    let c = &v["ceilings"];
    let flops = c["flops_per_token"].as_f64()?;
    let bytes = c["bytes_per_token"].as_f64()?;
    let bw = c["bandwidth_gb_s"].as_f64()? * 1e9;
    let peak = c["peak_flops"]
        .as_f64()
        .filter(|p| p.is_finite() && *p > 0.0);
    let ubatch = c["ubatch"].as_f64().unwrap_or(512.0);
    if !(flops > 0.0 && bytes > 0.0 && bw > 0.0) {
        return None;
    }
    let roof = |x: f64| peak.map_or(bw * x, |p| (bw * x).min(p));
    let mut pts_dec = Vec::new();
    for d in v["measurement"]["decode"].as_array()? {
        let s = if d["server_tok_s"].is_object() {
            &d["server_tok_s"]
        } else {
            &d["client_tok_s"]
        };
        let (Some(tok_s), Some(ceil), Some(depth)) = (
            s["median"].as_f64(),
            d["vs_ceiling"]["ceiling"].as_f64(),
            d["depth"].as_f64(),
        ) else {
            continue;
        };
        let x = flops / (bw / ceil);
        let y = tok_s * flops;
        pts_dec.push(
            Point::new(x, y)
                .warn(y > roof(x) * (1.0 + 1e-9))
                .note(format!(
                    "decode at depth {depth:.0}: {tok_s:.1} tok/s, {:.1} FLOP/byte, {:.3} TFLOP/s",
                    x,
                    y / 1e12
                )),
        );
    }
    let p = &v["measurement"]["prefill"];
    let s = if p["server_tok_s"].is_object() {
        &p["server_tok_s"]
    } else {
        &p["client_tok_s"]
    };
    let mut pts_pre = Vec::new();
    if let Some(tok_s) = s["median"].as_f64() {
        let x = ubatch * flops / bytes;
        let y = tok_s * flops;
        pts_pre.push(
            Point::new(x, y)
                .warn(y > roof(x) * (1.0 + 1e-9))
                .note(format!(
                    "prefill: {tok_s:.0} tok/s, {:.0} FLOP/byte, {:.3} TFLOP/s",
                    x,
                    y / 1e12
                )),
        );
    }
    let xs: Vec<f64> = pts_dec.iter().chain(&pts_pre).map(|p| p.x).collect();
    Some(Chart {
        id: "roofline".into(),
        title: "Roofline".into(),
        subtitle: format!(
            "{} on {}",
            v["target"]["model"].as_str().unwrap_or("?"),
            c["hardware"].as_str().unwrap_or("?")
        ),
        x: Axis::log("arithmetic intensity (FLOP/byte)"),
        y: Axis::log("performance (FLOP/s)"),
        series: vec![
            roof_series(bw, peak, &xs),
            Series::new("decode (measured)", Style::Points, pts_dec),
            Series::new("prefill (measured)", Style::Points, pts_pre),
        ],
        small: false,
    })
}

/// The roof of a roofline chart: the bandwidth slope (`bw` bytes/s) up to
/// the ridge, then the compute roof (`peak` FLOP/s, when known), spanning
/// the points' intensities `xs` (FLOP/byte) with some room either side.
pub fn roof_series(bw: f64, peak: Option<f64>, xs: &[f64]) -> Series {
    let x_lo = xs.iter().copied().fold(f64::INFINITY, f64::min).min(1.0) / 2.0;
    let ridge = peak.map(|p| p / bw);
    let x_hi = xs
        .iter()
        .copied()
        .fold(ridge.unwrap_or(0.0), f64::max)
        .max(10.0)
        * 4.0;
    let mut slope = vec![Point::new(x_lo, bw * x_lo)];
    match ridge {
        Some(r) if r < x_hi => {
            slope.push(Point::new(r, bw * r).note(format!("ridge: {r:.1} FLOP/byte")));
            slope.push(Point::new(x_hi, bw * r));
        }
        _ => slope.push(Point::new(x_hi, bw * x_hi)),
    }
    let name = match peak {
        Some(p) if p >= 1e12 => format!("roof: {:.0} GB/s, {:.1} TFLOP/s", bw / 1e9, p / 1e12),
        Some(p) => format!("roof: {:.0} GB/s, {:.0} GFLOP/s", bw / 1e9, p / 1e9),
        None => format!("roof: {:.0} GB/s (compute roof unknown)", bw / 1e9),
    };
    Series::new(name, Style::Curve, slope)
}
