//! `logs analyze`: what was read, the per-source (or per-model) table, the
//! input-depth buckets, where the time went. Numbers only: the analysis holds
//! no prompt or output text, and neither does anything printed from it.
//!
//! [`document`] is the layout (one stable id per table, as CSV names them);
//! the renderers in `report::format` draw it, and JSON is the [`Analysis`].

use super::doc::{Document, Table};
use crate::logs::summary::{GroupBy, Time};
use crate::logs::{Analysis, Source};
use crate::units::fmt_count;

/// How many sessions the text lists (the JSON has them all).
pub const SESSIONS_LISTED: usize = 10;

/// The lines above the tables: files read, duplicates skipped, malformed lines.
pub fn preamble(a: &Analysis) -> Vec<String> {
    let f = &a.files;
    let mut out = vec![format!(
        "read {} files ({} codex, {} claude, {} request logs; {} gzip), {:.1} MB",
        f.codex + f.claude + f.requests,
        f.codex,
        f.claude,
        f.requests,
        f.gzip,
        f.bytes as f64 / 1e6
    )];
    if f.skipped > 0 {
        out.push(format!(
            "skipped {} files of no known kind (not read past their first lines)",
            f.skipped
        ));
    }
    for u in &f.unreadable {
        out.push(format!("unreadable: {u}"));
    }
    let s = &a.skipped;
    out.push(format!(
        "not counted twice: {} repeated Codex token counts, {} Codex events replayed by forked/subagent threads, {} extra Claude Code rows of one response",
        s.codex_repeated, s.codex_replayed, s.claude_rows_merged
    ));
    if a.before_since > 0 {
        out.push(format!("{} calls before --since left out", a.before_since));
    }
    if a.malformed_lines > 0 {
        out.push(format!(
            "{} malformed lines skipped{}:",
            a.malformed_lines,
            if a.malformed_lines as usize > a.malformed.len() {
                format!(" (the first {})", a.malformed.len())
            } else {
                String::new()
            }
        ));
        for m in &a.malformed {
            out.push(format!("  {}: {}", m.place, m.reason));
        }
    }
    out
}

/// The tables, in order.
pub fn tables(a: &Analysis) -> Vec<Table> {
    let s = &a.summary;
    let by_model = s.by == GroupBy::Model;
    let lead = |h: &mut Vec<String>| {
        h.push("source".into());
        if by_model {
            h.push("model".into());
        }
    };
    let key = |source: Source, model: &Option<String>| {
        let mut r = vec![source.label().to_string()];
        if by_model {
            r.push(model.clone().unwrap_or_default());
        }
        r
    };
    let mut out = Vec::new();

    let mut header = Vec::new();
    lead(&mut header);
    header.extend(
        [
            "sessions",
            "calls",
            "median input",
            "median cached",
            "cached share",
            "cached tokens",
            "output tokens",
            "TTFT p50",
            "TTFT p90",
            "decode p50",
        ]
        .map(String::from),
    );
    let rows: Vec<Vec<String>> = s
        .groups
        .iter()
        .map(|g| {
            let mut r = key(g.source, &g.model);
            r.extend([
                fmt_count(g.sessions),
                fmt_count(g.requests),
                tokens(g.median_input_tokens),
                pct(g.median_cached_ratio),
                pct(g.cached_share),
                tokens(Some(g.cached_tokens as f64)),
                tokens(Some(g.output_tokens as f64)),
                secs(g.ttft_p50_s),
                secs(g.ttft_p90_s),
                rate(g.decode_p50_tok_s),
            ]);
            r
        })
        .collect();
    out.push(
        Table::new("logs_calls", header)
            .title("Model calls")
            .rows(rows),
    );

    let mut header = Vec::new();
    lead(&mut header);
    header.extend(
        [
            "input",
            "calls",
            "median input",
            "median cached",
            "timed",
            "TTFT p50",
            "TTFT p90",
            "decode p50",
        ]
        .map(String::from),
    );
    let rows: Vec<Vec<String>> = s
        .depth
        .iter()
        .map(|d| {
            let mut r = key(d.source, &d.model);
            r.extend([
                d.bucket.to_string(),
                fmt_count(d.requests),
                tokens(d.median_input_tokens),
                pct(d.median_cached_ratio),
                fmt_count(d.timed_requests),
                secs(d.ttft_p50_s),
                secs(d.ttft_p90_s),
                rate(d.decode_p50_tok_s),
            ]);
            r
        })
        .collect();
    out.push(
        Table::new("logs_depth", header)
            .title("By input depth")
            .rows(rows),
    );

    if !s.time.is_empty() {
        let mut header = Vec::new();
        lead(&mut header);
        header.push("sessions".into());
        header.extend(time_header());
        let rows: Vec<Vec<String>> = s
            .time
            .iter()
            .map(|t| {
                let mut r = key(t.source, &t.model);
                r.push(fmt_count(t.sessions));
                r.extend(time_cells(&t.time));
                r
            })
            .collect();
        out.push(
            Table::new("logs_time", header)
                .title("Where the time went (calls with request timestamps)")
                .rows(rows),
        );

        let mut sessions: Vec<_> = s.sessions.iter().collect();
        sessions.sort_by(|a, b| total_s(&b.time).total_cmp(&total_s(&a.time)));
        let mut header = Vec::new();
        lead(&mut header);
        header.extend(["session".to_string(), "median cached".to_string()]);
        header.extend(time_header());
        let rows: Vec<Vec<String>> = sessions
            .iter()
            .take(SESSIONS_LISTED)
            .map(|st| {
                let mut r = key(st.source, &st.model);
                r.push(st.session.clone());
                r.push(pct(st.median_cached_ratio));
                r.extend(time_cells(&st.time));
                r
            })
            .collect();
        out.push(
            Table::new("logs_sessions", header)
                .title("Longest sessions")
                .rows(rows),
        );
    }
    out
}

