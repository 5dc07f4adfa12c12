//! `calibrate`: the fitted terms, and each held-out model's prediction.

use super::doc::{Document, Table};
use crate::compare::calibrate::{Calibrated, Drift, MeasuredModel};
use crate::roofline::fit::{Fit, HeldOut};
use std::path::Path;

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.1}%"))
}

fn held_out(id: &str, f: &Fit) -> Table {
    predictions(id, &f.held_out).title(format!(
        "{id}: each model predicted from a fit without it (mean |error| {}, max {}, in-sample {:.1}%)",
        pct(f.holdout_mean_pct),
        pct(f.holdout_max_pct),
        f.in_sample_pct
    ))
}

fn predictions(id: &str, v: &[HeldOut]) -> Table {
    Table::new(
        id,
        [
            "model",
            "depth",
            "measured tok/s",
            "predicted tok/s",
            "error",
        ],
    )
    .rows(v.iter().map(|h| {
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
    let mut kv: Vec<(String, String)> = Vec::new();
    if t.types.is_empty() {
        kv.push((
            "decode: memory factor (1/eta)".into(),
            format!("{:.3}", t.mem_factor),
        ));
        kv.push((
            "decode: per output-vocab row".into(),
            format!("{:.3} ns", t.per_vocab_row_s * 1e9),
        ));
    }
    for f in &t.types {
        kv.push((
            format!("decode: {} weights memory factor (1/eta)", f.name),
            format!("{:.3}", f.factor),
        ));
        if let Some(h) = f.head_row_s {
            kv.push((
                format!("decode: per output-head row in {}", f.name),
                format!("{:.3} ns", h * 1e9),
            ));
        }
    }
    kv.extend([
        (
            "decode: KV cache memory factor".to_string(),
            format!("{:.3}", t.kv_factor.unwrap_or(t.mem_factor)),
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
            "decode: per plain layer (19 graph ops)".into(),
            format!("{:.2} us", t.per_layer_s * 1e6),
        ),
        (
            "decode: band (max held-out error)".into(),
            format!("+-{:.1}%", c.calibration.decode_holdout_pct),
        ),
    ]);
    if let Some(p) = &c.calibration.prefill {
        if p.types.is_empty() {
            kv.push((
                "prefill: compute factor (x weight FLOPs/roof)".into(),
                format!("{:.2}", p.compute_factor),
            ));
        }
        kv.extend(p.types.iter().map(|f| {
            (
                format!("prefill: {} compute factor (x weight FLOPs/roof)", f.name),
                format!("{:.2}", f.factor),
            )
        }));
        kv.extend([
            (
                "prefill: attention factor".to_string(),
                format!("{:.2}", p.attn_factor),
            ),
            (
                "prefill: per token".into(),
                format!("{:.3} ms", p.per_token_s * 1e3),
            ),
            (
                "prefill: per plain layer (19 graph ops) per token".into(),
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
    if let Some(v) = &c.validation {
        for (id, rows, max) in [
            ("validation-decode", &v.decode, v.decode_max_pct),
            ("validation-prefill", &v.prefill, v.prefill_max_pct),
        ] {
            if !rows.is_empty() {
                d.table(predictions(id, rows).title(format!(
                    "{id}: models left out of the fit altogether (max |error| {})",
                    pct(max)
                )));
            }
        }
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

/// With `calibrate --run`: every model measured, each rate next to its
/// ceiling, and any rate above its ceiling called out.
pub fn measured(d: &mut Document, models: &[MeasuredModel], above: &[String]) {
    if models.is_empty() {
        return;
    }
    let rows = models.iter().flat_map(|m| {
        let role = if m.validation { "validation" } else { "fit" };
        let d = m.decode.iter().map(move |(x, r, c)| ("decode", x, r, c));
        let p = m.prefill.iter().map(move |(x, r, c)| ("prefill", x, r, c));
        d.chain(p).map(move |(what, x, r, c)| {
            vec![
                m.model.clone(),
                role.to_string(),
                format!("{what}@{x}"),
                format!("{r:.1}"),
                format!("{c:.1}"),
                crate::compare::ceiling::pct_of_ceiling(*r, *c)
                    .map_or("-".into(), |p| format!("{p:.0}%")),
            ]
        })
    });
    d.table(
        Table::new(
            "measured",
            [
                "model",
                "role",
                "probe",
                "tok/s",
                "ceiling tok/s",
                "% of ceiling",
            ],
        )
        .title("measured here (medians; server timings)")
        .rows(rows),
    );
    d.text(if above.is_empty() {
        "no rate above its ceiling".to_string()
    } else {
        format!(
            "ABOVE THE CEILING (the profile or the roofline is wrong): {}",
            above.join("; ")
        )
    });
}

/// With `calibrate --run`: how far one server start's pace can be from another's.
pub fn drift(d: &mut Document, drift: Option<&Drift>) {
    if let Some(x) = drift {
        d.text(format!(
            "between starts: {} decode@{} measured {} times in new server starts, {:.1} tok/s first and {:.1} last ({:+.1}%), spread {:.1}% from slowest to fastest: no held-out error smaller than that means anything (hint: `--starts N` averages N starts per model)",
            x.model,
            x.depth,
            x.anchors.len(),
            x.first_tok_s,
            x.last_tok_s,
            x.drift_pct,
            x.spread_pct
        ));
    }
}
