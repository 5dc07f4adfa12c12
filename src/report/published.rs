//! `rooftune published`: every published decode figure next to its ceiling
//! and estimate band, and the held-out calibration error per family.

use super::{rate, table};
use crate::catalog::measurements::MeasurementKind;
use crate::compare::calibration::Checked;
use crate::compare::depth::{DepthHeldOut, DepthSummary};
use crate::compare::prefill::PrefillSummary;
use crate::roofline::calibration::FamilyFit;
use crate::roofline::decode::EtaBand;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Whether a measurement falls inside its family's band.
fn inside(c: &Checked, band: EtaBand) -> bool {
    let est = band.with_experts(c.point.estimate_tok_s, c.expert_dispatches);
    let lo = est * band.low;
    let hi = (est * band.high).min(c.point.ceiling_tok_s);
    (lo..=hi).contains(&c.measurement.tok_s)
}

/// Render the table and the summary.
pub fn text(
    rows: &[Checked],
    fits: &BTreeMap<String, FamilyFit>,
    band_for: impl Fn(&Checked) -> EtaBand,
) -> String {
    let body = rows
        .iter()
        .map(|c| {
            let m = &c.measurement;
            let b = band_for(c);
            let est = b.with_experts(c.point.estimate_tok_s, c.expert_dispatches);
            vec![
                m.hw.clone(),
                m.model.clone(),
                m.quant.clone(),
                m.depth.to_string(),
                format!("{:?}", m.kind).to_lowercase(),
                rate(m.tok_s),
                rate(c.point.ceiling_tok_s),
                format!("{:.0}%", c.pct_of_ceiling()),
                format!(
                    "{}-{}",
                    rate(est * b.low),
                    rate((est * b.high).min(c.point.ceiling_tok_s))
                ),
                if m.kind != MeasurementKind::Plain {
                    "n/a".into()
                } else if inside(c, b) {
                    "yes".into()
                } else {
                    "no".into()
                },
            ]
        })
        .collect();
    let mut o = table(
        &[
            "hardware",
            "model",
            "quant",
            "depth",
            "kind",
            "measured",
            "ceiling",
            "% of ceiling",
            "estimate band",
            "in band",
        ],
        body,
    );
    o.push('\n');
    let plain: Vec<_> = rows
        .iter()
        .filter(|c| c.measurement.kind == MeasurementKind::Plain)
        .collect();
    let under = plain
        .iter()
        .filter(|c| c.measurement.tok_s <= c.point.ceiling_tok_s)
        .count();
    let in_band = plain.iter().filter(|c| inside(c, band_for(c))).count();
    let _ = writeln!(o, "\n{under} of {} plain-decode measurements are at or under their ceiling at spec bandwidth.", plain.len());
    let _ = writeln!(
        o,
        "{in_band} of {} fall inside their family's estimate band (in-sample).",
        plain.len()
    );
    let _ = writeln!(
        o,
        "held out (each row predicted from the other rows of its family):"
    );
    for (family, f) in fits {
        let _ = writeln!(
            o,
            "  {family:<14} {:>2} rows, band x{:.2}-{:.2} of the profile estimate{}, held-out error {:.0}%, held-out rows inside their band {:.0}%",
            f.n,
            f.band.low,
            f.band.high,
            if f.band.per_expert_s > 0.0 {
                format!(" + {:.0} us per routed expert", f.band.per_expert_s * 1e6)
            } else {
                String::new()
            },
            f.holdout_mape_pct,
            100.0 * f.holdout_coverage
        );
    }
    o
}

/// Rows measured at depth, each predicted from its depth-0 row and the
/// factors fitted on the other models of its family and runtime, then one
/// line per family.
pub fn depth_text(rows: &[DepthHeldOut], summary: &[DepthSummary]) -> String {
    let mut o = String::from(
        "\ndecode at depth, held out (the shallowest row measured; the fall predicted with the KV and attention factors of the other models of its family and runtime):\n",
    );
    for h in rows {
        let r = &h.row;
        let _ = writeln!(
            o,
            "  {} {} @ {}: measured {} (from {} at {}), predicted {} ({:+.0}%, KV x{:.2}, attention x{:.1}), KV bytes alone {} ({:+.0}%)",
            r.hw,
            r.model,
            r.depth,
            rate(r.measured_tok_s),
            rate(r.measured_0_tok_s),
            r.depth_0,
            rate(h.predicted_tok_s),
            h.error_pct,
            h.factors.kv,
            h.factors.attn,
            rate(h.kv_only_tok_s),
            h.kv_only_error_pct
        );
    }
    for s in summary {
        let _ = writeln!(
            o,
            "  {}: {} rows of {} models, held-out error mean {:.0}%, max {:.0}% (KV bytes alone: mean {:.0}%)",
            s.family, s.rows, s.models, s.mean_abs_pct, s.max_abs_pct, s.kv_only_mean_abs_pct
        );
    }
    o
}

/// Prefill rows predicted held out, one line per family.
pub fn prefill_text(summary: &[PrefillSummary]) -> String {
    let mut o = String::from(
        "\nprefill, held out (dense, expert and attention factors of the other models of its family and runtime, at the mean depth of the prompt's tokens; a family's factors reach `predict` only where they beat half the ceiling by 10%):\n",
    );
    for s in summary {
        let _ = writeln!(
            o,
            "  {}: {} rows, held-out error mean {:.0}%, max {:.0}% (half the ceiling: mean {:.0}%)",
            s.family, s.rows, s.mean_abs_pct, s.max_abs_pct, s.default_mean_abs_pct
        );
    }
    o
}
