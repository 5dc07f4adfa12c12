//! Reports of saved JSON results: what `rooftune report FILE` draws for the
//! JSON that `replay --json` and `logs analyze --json` write. The JSON is
//! read as it is (no typed round trip), so a file written by an older
//! rooftune still reports what it holds; fields it lacks show as `-`.
//! Numbers only: neither JSON holds prompt text unless `replay --show-text`
//! put it there, and nothing here prints it.

use super::doc::{Document, Table};
use super::{replay_charts, time_chart};
use serde_json::Value;

/// What kind of saved result a JSON value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `bench --json`.
    Bench,
    /// `replay --json`.
    Replay,
    /// `logs analyze --json`.
    Logs,
}

/// Recognise a saved result by its fields.
pub fn kind(v: &Value) -> Option<Kind> {
    if v.get("measurement").is_some() && v.get("target").is_some() {
        Some(Kind::Bench)
    } else if v["runs"].is_array() && v.get("session").is_some() {
        Some(Kind::Replay)
    } else if v["summary"].is_object() && v.get("files").is_some() {
        Some(Kind::Logs)
    } else {
        None
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("-").to_string()
}

fn secs(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x:.2}"))
}

fn rate(v: &Value) -> String {
    v.as_f64().map_or("-".into(), super::rate)
}

fn share(v: &Value) -> String {
    v.as_f64()
        .map_or("-".into(), |x| format!("{:.0}%", x * 100.0))
}

fn on_off(run: &Value) -> &'static str {
    if run["reuse"].as_bool() == Some(true) {
        "on"
    } else {
        "off"
    }
}

