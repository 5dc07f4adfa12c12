//! Reports: one renderer per output, rendering kept out of the result structs.
//! Tables are Markdown so they paste into issues and notes as they are.

pub mod bench;
pub mod calibrate;
pub mod campaign;
pub mod catalog;
pub mod chart;
pub mod charts;
pub mod doc;
pub mod format;
pub mod logs;
pub mod matrix;
pub mod predict;
pub mod predict_charts;
pub mod probe;
pub mod published;
pub mod replay;
pub mod replay_charts;
pub mod saved;
pub mod time_chart;

use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::Style;

/// A Markdown table from a header and rows.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut b = Builder::default();
    b.push_record(header.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r);
    }
    b.build().with(Style::markdown()).to_string()
}

/// Pretty JSON with a trailing newline (an error when the value cannot be
/// written as JSON, never an `{"error"}` object on stdout).
pub fn json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    format::json(value)
}

/// A rate for tables: `45.5`, `1,234`, `12.3k`.
pub fn rate(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
