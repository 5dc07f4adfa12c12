//! "Where the time went" as one stacked bar per group (a log's source or
//! model, a replay's run): waiting for the first token (with the part cache
//! misses explain apart), decoding, and the gaps between calls (tools, the
//! harness). Idle gaps are left out, as the `logs` table leaves them out of
//! its shares. The unit follows the size: seconds, minutes or hours.

use super::chart::{Axis, Chart, Point, Series, Style};
use crate::logs::summary::TimeRow;
use serde_json::Value;

/// One bar's parts, seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeBar {
    /// The group (`codex`, `claude / sonnet`, `cache on`).
    pub label: String,
    /// Waiting for first tokens, the cache misses' excess included, s.
    pub first_token_wait_s: f64,
    /// The part of the wait cache misses explain (above the session's usual), s.
    pub miss_excess_s: f64,
    /// Decoding, s.
    pub decoding_s: f64,
    /// Gaps between calls, s.
    pub gaps_s: f64,
}

impl TimeBar {
    fn total_s(&self) -> f64 {
        self.first_token_wait_s + self.decoding_s + self.gaps_s
    }
}

/// A `logs analyze` table row as a bar.
pub fn from_row(r: &TimeRow) -> TimeBar {
    TimeBar {
        label: label(r.source.label(), r.model.as_deref()),
        first_token_wait_s: r.time.first_token_wait_s,
        miss_excess_s: r.time.miss_explained_s,
        decoding_s: r.time.decoding_s,
        gaps_s: r.time.gaps_s,
    }
}

/// The bars of a `logs analyze --json` result (`summary.time`).
pub fn from_logs_json(v: &Value) -> Vec<TimeBar> {
    v["summary"]["time"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
            TimeBar {
                label: label(r["source"].as_str().unwrap_or("?"), r["model"].as_str()),
                first_token_wait_s: f("first_token_wait_s"),
                miss_excess_s: f("miss_explained_s"),
                decoding_s: f("decoding_s"),
                gaps_s: f("gaps_s"),
            }
        })
        .collect()
}

fn label(source: &str, model: Option<&str>) -> String {
    match model {
        Some(m) if !m.is_empty() => format!("{source} / {m}"),
        _ => source.to_string(),
    }
}

/// The unit for a largest bar of `max_s` seconds: (name, seconds per unit).
fn unit(max_s: f64) -> (&'static str, f64) {
    if max_s >= 3.0 * 3600.0 {
        ("h", 3600.0)
    } else if max_s >= 180.0 {
        ("min", 60.0)
    } else {
        ("s", 1.0)
    }
}

/// The chart: one stacked bar per group, `what` naming the groups on the x
/// axis.
pub fn chart(id: &str, what: &str, subtitle: &str, bars: &[TimeBar]) -> Chart {
    let max_s = bars.iter().map(TimeBar::total_s).fold(0.0, f64::max);
    let (u, per) = unit(max_s);
    let part = |name: &str, f: &dyn Fn(&TimeBar) -> f64| {
        let pts = bars
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let s = f(b);
                let share = if b.total_s() > 0.0 {
                    format!(" ({:.0}%)", 100.0 * s / b.total_s())
                } else {
                    String::new()
                };
                Point::new(i as f64, s / per).note(format!(
                    "{}: {name} {:.2} {u}{share}",
                    b.label,
                    s / per
                ))
            })
            .collect();
        Series::new(name, Style::Stacked, pts)
    };
    let mut series = vec![part("first-token wait", &|b| {
        (b.first_token_wait_s - b.miss_excess_s).max(0.0)
    })];
    if bars.iter().any(|b| b.miss_excess_s > 0.0) {
        series.push(part("wait cache misses explain", &|b| {
            b.miss_excess_s.min(b.first_token_wait_s)
        }));
    }
    series.push(part("decoding", &|b| b.decoding_s));
    series.push(part("gaps (tools, harness)", &|b| b.gaps_s));
    Chart {
        id: id.into(),
        title: "Where the time went".into(),
        subtitle: subtitle.into(),
        x: Axis::categories(what, bars.iter().map(|b| b.label.clone()).collect()),
        y: Axis::linear(format!("time ({u})")),
        series,
        small: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::format::svg;

    fn bars() -> Vec<TimeBar> {
        vec![
            TimeBar {
                label: "codex".into(),
                first_token_wait_s: 7200.0,
                miss_excess_s: 1800.0,
                decoding_s: 3600.0,
                gaps_s: 3600.0,
            },
            TimeBar {
                label: "claude".into(),
                first_token_wait_s: 1800.0,
                miss_excess_s: 0.0,
                decoding_s: 900.0,
                gaps_s: 7200.0,
            },
        ]
    }

    #[test]
    fn parts_stack_to_the_total_in_the_chosen_unit() {
        let c = chart("t", "source", "sub", &bars());
        assert_eq!(c.y.label, "time (h)");
        let names: Vec<&str> = c.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "first-token wait",
                "wait cache misses explain",
                "decoding",
                "gaps (tools, harness)"
            ]
        );
        // codex: 1.5 h wait + 0.5 h misses + 1 h decode + 1 h gaps = 4 h.
        let top = c.stack_base(4, 0.0);
        assert!((top - 4.0).abs() < 1e-9, "{top}");
        let ((_, _), (_, y_hi)) = c.extent().unwrap();
        assert!((y_hi - 4.0).abs() < 1e-9);
        assert!(c.series[1].points[0]
            .note
            .as_deref()
            .unwrap()
            .contains("wait cache misses explain 0.50 h"));
    }

    #[test]
    fn no_miss_segment_without_misses_and_seconds_for_short_runs() {
        let b = vec![TimeBar {
            label: "cache on".into(),
            first_token_wait_s: 2.0,
            miss_excess_s: 0.0,
            decoding_s: 3.0,
            gaps_s: 1.0,
        }];
        let c = chart("t", "run", "", &b);
        assert_eq!(c.series.len(), 3);
        assert_eq!(c.y.label, "time (s)");
    }

    #[test]
    fn logs_json_rows_become_bars() {
        let v = serde_json::json!({"summary": {"time": [
            {"source": "codex", "model": "gpt-5", "first_token_wait_s": 10.0,
             "miss_explained_s": 4.0, "decoding_s": 5.0, "gaps_s": 1.0}]}});
        let b = from_logs_json(&v);
        assert_eq!(b[0].label, "codex / gpt-5");
        assert_eq!(b[0].miss_excess_s, 4.0);
    }

    #[test]
    fn svg_snapshot() {
        let s = svg::render(&chart("time", "source", "2 sources", &bars()));
        assert_eq!(
            s.matches(r#"class="point bar""#).count(),
            7,
            "no bar for a zero part"
        );
        assert!(s.contains("url(#hatch-time)"));
        insta::assert_snapshot!(s);
    }
}
