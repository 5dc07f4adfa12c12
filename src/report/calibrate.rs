//! `calibrate`: the fitted terms, and each held-out model's prediction.

use super::doc::{Document, Table};
use crate::compare::calibrate::Calibrated;
use crate::roofline::fit::Fit;
use std::path::Path;

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.1}%"))
}

fn held_out(id: &str, f: &Fit) -> Table {
    Table::new(id, ["model", "depth", "measured tok/s", "predicted tok/s", "error"])
        .title(format!(
            "{id}: each model predicted from a fit without it (mean |error| {}, max {}, in-sample {:.1}%)",
            pct(f.holdout_mean_pct),
            pct(f.holdout_max_pct),
            f.in_sample_pct
        ))
        .rows(f.held_out.iter().map(|h| {
            vec![
                h.group.clone(),
                h.depth.to_string(),
                format!("{:.1}", h.measured_tok_s),
                format!("{:.1}", h.predicted_tok_s),
                format!("{:+.1}%", h.error_pct),
            ]
        }))
}

/// The report.
pub fn document(c: &Calibrated, profile: &str, saved: Option<&Path>) -> Document {
    let mut d = Document::new(format!("calibration against profile `{profile}`"));
    let t = &c.calibration.decode;
    let mut kv = vec![
        (
            "decode: memory factor (1/eta)".to_string(),
            format!("{:.3}", t.mem_factor),
        ),
        (
            "decode: attention factor (x FLOPs/roof)".into(),
            format!("{:.2}", t.attn_factor),
        ),
        (
            "decode: per token".into(),
            format!("{:.3} ms", t.per_token_s * 1e3),
        ),
        (
            "decode: per layer".into(),
            format!("{:.2} us", t.per_layer_s * 1e6),
        ),
        (
            "decode: per output-vocab row".into(),
            format!("{:.3} ns", t.per_vocab_row_s * 1e9),
        ),
        (
            "decode: band (max held-out error)".into(),
            format!("+-{:.1}%", c.calibration.decode_holdout_pct),
        ),
    ];
    if let Some(p) = &c.calibration.prefill {
        kv.extend([
            (
                "prefill: compute factor (x weight FLOPs/roof)".to_string(),
                format!("{:.2}", p.compute_factor),
            ),
            (
                "prefill: attention factor".into(),
                format!("{:.2}", p.attn_factor),
            ),
            (
                "prefill: per token".into(),
                format!("{:.3} ms", p.per_token_s * 1e3),
            ),
            (
                "prefill: per layer per token".into(),
                format!("{:.2} us", p.per_layer_token_s * 1e6),
            ),
            (
                "prefill: band (max held-out error)".into(),
                pct(c.calibration.prefill_holdout_pct),
            ),
        ]);
    }
    kv.push((
        "points / models".into(),
        format!("{} / {}", c.calibration.points, c.calibration.models),
    ));
    d.kv(kv);
    d.table(held_out("decode", &c.decode));
    if let Some(p) = &c.prefill {
        d.table(held_out("prefill", p));
    }
    d.text(match saved {
        Some(p) => format!(
            "saved to {}: `--hw NAME` and `predict --calibration NAME` use it",
            p.display()
        ),
        None => "not saved (hint: `--save NAME`)".into(),
    });
    d
}