/// The report as a document: the preamble, then each table under its title.
pub fn document(a: &Analysis) -> Document {
    let mut d = Document::new("");
    d.text(preamble(a).join("\n"));
    for t in tables(a) {
        d.text("");
        d.table(t);
    }
    if !a.summary.time.is_empty() {
        let bars: Vec<_> = a
            .summary
            .time
            .iter()
            .map(super::time_chart::from_row)
            .collect();
        d.chart(super::time_chart::chart(
            "time",
            what(a),
            &subtitle(a),
            &bars,
        ));
    }
    if a.summary.time.is_empty() {
        d.text(
            "\nno request timestamps: time to first token, decode rate and where the time went need a request log (docs/request-logs.md)",
        );
    }
    d
}

/// What the time chart's bars are: sources, or sources and models.
pub fn what(a: &Analysis) -> &'static str {
    if a.summary.by == GroupBy::Model {
        "source / model"
    } else {
        "source"
    }
}

/// The time chart's subtitle: how much was read (numbers only).
pub fn subtitle(a: &Analysis) -> String {
    let calls: u64 = a.summary.time.iter().map(|t| t.time.requests).sum();
    let sessions: u64 = a.summary.time.iter().map(|t| t.sessions).sum();
    format!("{calls} timed calls in {sessions} sessions; idle gaps over 5 min left out")
}

fn time_header() -> Vec<String> {
    [
        "calls",
        "first-token wait",
        "decoding",
        "gaps (tools, harness)",
        "idle (>5 min)",
        "cache misses",
        "their wait",
        "wait misses explain",
    ]
    .map(String::from)
    .to_vec()
}

fn total_s(t: &Time) -> f64 {
    t.first_token_wait_s + t.decoding_s + t.gaps_s
}

fn time_cells(t: &Time) -> Vec<String> {
    let busy = total_s(t);
    let share = |v: f64| {
        if busy > 0.0 {
            format!("{} ({:.0}%)", duration(v), 100.0 * v / busy)
        } else {
            duration(v)
        }
    };
    vec![
        fmt_count(t.requests),
        share(t.first_token_wait_s),
        share(t.decoding_s),
        share(t.gaps_s),
        duration(t.idle_s),
        fmt_count(t.miss_requests),
        duration(t.miss_wait_s),
        if t.first_token_wait_s > 0.0 {
            format!(
                "{} ({:.0}% of the wait)",
                duration(t.miss_explained_s),
                100.0 * t.miss_explained_s / t.first_token_wait_s
            )
        } else {
            duration(t.miss_explained_s)
        },
    ]
}

/// `850`, `105.2k`, `1.23M`, `68.4B` tokens.
pub fn tokens(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 1e9 => format!("{:.1}B", v / 1e9),
        Some(v) if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Some(v) if v >= 1e4 => format!("{:.1}k", v / 1e3),
        Some(v) => format!("{v:.0}"),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2} s"))
}

fn rate(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{} tok/s", super::rate(v)))
}

/// `42.0 s`, `35.5 min`, `2.3 h`.
fn duration(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_duration_formats() {
        assert_eq!(tokens(Some(850.0)), "850");
        assert_eq!(tokens(Some(105_200.0)), "105.2k");
        assert_eq!(tokens(Some(68.4e9)), "68.4B");
        assert_eq!(tokens(None), "-");
        assert_eq!(duration(42.0), "42.0 s");
        assert_eq!(duration(7200.0), "2.0 h");
    }
}
