//! Claude Code transcripts (`~/.claude/projects/<project>/<sessionId>.jsonl`,
//! subagents in `<sessionId>/subagents/agent-<agentId>.jsonl`). Shapes follow
//! Claude Code 2.1.x (`version` 2.1.5 in the fixtures): assistant lines carry
//! `message.{id, model, usage}` and `requestId`, `sessionId`, `isSidechain`.
//!
//! - Prompt depth is `input_tokens + cache_creation_input_tokens +
//!   cache_read_input_tokens`; the cached part is `cache_read_input_tokens`.
//! - One streamed response is written as several lines (only `output_tokens`
//!   grows): every line gets a key from `message.id` + `requestId` (the id
//!   alone when `requestId` is missing), and [`dedupe`] keeps one per key,
//!   the main-thread one first, then the most complete.
//! - Sidechain lines (`isSidechain: true`) become [`Source::ClaudeSidechain`].
//! - `<synthetic>` messages and all-zero usage are no model call.

use super::record::{parse_time_ms, Request, Source};
use super::Parsed;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(default)]
    is_sidechain: Option<bool>,
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

/// Read one transcript; `stem` is the session id when a line has none.
pub fn parse(lines: &mut dyn super::walk::Lines, stem: &str, out: &mut Parsed) {
    let mut session: Arc<str> = Arc::from(stem);
    let mut model: Arc<str> = Arc::from("unknown");
    while let Some((line_no, line)) = lines.next_line() {
        // Only assistant lines carry usage; a line that is not an object is
        // parsed anyway so that it is reported.
        if line.first() == Some(&b'{') && memchr::memmem::find(line, b"\"usage\"").is_none() {
            continue;
        }
        let l = match serde_json::from_slice::<Line>(line) {
            Ok(l) => l,
            Err(e) => {
                out.malformed(line_no, &e.to_string());
                continue;
            }
        };
        if l.kind.as_deref() != Some("assistant") {
            continue;
        }
        let Some(msg) = l.message else { continue };
        let Some(u) = msg.usage else { continue };
        let input = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
        if input == 0 && u.output_tokens == 0 {
            continue;
        }
        if let Some(m) = msg.model.as_deref() {
            if m == "<synthetic>" {
                continue;
            }
            if m != model.as_ref() {
                model = Arc::from(m);
            }
        }
        if let Some(s) = l.session_id.as_deref() {
            if s != session.as_ref() {
                session = Arc::from(s);
            }
        }
        let dedupe_key = msg.id.as_deref().map(|id| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            id.hash(&mut h);
            l.request_id.as_deref().unwrap_or("").hash(&mut h);
            h.finish()
        });
        out.records.push(Request {
            source: if l.is_sidechain == Some(true) {
                Source::ClaudeSidechain
            } else {
                Source::Claude
            },
            session: session.clone(),
            model: model.clone(),
            time_ms: l.timestamp.as_deref().and_then(parse_time_ms),
            input_tokens: input,
            cached_tokens: u.cache_read_input_tokens,
            output_tokens: u.output_tokens,
            ttft_s: None,
            decode_s: None,
            end_ms: None,
            dedupe_key,
        });
    }
    // Streamed rows sit together: merge them now so memory holds one per
    // response (copies across files are merged again after reading).
    out.counters.claude_rows_merged += dedupe(&mut out.records);
}

/// Keep one record per response key: the main-thread one over a sidechain
/// copy, then the larger token total, then the first seen. Records without a
/// key are all kept. Returns how many rows were merged away. Order is kept.
pub fn dedupe(records: &mut Vec<Request>) -> u64 {
    let mut best: HashMap<u64, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let Some(k) = r.dedupe_key else { continue };
        match best.get(&k) {
            Some(&j) if !better(r, &records[j]) => {}
            _ => {
                best.insert(k, i);
            }
        }
    }
    let before = records.len();
    let mut i = 0;
    records.retain(|r| {
        let keep = r.dedupe_key.is_none_or(|k| best.get(&k) == Some(&i));
        i += 1;
        keep
    });
    (before - records.len()) as u64
}

fn better(a: &Request, b: &Request) -> bool {
    let main = |r: &Request| r.source != Source::ClaudeSidechain;
    let total = |r: &Request| r.input_tokens + r.output_tokens;
    (main(a), total(a)) > (main(b), total(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::walk::LineReader;

    fn read(text: &str) -> Parsed {
        let mut out = Parsed::default();
        let mut lines = LineReader::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        parse(&mut lines, "stem", &mut out);
        out
    }

    fn line(id: &str, req: &str, side: bool, read_t: u64, out_t: u64) -> String {
        format!(
            r#"{{"parentUuid":"p","isSidechain":{side},"sessionId":"s1","version":"2.1.5","message":{{"id":"{id}","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{{"type":"text","text":"SECRET"}}],"usage":{{"input_tokens":3,"cache_creation_input_tokens":100,"cache_read_input_tokens":{read_t},"output_tokens":{out_t}}}}},"requestId":"{req}","type":"assistant","uuid":"u","timestamp":"2026-01-10T10:00:00.000Z"}}"#
        )
    }

    #[test]
    fn a_streamed_response_counts_once_with_its_final_output() {
        let text = [
            line("m1", "r1", false, 1000, 1),
            line("m1", "r1", false, 1000, 40),
            line("m1", "r1", false, 1000, 12),
            line("m2", "r2", false, 2000, 5),
        ]
        .join("\n");
        let p = read(&text);
        assert_eq!(p.counters.claude_rows_merged, 2);
        let outs: Vec<u64> = p.records.iter().map(|r| r.output_tokens).collect();
        assert_eq!(outs, vec![40, 5]);
        assert_eq!(p.records[0].input_tokens, 1103);
        assert_eq!(p.records[0].cached_tokens, 1000);
        assert_eq!(&*p.records[0].session, "s1");
    }

    #[test]
    fn sidechains_are_apart_and_lose_to_the_main_thread_copy() {
        let text = [
            line("m1", "r1", true, 1000, 90),
            line("m1", "r1", false, 1000, 10),
            line("m3", "r3", true, 10, 1),
        ]
        .join("\n");
        let p = read(&text);
        assert_eq!(p.counters.claude_rows_merged, 1);
        let srcs: Vec<Source> = p.records.iter().map(|r| r.source).collect();
        assert_eq!(srcs, vec![Source::Claude, Source::ClaudeSidechain]);
    }

    #[test]
    fn malformed_and_synthetic_lines() {
        let text = format!(
            "{}\n{{\"type\":\"assistant\",\"usage\": oops\nnot json at all\n{}",
            line("m1", "r1", false, 1, 1),
            r#"{"type":"assistant","message":{"id":"x","model":"<synthetic>","usage":{"input_tokens":0,"output_tokens":0}}}"#
        );
        let p = read(&text);
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.malformed_count, 2);
        assert_eq!(
            p.malformed.iter().map(|m| m.0).collect::<Vec<_>>(),
            vec![2, 3]
        );
    }
}
