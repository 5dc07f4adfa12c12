//! The `rooftune replay` report: per-request tables, the depth buckets with
//! reuse on and off side by side, where the wall time went, and why each
//! request missed the cache. Prompt text appears only when the report data
//! still carries it (the terminal, or `--show-text`).

use super::doc::{Document, Table};
use crate::agentic::explain::{Explanation, Field, Verdict};
use crate::agentic::replay::{ReplayReport, RequestResult, RunReport};
use crate::agentic::summary::Bucket;

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{s:.2}"))
}

fn count(v: Option<u64>) -> String {
    v.map_or("-".into(), |n| n.to_string())
}

fn share(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.0}%", s * 100.0))
}

fn rate(v: Option<f64>) -> String {
    v.map_or("-".into(), super::rate)
}

fn run_name(r: &RunReport) -> &'static str {
    if r.run.reuse {
        "reuse on"
    } else {
        "reuse off"
    }
}

/// Whether the runs went to more than one target.
fn several_targets(runs: &[RunReport]) -> bool {
    runs.iter().any(|r| r.target != runs[0].target)
}

/// A target as a short name: a model file's name, or the URL.
fn short_target(t: &str) -> String {
    if t.contains("://") {
        t.to_string()
    } else {
        std::path::Path::new(t)
            .file_name()
            .map_or(t.to_string(), |f| f.to_string_lossy().into_owned())
    }
}

/// A run's name among `runs`: its reuse, and its target when there are several.
fn run_label(runs: &[RunReport], r: &RunReport) -> String {
    if several_targets(runs) {
        format!("{} {}", short_target(&r.target), run_name(r))
    } else {
        run_name(r).to_string()
    }
}

/// One row per run (target and reuse): the session's serving paths side by side.
fn targets_table(runs: &[RunReport]) -> Table {
    let all = |r: &RunReport| crate::agentic::summary::overall(&r.run.requests);
    Table::new(
        "targets",
        [
            "target",
            "reuse",
            "requests",
            "TTFT p50 s",
            "TTFT p90 s",
            "decode p50 tok/s",
            "cached",
            "first tokens s",
            "total s",
        ],
    )
    .title("By target")
    .rows(runs.iter().map(|r| {
        let b = all(r);
        vec![
            short_target(&r.target),
            if r.run.reuse { "on" } else { "off" }.into(),
            b.requests.to_string(),
            secs(b.ttft_median_s),
            secs(b.ttft_p90_s),
            rate(b.decode_median_tok_s),
            share(b.cached_share),
            format!("{:.2}", r.wall.first_token_s),
            format!("{:.2}", r.wall.total_s),
        ]
    }))
}

/// One short cell for a request's cache outcome.
pub fn cache_cell(e: &Explanation) -> String {
    match e.verdict {
        Verdict::First => "first".into(),
        Verdict::ReuseOff => "off".into(),
        Verdict::Reused => "hit".into(),
        Verdict::Unknown => "?".into(),
        Verdict::ClientChanged => match &e.client_change {
            Some(c) => match (c.message, c.tool) {
                (Some(m), _) if m > 0 => format!("client: {} (msg {m})", c.field.label()),
                (_, Some(t)) => format!("client: {} (tool {t})", c.field.label()),
                _ => format!("client: {}", c.field.label()),
            },
            None => "client".into(),
        },
        Verdict::ServerDropped => match e.server_cause {
            Some(c) => format!(
                "server: {}",
                c.label().split([':', '(']).next().unwrap_or("")
            ),
            None => "server".into(),
        },
    }
}

fn request_table(runs: &[RunReport], r: &RunReport, n: usize) -> Table {
    let id = if several_targets(runs) {
        format!("requests_{n}")
    } else {
        format!("requests_{}", if r.run.reuse { "on" } else { "off" })
    };
    Table::new(
        id,
        [
            "#",
            "conv",
            "turn",
            "prompt",
            "reused",
            "new",
            "TTFT s",
            "pred s",
            "prompt s",
            "decode tok/s",
            "out",
            "wall s",
            "cache",
        ],
    )
    .title(format!("Requests, {} (run {n})", run_label(runs, r)))
    .rows(r.run.requests.iter().map(|q: &RequestResult| {
        vec![
            q.index.to_string(),
            q.conversation.clone(),
            q.turn.to_string(),
            count(q.prompt_tokens),
            count(q.reused_tokens),
            count(q.new_tokens),
            secs(q.ttft_s),
            secs(q.predicted_ttft_s),
            secs(q.server_prompt_s),
            rate(q.decode_tok_s),
            q.output_tokens.to_string(),
            secs(Some(q.wall_s)),
            cache_cell(&q.explanation),
        ]
    }))
}

/// How one bucket column is shown.
type Cell = fn(&Bucket) -> String;