/// A `replay --json` result: what ran, the charts, the depth buckets with
/// cache on and off side by side, and where the wall time went.
pub fn replay_document(v: &Value) -> Document {
    let mut d = Document::new(format!(
        "rooftune report: replay {} on {}",
        s(&v["session"]),
        s(&v["target"])
    ));
    let mut kv = vec![
        (
            "session".to_string(),
            format!("{} ({})", s(&v["session"]), s(&v["session_file"])),
        ),
        (
            "requests".into(),
            format!(
                "{} in {} conversation(s)",
                v["requests"], v["conversations"]
            ),
        ),
        ("target".into(), s(&v["target"])),
    ];
    if let Some(c) = v["command_line"].as_str() {
        kv.push(("server".into(), c.to_string()));
    }
    if let Some(p) = v["predictions_from"].as_str() {
        kv.push(("predicted TTFT from".into(), p.to_string()));
    }
    d.kv(kv);
    let runs = v["runs"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default();
    let [ttft, decode, wall] = [
        replay_charts::ttft_depth(v),
        replay_charts::decode_depth(v),
        replay_charts::wall(v),
    ];
    d.heading("Time to first token against depth");
    d.chart(ttft);
    d.heading("Decode against depth");
    d.chart(decode);
    d.heading("By input depth");
    d.table(bucket_table(runs));
    d.heading("Where the wall time went");
    d.chart(wall);
    d.table(wall_table(runs));
    for n in v["notes"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
    {
        d.text(format!("note: {}", s(n)));
    }
    d
}

/// How one bucket column is shown.
type Cell = fn(&Value) -> String;

fn bucket_table(runs: &[Value]) -> Table {
    let mut labels: Vec<String> = Vec::new();
    for r in runs {
        for b in r["buckets"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
        {
            let l = s(&b["label"]);
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
    }
    let cols: [(&str, Cell); 5] = [
        ("requests", |b| b["requests"].to_string()),
        ("TTFT p50 s", |b| secs(&b["ttft_median_s"])),
        ("TTFT p90 s", |b| secs(&b["ttft_p90_s"])),
        ("decode p50 tok/s", |b| rate(&b["decode_median_tok_s"])),
        ("cached", |b| share(&b["cached_share"])),
    ];
    let mut header = vec!["depth".to_string()];
    for (name, _) in &cols {
        for r in runs {
            header.push(if runs.len() > 1 {
                format!("{name} ({})", on_off(r))
            } else {
                name.to_string()
            });
        }
    }
    let mut t = Table::new("depth_buckets", header).title("By input depth (tokens)");
    for l in labels {
        let mut row = vec![l.clone()];
        for (_, f) in &cols {
            for r in runs {
                let b = r["buckets"]
                    .as_array()
                    .and_then(|a| a.iter().find(|b| b["label"].as_str() == Some(&l)));
                row.push(b.map_or("-".into(), f));
            }
        }
        t = t.row(row);
    }
    t
}

fn wall_table(runs: &[Value]) -> Table {
    Table::new(
        "wall_time",
        [
            "run",
            "total s",
            "first tokens s",
            "decoding s",
            "between requests s",
        ],
    )
    .rows(runs.iter().map(|r| {
        let w = &r["wall"];
        vec![
            format!("reuse {}", on_off(r)),
            secs(&w["total_s"]),
            secs(&w["first_token_s"]),
            secs(&w["decoding_s"]),
            secs(&w["between_s"]),
        ]
    }))
}

/// A `logs analyze --json` result: what was read, where the time went (chart
/// and table), the groups.
pub fn logs_document(v: &Value) -> Document {
    let mut d = Document::new("rooftune report: usage logs");
    let f = &v["files"];
    let n = |x: &Value| x.as_u64().unwrap_or(0);
    d.kv(vec![
        (
            "read".to_string(),
            format!(
                "{} codex, {} claude, {} request-log files; {:.1} MB",
                n(&f["codex"]),
                n(&f["claude"]),
                n(&f["requests"]),
                n(&f["bytes"]) as f64 / 1e6
            ),
        ),
        (
            "grouped by".into(),
            v["summary"]["by"].as_str().unwrap_or("source").to_string(),
        ),
    ]);
    let bars = time_chart::from_logs_json(v);
    d.heading("Where the time went");
    if bars.is_empty() {
        d.text(
            "no request timestamps: where the time went needs a request log (docs/request-logs.md)",
        );
    } else {
        let by_model = v["summary"]["by"].as_str() == Some("model");
        let calls: u64 = v["summary"]["time"]
            .as_array()
            .map(|a| a.iter().map(|r| n(&r["requests"])).sum())
            .unwrap_or(0);
        d.chart(time_chart::chart(
            "time",
            if by_model { "source / model" } else { "source" },
            &format!("{calls} timed calls; idle gaps over 5 min left out"),
            &bars,
        ));
        d.table(
            Table::new(
                "time",
                [
                    "group",
                    "calls",
                    "first-token wait s",
                    "of it, cache misses s",
                    "decoding s",
                    "gaps s",
                ],
            )
            .rows(
                bars.iter()
                    .zip(v["summary"]["time"].as_array().into_iter().flatten())
                    .map(|(b, r)| {
                        vec![
                            b.label.clone(),
                            n(&r["requests"]).to_string(),
                            format!("{:.0}", b.first_token_wait_s),
                            format!("{:.0}", b.miss_excess_s),
                            format!("{:.0}", b.decoding_s),
                            format!("{:.0}", b.gaps_s),
                        ]
                    }),
            ),
        );
    }
    let groups = v["summary"]["groups"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default();
    if !groups.is_empty() {
        d.heading("Calls");
        d.table(
            Table::new(
                "groups",
                [
                    "source",
                    "model",
                    "sessions",
                    "calls",
                    "input tokens",
                    "cached tokens",
                    "output tokens",
                ],
            )
            .rows(groups.iter().map(|g| {
                vec![
                    s(&g["source"]),
                    g["model"].as_str().unwrap_or("").to_string(),
                    n(&g["sessions"]).to_string(),
                    n(&g["requests"]).to_string(),
                    n(&g["input_tokens"]).to_string(),
                    n(&g["cached_tokens"]).to_string(),
                    n(&g["output_tokens"]).to_string(),
                ]
            })),
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::format::{renderer, Format};
    use serde_json::json;

    #[test]
    fn kinds_are_told_apart_by_their_fields() {
        assert_eq!(
            kind(&json!({"measurement": {}, "target": {}})),
            Some(Kind::Bench)
        );
        assert_eq!(
            kind(&json!({"runs": [], "session": "s"})),
            Some(Kind::Replay)
        );
        assert_eq!(kind(&json!({"summary": {}, "files": {}})), Some(Kind::Logs));
        assert_eq!(kind(&json!({"runs": 3})), None);
    }

    #[test]
    fn replay_page_has_three_charts_and_the_buckets() {
        let v = json!({
            "session": "s", "session_file": "s.jsonl", "requests": 1, "conversations": 1,
            "target": "m.gguf",
            "runs": [{"reuse": true,
                      "requests": [{"index": 1, "conversation": "c", "turn": 1, "prompt_tokens": 10, "ttft_s": 0.1, "decode_tok_s": 9.0}],
                      "buckets": [{"label": "0-10k", "requests": 1, "ttft_median_s": 0.1, "cached_share": 0.5}],
                      "wall": {"total_s": 1.0, "first_token_s": 0.1, "decoding_s": 0.8, "between_s": 0.1}}]
        });
        let html = renderer(Format::Html).unwrap().render(&replay_document(&v));
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(
            html.contains("<td>0-10k</td><td>1</td><td>0.10</td><td>-</td><td>-</td><td>50%</td>")
        );
    }

    #[test]
    fn logs_page_without_timestamps_says_what_is_missing() {
        let v =
            json!({"files": {"codex": 1}, "summary": {"by": "source", "time": [], "groups": []}});
        let md = renderer(Format::Markdown)
            .unwrap()
            .render(&logs_document(&v));
        assert!(md.contains("needs a request log"));
        assert!(!md.contains(".svg"));
    }
}
