//! `rooftune matrix`: which box runs what at the target.

use super::{rate, table};
use serde::Serialize;

/// One cell of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    /// Hardware profile.
    pub hw: String,
    /// Model.
    pub model: String,
    /// Quantization.
    pub quant: String,
    /// Placement flags chosen.
    pub placement: String,
    /// Ceiling, tok/s.
    pub ceiling_tok_s: f64,
    /// Estimate, tok/s.
    pub estimate_tok_s: f64,
    /// Whether it fits.
    pub fits: bool,
    /// Bar verdict.
    pub verdict: crate::roofline::bars::BarVerdict,
}

/// Render the matrix as a Markdown table.
pub fn text(rows: &[MatrixRow], target: f64) -> String {
    let body = rows
        .iter()
        .map(|r| {
            vec![
                r.hw.clone(),
                r.model.clone(),
                r.placement.clone(),
                rate(r.ceiling_tok_s),
                rate(r.estimate_tok_s),
                if r.fits { "yes".into() } else { "no".into() },
                if r.fits {
                    r.verdict.short().into()
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    let bar = format!("{} tok/s?", rate(target));
    let mut s = table(
        &[
            "hardware",
            "model",
            "placement",
            "ceiling",
            "estimate",
            "fits",
            &bar,
        ],
        body,
    );
    s.push('\n');
    let clears = rows
        .iter()
        .filter(|r| r.fits && r.verdict == crate::roofline::bars::BarVerdict::Yes)
        .count();
    s.push_str(&format!(
        "{clears} of {} combinations fit and clear {} tok/s on the estimate.\n",
        rows.len(),
        rate(target)
    ));
    s
}