fn bucket_table(runs: &[RunReport]) -> Table {
    let labels: Vec<&str> = crate::logs::record::DEPTH_BUCKETS
        .iter()
        .map(|b| b.0)
        .filter(|l| runs.iter().any(|r| r.buckets.iter().any(|b| b.label == *l)))
        .collect();
    let mut header = vec!["depth".to_string()];
    let cols: [(&str, Cell); 5] = [
        ("requests", |b| b.requests.to_string()),
        ("TTFT p50 s", |b| secs(b.ttft_median_s)),
        ("TTFT p90 s", |b| secs(b.ttft_p90_s)),
        ("decode p50 tok/s", |b| rate(b.decode_median_tok_s)),
        ("cached", |b| share(b.cached_share)),
    ];
    for (name, _) in &cols {
        for r in runs {
            header.push(if several_targets(runs) {
                format!("{name} ({})", run_label(runs, r))
            } else if runs.len() > 1 {
                format!("{name} ({})", if r.run.reuse { "on" } else { "off" })
            } else {
                name.to_string()
            });
        }
    }
    let mut t = Table::new("depth_buckets", header).title("By input depth (tokens)");
    for l in labels {
        let mut row = vec![l.to_string()];
        for (_, f) in &cols {
            for r in runs {
                row.push(
                    r.buckets
                        .iter()
                        .find(|b| b.label == l)
                        .map_or("-".into(), f),
                );
            }
        }
        t = t.row(row);
    }
    t
}

fn wall_table(runs: &[RunReport]) -> Table {
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
    .title("Where the wall time went")
    .rows(runs.iter().map(|r| {
        vec![
            run_label(runs, r),
            format!("{:.2}", r.wall.total_s),
            format!("{:.2}", r.wall.first_token_s),
            format!("{:.2}", r.wall.decoding_s),
            format!("{:.2}", r.wall.between_s),
        ]
    }))
}

/// The explanation of one request that did not simply hit, as a line.
pub fn miss_line(q: &RequestResult) -> Option<String> {
    let e = &q.explanation;
    let head = format!("#{} {} turn {}", q.index, q.conversation, q.turn);
    let injected = if q.injected.is_empty() {
        String::new()
    } else {
        format!(" [injected: {}]", q.injected.join(", "))
    };
    let shared = match (e.shared_prefix_tokens, e.previous_tokens) {
        (Some(s), Some(p)) => format!("shares {s} of the previous request's {p} tokens"),
        _ => "no token comparison".into(),
    };
    let reused = count(e.reused_tokens);
    match e.verdict {
        Verdict::ClientChanged => {
            let c = e.client_change.as_ref()?;
            let place = match (c.message, c.tool) {
                (Some(m), _) => format!("message {m}"),
                (_, Some(t)) => format!("tool {t}"),
                _ => "the prompt".into(),
            };
            let mut s = format!(
                "{head}: the client changed {} in {place} (byte {} of the field); {shared}; server reused {reused}{injected}",
                c.field.label(),
                c.offset_bytes
            );
            if let Some(d) = &e.divergence {
                s.push_str(&format!(
                    "\n    first differing token {} (byte {})",
                    d.token, d.byte
                ));
                if let Some(k) = d.tokens_from_change {
                    s.push_str(&format!(", {k} tokens from the change"));
                }
                if let Some(ctx) = &d.context {
                    s.push_str(&format!("\n    {ctx}"));
                }
            }
            Some(s)
        }
        Verdict::ServerDropped => {
            let cause = e.server_cause.map_or("unknown", |c| c.label());
            Some(match e.client_change.as_ref().filter(|c| c.field != Field::Template) {
                // an edit, and the server dropped even the part before it
                Some(c) => format!(
                    "{head}: the client changed {} in {}; of the prefix it kept ({shared}) the server reused {reused}: {cause}{injected}",
                    c.field.label(),
                    c.message.map_or("the prompt".into(), |m| format!("message {m}"))
                ),
                None => format!(
                    "{head}: the client kept the prefix ({shared}) but the server reused {reused}: {cause}{injected}"
                ),
            })
        }
        Verdict::Unknown => Some(format!("{head}: the server did not report reused tokens")),
        _ => None,
    }
}

/// The report as a document.
pub fn document(r: &ReplayReport) -> Document {
    let mut d = Document::new(format!("rooftune replay: {} on {}", r.session, r.target));
    let mut kv = vec![
        (
            "session".to_string(),
            format!("{} ({})", r.session, r.session_file),
        ),
        (
            "requests".into(),
            format!("{} in {} conversation(s)", r.requests, r.conversations),
        ),
        ("target".into(), r.target.clone()),
    ];
    if let Some(c) = &r.command_line {
        kv.push(("server".into(), c.clone()));
    }
    if let Some(p) = &r.predictions_from {
        kv.push(("predicted TTFT from".into(), p.clone()));
    }
    d.kv(kv);
    if let Ok(v) = serde_json::to_value(r) {
        for c in super::replay_charts::all(&v) {
            d.chart(c);
        }
    }
    for (i, run) in r.runs.iter().enumerate() {
        d.table(request_table(&r.runs, run, i + 1));
    }
    if several_targets(&r.runs) {
        d.table(targets_table(&r.runs));
    }
    d.table(bucket_table(&r.runs));
    d.table(wall_table(&r.runs));
    for run in r.runs.iter().filter(|x| x.run.reuse) {
        let lines: Vec<String> = run.run.requests.iter().filter_map(miss_line).collect();
        d.heading(if several_targets(&r.runs) {
            format!(
                "Why requests missed the cache: {}",
                short_target(&run.target)
            )
        } else {
            "Why requests missed the cache".to_string()
        });
        d.text(if lines.is_empty() {
            "every request after the first of its conversation reused its shared prefix".into()
        } else {
            lines.join("\n")
        });
        if let Some(n) = &run.run.rendering_note {
            d.text(format!("note: {n}"));
        }
    }
    for n in &r.notes {
        d.text(format!("note: {n}"));
    }
    d
}
