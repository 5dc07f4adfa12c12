//! A prediction's charts, before anything is measured (`predict --format
//! html|svg|markdown`): the roofline (log-log intensity against FLOP/s: the
//! bandwidth slope, the compute roof and its ridge, decode at each depth as
//! ceiling and estimate band, prefill's micro-batch at its own intensity),
//! and decode against context depth (the ceiling dashed, the estimate with
//! its band, the target).

use super::chart::{Axis, Chart, Point, Series, Style};
use super::charts::roof_series;
use crate::roofline::Prediction;

/// The roofs the prediction ran against: the primary device's memory
/// bandwidth (bytes/s) and compute roof for this model's weights (FLOP/s,
/// `None` when unknown).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roofs {
    /// Memory bandwidth, bytes/s.
    pub bandwidth_bytes_s: f64,
    /// Compute roof, FLOP/s.
    pub peak_flops: Option<f64>,
}

fn subtitle(p: &Prediction) -> String {
    format!(
        "{} {} on {}; predicted, {}",
        p.model, p.quant, p.machine, p.placement_flags
    )
}

/// The roofline of a prediction; `None` without a bandwidth or a decode row.
pub fn roofline(p: &Prediction, r: Roofs) -> Option<Chart> {
    let bw = r.bandwidth_bytes_s;
    if !(bw.is_finite() && bw > 0.0) || p.decode.is_empty() {
        return None;
    }
    let peak = r.peak_flops.filter(|f| f.is_finite() && *f > 0.0);
    let mut ceiling = Vec::new();
    let mut estimate = Vec::new();
    for d in &p.decode {
        let (f, b) = (d.flops_per_token, d.bytes_per_token());
        if !(f > 0.0 && b > 0.0) {
            continue;
        }
        let x = f / b;
        ceiling.push(Point::new(x, d.ceiling_tok_s * f).note(format!(
            "decode ceiling at depth {}: {:.1} tok/s, {x:.2} FLOP/byte",
            d.depth, d.ceiling_tok_s
        )));
        estimate.push(
            Point::new(x, d.estimate_tok_s * f)
                .range(d.estimate_low_tok_s * f, d.estimate_high_tok_s * f)
                .note(format!(
                    "decode estimate at depth {}: {:.1} tok/s ({:.1}-{:.1})",
                    d.depth, d.estimate_tok_s, d.estimate_low_tok_s, d.estimate_high_tok_s
                )),
        );
    }
    let weights = p.active.bytes;
    let prefill: Vec<Point> = p
        .prefill
        .iter()
        .filter(|q| q.flops_per_token > 0.0 && weights > 0.0)
        .map(|q| {
            // A micro-batch of `ubatch` tokens shares one read of the weights.
            let x = q.ubatch as f64 * q.flops_per_token / weights;
            Point::new(x, q.ceiling_tok_s * q.flops_per_token).note(format!(
                "prefill ceiling at depth {} (ubatch {}): {:.0} tok/s, {x:.0} FLOP/byte",
                q.depth, q.ubatch, q.ceiling_tok_s
            ))
        })
        .collect();
    let xs: Vec<f64> = ceiling.iter().chain(&prefill).map(|p| p.x).collect();
    Some(Chart {
        id: "predict_roofline".into(),
        title: "Roofline (predicted)".into(),
        subtitle: subtitle(p),
        x: Axis::log("arithmetic intensity (FLOP/byte)"),
        y: Axis::log("performance (FLOP/s)"),
        series: vec![
            roof_series(bw, peak, &xs),
            Series::new("decode ceiling", Style::Points, ceiling),
            Series::new("decode estimate (band)", Style::Hollow, estimate),
            Series::new("prefill ceiling", Style::Points, prefill),
        ],
        small: false,
    })
}

/// Decode against context depth: the ceiling dashed, the estimate with its
/// band as error bars, the target dashed when one was given.
pub fn depth(p: &Prediction) -> Chart {
    let ceiling = p
        .decode
        .iter()
        .map(|d| {
            Point::new(d.depth as f64, d.ceiling_tok_s).note(format!(
                "ceiling at depth {}: {:.1} tok/s",
                d.depth, d.ceiling_tok_s
            ))
        })
        .collect();
    let estimate = p
        .decode
        .iter()
        .map(|d| {
            Point::new(d.depth as f64, d.estimate_tok_s)
                .range(d.estimate_low_tok_s, d.estimate_high_tok_s)
                .note(format!(
                    "estimate at depth {}: {:.1} tok/s ({:.1}-{:.1})",
                    d.depth, d.estimate_tok_s, d.estimate_low_tok_s, d.estimate_high_tok_s
                ))
        })
        .collect();
    let mut series = vec![
        Series::new("estimate (band)", Style::Line, estimate),
        Series::new("roofline ceiling", Style::Dashed, ceiling),
    ];
    let (first, last) = (
        p.decode.first().map_or(0.0, |d| d.depth as f64),
        p.decode.last().map_or(1.0, |d| d.depth as f64),
    );
    if p.target_tok_s.is_finite() && p.target_tok_s > 0.0 {
        series.push(Series::new(
            format!("target {:.0} tok/s", p.target_tok_s),
            Style::Dashed,
            vec![
                Point::new(first, p.target_tok_s),
                Point::new(last, p.target_tok_s),
            ],
        ));
    }
    Chart {
        id: "predict_depth".into(),
        title: "Decode against context depth (predicted)".into(),
        subtitle: subtitle(p),
        x: Axis::linear("context depth (tokens)"),
        y: Axis::linear("decode (tok/s per stream)"),
        series,
        small: false,
    }
}

/// Both charts, roofline first (when it can be drawn).
pub fn all(p: &Prediction, r: Roofs) -> Vec<Chart> {
    roofline(p, r).into_iter().chain([depth(p)]).collect()
}
