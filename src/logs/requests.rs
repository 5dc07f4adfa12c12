//! Generic request logs, from any serving path: one request per JSONL line or
//! CSV row (with a header). The schema, its aliases and its units are in
//! `docs/request-logs.md`; in short: `model`, optional `provider` and
//! `session`, `request_time` / `first_token_time` / `end_time` (RFC 3339 or
//! Unix seconds) or `ttft_s` / `total_s`, and `input_tokens`, `cached_tokens`
//! (part of the input) and `output_tokens`. Unknown columns are ignored, so a
//! log that also records text is read without ever keeping it.

use super::record::{parse_time_ms, Request, Source};
use super::Parsed;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Deserialize, Default)]
struct Row {
    #[serde(default, alias = "session_id", alias = "task", alias = "trace_id")]
    session: Option<Value>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default, alias = "request_ts", alias = "start_time")]
    request_time: Option<Value>,
    #[serde(default, alias = "first_delta_time", alias = "first_token_ts")]
    first_token_time: Option<Value>,
    #[serde(default, alias = "response_time", alias = "end_ts")]
    end_time: Option<Value>,
    #[serde(default)]
    ttft_s: Option<f64>,
    #[serde(default, alias = "latency_s")]
    total_s: Option<f64>,
    #[serde(default, alias = "prompt_tokens")]
    input_tokens: Option<u64>,
    #[serde(
        default,
        alias = "cached_input_tokens",
        alias = "cache_read_input_tokens"
    )]
    cached_tokens: Option<u64>,
    #[serde(default, alias = "completion_tokens")]
    output_tokens: Option<u64>,
}

/// Read a JSONL request log.
pub fn parse_jsonl(lines: &mut dyn super::walk::Lines, stem: &str, out: &mut Parsed) {
    let mut interner = Interner::default();
    while let Some((line_no, line)) = lines.next_line() {
        match serde_json::from_slice::<Row>(line) {
            Ok(row) => push(row, line_no, stem, &mut interner, out),
            Err(e) => out.malformed(line_no, &e.to_string()),
        }
    }
}

/// Read a CSV request log: the first line names the columns.
pub fn parse_csv(lines: &mut dyn super::walk::Lines, stem: &str, out: &mut Parsed) {
    let mut interner = Interner::default();
    let Some((_, header)) = lines.next_line() else {
        return;
    };
    let header: Vec<String> = split_csv(&String::from_utf8_lossy(header))
        .into_iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    while let Some((line_no, line)) = lines.next_line() {
        let Ok(text) = std::str::from_utf8(line) else {
            out.malformed(line_no, "not UTF-8");
            continue;
        };
        let cells = split_csv(text);
        if cells.len() != header.len() {
            out.malformed(
                line_no,
                &format!("{} cells, the header has {}", cells.len(), header.len()),
            );
            continue;
        }
        let mut obj = Map::new();
        for (h, c) in header.iter().zip(cells) {
            let c = c.trim();
            if c.is_empty() {
                continue;
            }
            let v = if let Ok(n) = c.parse::<u64>() {
                Value::from(n)
            } else if let Some(f) = c.parse::<f64>().ok().filter(|f| f.is_finite()) {
                Value::from(f)
            } else {
                Value::from(c)
            };
            obj.insert(h.clone(), v);
        }
        match serde_json::from_value::<Row>(Value::Object(obj)) {
            Ok(row) => push(row, line_no, stem, &mut interner, out),
            Err(e) => out.malformed(line_no, &e.to_string()),
        }
    }
}

/// Split one CSV line (RFC 4180 quoting, no line breaks inside a field).
fn split_csv(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let cell = cells.last_mut().expect("one cell at least");
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(String::new()),
            _ => cell.push(c),
        }
    }
    cells
}

#[derive(Default)]
struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(s.to_string(), a.clone());
        a
    }
}

/// A timestamp: RFC 3339 text or Unix seconds (a number or numeric text).
fn time_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|s| (s * 1000.0).round() as i64),
        Value::String(s) => parse_time_ms(s).or_else(|| {
            s.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| (f * 1000.0).round() as i64)
        }),
        _ => None,
    }
}

