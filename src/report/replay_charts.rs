//! The replay's charts: time to first token and decode rate against prompt
//! depth, one line per run (prompt cache on, off), told apart by dash pattern
//! and marker shape as well as colour so they survive greyscale printing;
//! predicted TTFT dashed when the replay carries it; and where the wall time
//! went, per run. Built from the JSON `replay --json` writes (the same data
//! the typed report serializes), so `rooftune report REPLAY.json` and
//! `replay --format html` draw the same charts.

use super::chart::{Axis, Chart, Point, Series, Style};
use super::time_chart::{self, TimeBar};
use serde_json::Value;

fn run_name(run: &Value) -> &'static str {
    if run["reuse"].as_bool() == Some(true) {
        "cache on"
    } else {
        "cache off"
    }
}

/// `gemma.gguf on 127.0.0.1; session s (12 requests)`.
fn subtitle(v: &Value) -> String {
    let target = v["target"].as_str().unwrap_or("?");
    let target = std::path::Path::new(target)
        .file_name()
        .map_or(target.to_string(), |f| f.to_string_lossy().into_owned());
    format!(
        "{target}; session {} ({} requests in {} conversations)",
        v["session"].as_str().unwrap_or("?"),
        v["requests"].as_u64().unwrap_or(0),
        v["conversations"].as_u64().unwrap_or(0)
    )
}

/// One point per request with a value for `field`, in depth order.
fn points(run: &Value, field: &str, unit: &str) -> Vec<Point> {
    let mut pts: Vec<Point> = run["requests"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|q| {
            let depth = q["prompt_tokens"].as_f64()?;
            let y = q[field].as_f64().filter(|y| y.is_finite())?;
            let reused = q["reused_tokens"]
                .as_u64()
                .map_or(String::new(), |r| format!(", {r} reused"));
            Some(Point::new(depth, y).note(format!(
                "#{} {} turn {} ({}): {depth:.0} prompt tokens{reused}: {y:.2} {unit}",
                q["index"].as_u64().unwrap_or(0),
                q["conversation"].as_str().unwrap_or("?"),
                q["turn"].as_u64().unwrap_or(0),
                run_name(run)
            )))
        })
        .collect();
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    pts
}

fn runs(v: &Value) -> &[Value] {
    v["runs"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
}

/// Time to first token against prompt depth, one line per run, predicted
/// TTFT dashed where the replay has it.
pub fn ttft_depth(v: &Value) -> Chart {
    let mut series: Vec<Series> = runs(v)
        .iter()
        .map(|r| Series::new(run_name(r), Style::Line, points(r, "ttft_s", "s")))
        .collect();
    for r in runs(v) {
        let p = points(r, "predicted_ttft_s", "s predicted");
        if !p.is_empty() {
            series.push(Series::new(
                format!("predicted ({})", run_name(r)),
                Style::Dashed,
                p,
            ));
        }
    }
    Chart {
        id: "replay_ttft".into(),
        title: "Time to first token against prompt depth".into(),
        subtitle: subtitle(v),
        x: Axis::linear("prompt depth (tokens)"),
        y: Axis::linear("time to first token (s)"),
        series,
        small: false,
    }
}

/// Decode rate against prompt depth, one line per run.
pub fn decode_depth(v: &Value) -> Chart {
    Chart {
        id: "replay_decode".into(),
        title: "Decode rate against prompt depth".into(),
        subtitle: subtitle(v),
        x: Axis::linear("prompt depth (tokens)"),
        y: Axis::linear("decode (tok/s)"),
        series: runs(v)
            .iter()
            .map(|r| Series::new(run_name(r), Style::Line, points(r, "decode_tok_s", "tok/s")))
            .collect(),
        small: false,
    }
}

/// Where each run's wall time went: waiting for first tokens, decoding,
/// between requests.
pub fn wall(v: &Value) -> Chart {
    let bars: Vec<TimeBar> = runs(v)
        .iter()
        .map(|r| {
            let w = &r["wall"];
            let f = |k: &str| w[k].as_f64().unwrap_or(0.0);
            TimeBar {
                label: run_name(r).into(),
                first_token_wait_s: f("first_token_s"),
                miss_excess_s: 0.0,
                decoding_s: f("decoding_s"),
                gaps_s: f("between_s"),
            }
        })
        .collect();
    time_chart::chart("replay_wall", "run", &subtitle(v), &bars)
}

/// Every replay chart, in report order.
pub fn all(v: &Value) -> Vec<Chart> {
    vec![ttft_depth(v), decode_depth(v), wall(v)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::format::svg;
    use serde_json::json;

    fn q(i: u64, depth: u64, reused: u64, ttft: f64, dec: f64) -> Value {
        json!({"index": i, "conversation": "c0", "turn": i, "prompt_tokens": depth,
               "reused_tokens": reused, "ttft_s": ttft, "decode_tok_s": dec})
    }

    pub(crate) fn sample() -> Value {
        json!({
            "format": 1, "session": "s", "requests": 3, "conversations": 1,
            "target": "/m/tiny.gguf",
            "runs": [
                {"reuse": true, "requests": [q(1, 100, 0, 0.5, 40.0), q(2, 400, 100, 0.3, 38.0), q(3, 200, 100, 0.2, 39.0)],
                 "wall": {"total_s": 3.0, "first_token_s": 1.0, "decoding_s": 1.5, "between_s": 0.5}},
                {"reuse": false, "requests": [q(1, 100, 0, 0.5, 40.0), q(2, 200, 0, 0.9, 39.0), q(3, 400, 0, 1.8, 37.0)],
                 "wall": {"total_s": 5.0, "first_token_s": 3.2, "decoding_s": 1.5, "between_s": 0.3}}
            ]
        })
    }

    #[test]
    fn one_line_per_run_in_depth_order() {
        let c = ttft_depth(&sample());
        let names: Vec<&str> = c.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cache on", "cache off"]);
        let xs: Vec<f64> = c.series[0].points.iter().map(|p| p.x).collect();
        assert_eq!(xs, [100.0, 200.0, 400.0]);
        assert_eq!(c.series[1].points[2].y, 1.8);
        assert!(c.series[0].points[2]
            .note
            .as_deref()
            .unwrap()
            .contains("100 reused"));
        assert_eq!(decode_depth(&sample()).series[1].points.len(), 3);
    }

    #[test]
    fn on_and_off_differ_in_dash_and_marker_not_only_colour() {
        let s = svg::render(&ttft_depth(&sample()));
        // Series 0 solid with circles, series 1 dashed with squares.
        assert!(s.contains(r#"stroke-dasharray=""/>"#));
        assert!(s.contains(r#"stroke-dasharray="6 3"/>"#));
        assert!(s.contains("<circle") && s.contains("<rect"));
    }

    #[test]
    fn predicted_ttft_is_a_dashed_series_when_present() {
        let mut v = sample();
        v["runs"][0]["requests"][0]["predicted_ttft_s"] = json!(0.45);
        let c = ttft_depth(&v);
        assert_eq!(c.series.len(), 3);
        assert_eq!(c.series[2].style, Style::Dashed);
        assert_eq!(c.series[2].name, "predicted (cache on)");
    }

    #[test]
    fn charts_snapshot() {
        let text: Vec<String> = all(&sample()).iter().map(svg::render).collect();
        insta::assert_snapshot!(text.join("\n"));
    }
}