fn push(row: Row, line_no: u64, stem: &str, interner: &mut Interner, out: &mut Parsed) {
    let Some(input) = row.input_tokens else {
        out.malformed(line_no, "no `input_tokens` (or `prompt_tokens`)");
        return;
    };
    let parse = |v: &Option<Value>, what: &str| -> Result<Option<i64>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => time_ms(v)
                .map(Some)
                .ok_or_else(|| format!("`{what}` is not RFC 3339 or Unix seconds")),
        }
    };
    let times = (|| {
        Ok::<_, String>((
            parse(&row.request_time, "request_time")?,
            parse(&row.first_token_time, "first_token_time")?,
            parse(&row.end_time, "end_time")?,
        ))
    })();
    let (req, first, end) = match times {
        Ok(t) => t,
        Err(e) => {
            out.malformed(line_no, &e);
            return;
        }
    };
    let secs = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 1000.0),
        _ => None,
    };
    let ttft_s = secs(req, first).or(row.ttft_s.filter(|t| *t >= 0.0));
    let end_ms = end.or_else(|| match (req, row.total_s) {
        (Some(r), Some(t)) if t >= 0.0 => Some(r + (t * 1000.0).round() as i64),
        _ => None,
    });
    let from_totals = match (row.total_s, ttft_s) {
        (Some(t), Some(f)) if t >= f => Some(t - f),
        _ => None,
    };
    let decode_s = secs(first, end_ms).or(from_totals);
    let model = match (row.provider.as_deref(), row.model.as_deref()) {
        (Some(p), Some(m)) if !p.is_empty() => format!("{p}/{m}"),
        (_, Some(m)) => m.to_string(),
        (Some(p), None) => format!("{p}/unknown"),
        (None, None) => "unknown".to_string(),
    };
    let session = match &row.session {
        Some(Value::String(s)) => interner.get(s),
        Some(v @ Value::Number(_)) => interner.get(&v.to_string()),
        _ => interner.get(stem),
    };
    out.records.push(Request {
        source: Source::Requests,
        session,
        model: interner.get(&model),
        time_ms: req,
        input_tokens: input,
        cached_tokens: row.cached_tokens.unwrap_or(0).min(input),
        output_tokens: row.output_tokens.unwrap_or(0),
        ttft_s,
        decode_s,
        end_ms,
        dedupe_key: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::walk::LineReader;

    fn lines(t: &str) -> LineReader<std::io::Cursor<Vec<u8>>> {
        LineReader::new(std::io::Cursor::new(t.as_bytes().to_vec()))
    }

    #[test]
    fn csv_with_timestamps_gives_ttft_and_decode() {
        let mut out = Parsed::default();
        parse_csv(
            &mut lines(
                "session,provider,model,request_time,first_token_time,end_time,input_tokens,cached_tokens,output_tokens,prompt\n\
                 t1,openrouter,qwen,2026-01-01T00:00:00Z,2026-01-01T00:00:01.500Z,2026-01-01T00:00:03.500Z,12000,11000,101,\"a, \"\"quoted\"\" text\"\n\
                 t1,openrouter,qwen,1767225605,1767225606,,100,200,5,x\n\
                 t1,openrouter,qwen,2026-01-01T00:00:00Z\n",
            ),
            "f",
            &mut out,
        );
        assert_eq!(out.records.len(), 2);
        let r = &out.records[0];
        assert_eq!(&*r.model, "openrouter/qwen");
        assert_eq!(r.ttft_s, Some(1.5));
        assert_eq!(r.decode_s, Some(2.0));
        assert_eq!(r.decode_tok_s(), Some(50.5));
        assert_eq!(out.records[1].cached_tokens, 100, "cached capped at input");
        assert_eq!(out.records[1].ttft_s, Some(1.0));
        assert_eq!(out.records[1].decode_s, None);
        assert_eq!(out.malformed_count, 1);
        assert_eq!(out.malformed[0].0, 4);
    }

    #[test]
    fn jsonl_with_aliases_and_relative_times() {
        let mut out = Parsed::default();
        parse_jsonl(
            &mut lines(
                r#"{"model":"gpt","prompt_tokens":50,"cached_input_tokens":20,"completion_tokens":9,"ttft_s":0.5,"total_s":1.5,"request_time":10}
{"model":"gpt","output_tokens":3}
{"model":"gpt","input_tokens":5,"request_time":"soon"}"#,
            ),
            "f",
            &mut out,
        );
        assert_eq!(out.records.len(), 1);
        let r = &out.records[0];
        assert_eq!(
            (r.input_tokens, r.cached_tokens, r.output_tokens),
            (50, 20, 9)
        );
        assert_eq!(
            (r.ttft_s, r.decode_s, r.end_ms),
            (Some(0.5), Some(1.0), Some(11_500))
        );
        assert_eq!(&*r.session, "f");
        assert_eq!(out.malformed_count, 2);
    }

    #[test]
    fn csv_split_handles_quotes() {
        assert_eq!(
            split_csv(r#"a,"b,c","d""e",,"#),
            vec!["a", "b,c", "d\"e", "", ""]
        );
    }
}
