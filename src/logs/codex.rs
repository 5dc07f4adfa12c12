//! Codex CLI rollouts (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`).
//!
//! Each line is `{"timestamp", "type", "payload"}`. A model call shows up as an
//! `event_msg` whose payload is a `token_count` event with `info.last_token_usage`
//! (the call) and `info.total_token_usage` (cumulative). `cached_input_tokens`
//! is part of `input_tokens`, `reasoning_output_tokens` part of `output_tokens`.
//! The model comes from the latest `turn_context`. Shapes follow the Rust CLI's
//! rollouts (cli_version 0.5x, protocol.rs) as described in the notes.
//!
//! Counting traps handled here (each has double-counted in other tools):
//! - a `token_count` event repeated with unchanged totals is one call, not two;
//! - `info: null` (only the rate limits changed) is no call;
//! - a forked or subagent thread (`forked_from_id`, a `subagent` source, or
//!   `thread_spawn` in the first 16 KiB) starts with a burst of the parent's
//!   replayed events, all stamped in the second the file was created: skipped;
//! - with no `last_token_usage`, the call is the difference of the cumulative
//!   totals (a total that went down is a reset counter: the total is the call);
//! - `cached_input_tokens` is capped at `input_tokens`;
//! - only the first `session_meta` names the thread (a fork may replay its
//!   parent's).
//!
//! The pre-filter skips `response_item` lines unparsed, so a truncated one is
//! not reported; any other broken line is, with its line number.

use super::record::{parse_time_ms, Request, Source};
use super::Parsed;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;

/// How far into a file `thread_spawn` marks a subagent thread (ccusage's rule).
const SPAWN_MARK_BYTES: usize = 16 * 1024;

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    payload: Option<Payload<'a>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    forked_from_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    source: Option<serde_json::Value>,
    #[serde(default)]
    info: Option<Info>,
}

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    total_token_usage: Option<Usage>,
    #[serde(default)]
    last_token_usage: Option<Usage>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default, Debug)]
struct Usage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    cached_input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

impl Usage {
    /// `self - prev`, or `self` when any counter went down (a reset).
    fn since(self, prev: Option<Usage>) -> Usage {
        let Some(p) = prev else { return self };
        match (
            self.input_tokens.checked_sub(p.input_tokens),
            self.cached_input_tokens.checked_sub(p.cached_input_tokens),
            self.output_tokens.checked_sub(p.output_tokens),
        ) {
            (Some(input_tokens), Some(cached_input_tokens), Some(output_tokens)) => Usage {
                input_tokens,
                cached_input_tokens,
                output_tokens,
            },
            _ => self,
        }
    }
}

/// Per-file reading state.
struct State {
    session: Arc<str>,
    model: Arc<str>,
    /// A forked or subagent thread: the second its replay burst is stamped with.
    replay_second: Option<i64>,
    forked: bool,
    named: bool,
    prev_total: Option<Usage>,
}

/// Read one rollout. `head` is the file's first bytes (for the subagent mark),
/// `stem` the session id to use when the file has no `session_meta`.
pub fn parse(lines: &mut dyn super::walk::Lines, head: &[u8], stem: &str, out: &mut Parsed) {
    let mut st = State {
        session: Arc::from(stem),
        model: Arc::from("unknown"),
        replay_second: None,
        forked: memchr::memmem::find(&head[..head.len().min(SPAWN_MARK_BYTES)], b"thread_spawn")
            .is_some(),
        named: false,
        prev_total: None,
    };
    while let Some((line_no, line)) = lines.next_line() {
        if !wanted(line) {
            continue;
        }
        match serde_json::from_slice::<Line>(line) {
            Ok(l) => st.line(l, out),
            Err(e) => out.malformed(line_no, &e.to_string()),
        }
    }
}

/// The cheap pre-filter: only three line types matter. A line that is not
/// an object is parsed anyway, so that it is reported as malformed.
fn wanted(line: &[u8]) -> bool {
    use memchr::memmem::find;
    if line.first() != Some(&b'{') {
        return true;
    }
    let head = &line[..line.len().min(96)];
    if find(head, b"\"response_item\"").is_some() {
        return false;
    }
    find(line, b"token_count").is_some()
        || find(head, b"\"turn_context\"").is_some()
        || find(head, b"\"session_meta\"").is_some()
}

impl State {
    fn line(&mut self, l: Line, out: &mut Parsed) {
        let Some(p) = l.payload else { return };
        let second = l
            .timestamp
            .as_deref()
            .and_then(parse_time_ms)
            .map(|ms| ms.div_euclid(1000));
        match l.kind.as_ref() {
            "session_meta" => {
                if self.named {
                    return;
                }
                self.named = true;
                if let Some(id) = p.id {
                    self.session = Arc::from(id.as_ref());
                }
                let subagent = matches!(&p.source, Some(serde_json::Value::Object(m)) if m.contains_key("subagent"));
                if p.forked_from_id.is_some() || subagent {
                    self.forked = true;
                }
                if self.forked && self.replay_second.is_none() {
                    self.replay_second = second;
                }
            }
            "turn_context" => {
                if let Some(m) = p.model.filter(|m| !m.is_empty()) {
                    if m.as_ref() != self.model.as_ref() {
                        self.model = Arc::from(m.as_ref());
                    }
                }
            }
            "event_msg" if p.kind.as_deref() == Some("token_count") => {
                let Some(info) = p.info else { return };
                self.token_count(info, second, l.timestamp.as_deref(), out);
            }
            _ => {}
        }
    }

    fn token_count(&mut self, info: Info, second: Option<i64>, ts: Option<&str>, out: &mut Parsed) {
        let total = info.total_token_usage;
        if total.is_some() && total == self.prev_total {
            out.counters.codex_repeated += 1;
            return;
        }
        if self.forked && second.is_some() && second == self.replay_second {
            out.counters.codex_replayed += 1;
            self.prev_total = total.or(self.prev_total);
            return;
        }
        let call = match (info.last_token_usage, total) {
            (Some(last), _) => last,
            (None, Some(t)) => t.since(self.prev_total),
            (None, None) => return,
        };
        self.prev_total = total.or(self.prev_total);
        if call == Usage::default() {
            return;
        }
        out.records.push(Request {
            source: Source::Codex,
            session: self.session.clone(),
            model: self.model.clone(),
            time_ms: ts.and_then(parse_time_ms),
            input_tokens: call.input_tokens,
            cached_tokens: call.cached_input_tokens.min(call.input_tokens),
            output_tokens: call.output_tokens,
            ttft_s: None,
            decode_s: None,
            end_ms: None,
            dedupe_key: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::walk::LineReader;

    fn read(text: &str) -> Parsed {
        let mut out = Parsed::default();
        let bytes = text.as_bytes().to_vec();
        let mut lines = LineReader::new(std::io::Cursor::new(bytes.clone()));
        parse(&mut lines, &bytes, "stem", &mut out);
        out
    }

    fn meta(ts: &str, extra: &str) -> String {
        format!(
            r#"{{"timestamp":"{ts}","type":"session_meta","payload":{{"id":"thread-1","cwd":"/p","cli_version":"0.58.0","source":"cli"{extra}}}}}"#
        )
    }

    fn ctx(model: &str) -> String {
        format!(
            r#"{{"timestamp":"2026-01-01T00:00:01.000Z","type":"turn_context","payload":{{"cwd":"/p","model":"{model}"}}}}"#
        )
    }

    fn tc(ts: &str, last: Option<(u64, u64, u64)>, total: (u64, u64, u64)) -> String {
        let u = |(i, c, o): (u64, u64, u64)| {
            format!(
                r#"{{"input_tokens":{i},"cached_input_tokens":{c},"output_tokens":{o},"reasoning_output_tokens":0,"total_tokens":{}}}"#,
                i + o
            )
        };
        let last = last.map_or(String::new(), |l| {
            format!(r#","last_token_usage":{}"#, u(l))
        });
        format!(
            r#"{{"timestamp":"{ts}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{}{last},"model_context_window":272000}},"rate_limits":null}}}}"#,
            u(total)
        )
    }

    #[test]
    fn repeated_and_rate_limit_only_events_count_once() {
        let text = [
            meta("2026-01-01T00:00:00.000Z", ""),
            ctx("gpt-5-codex"),
            r#"{"timestamp":"2026-01-01T00:00:02.000Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"token_count SECRET"}]}}"#.into(),
            tc("2026-01-01T00:00:05.000Z", Some((1000, 800, 50)), (1000, 800, 50)),
            tc("2026-01-01T00:00:05.100Z", Some((1000, 800, 50)), (1000, 800, 50)),
            r#"{"timestamp":"2026-01-01T00:00:06.000Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{}}}"#.into(),
            tc("2026-01-01T00:00:09.000Z", Some((2000, 2500, 70)), (3000, 3300, 120)),
        ]
        .join("\n");
        let p = read(&text);
        assert_eq!(p.counters.codex_repeated, 1);
        let got: Vec<_> = p
            .records
            .iter()
            .map(|r| (r.input_tokens, r.cached_tokens, r.output_tokens))
            .collect();
        assert_eq!(
            got,
            vec![(1000, 800, 50), (2000, 2000, 70)],
            "cached capped at input"
        );
        assert_eq!(&*p.records[0].model, "gpt-5-codex");
        assert_eq!(&*p.records[0].session, "thread-1");
        assert_eq!(p.malformed_count, 0);
    }

    #[test]
    fn without_last_usage_the_totals_are_differenced() {
        let text = [
            ctx("m"),
            tc("2026-01-01T00:00:05.000Z", None, (1000, 500, 10)),
            tc("2026-01-01T00:00:09.000Z", None, (3000, 2000, 30)),
            tc("2026-01-01T00:00:19.000Z", None, (100, 0, 1)),
        ]
        .join("\n");
        let p = read(&text);
        let got: Vec<_> = p
            .records
            .iter()
            .map(|r| (r.input_tokens, r.cached_tokens, r.output_tokens))
            .collect();
        assert_eq!(got, vec![(1000, 500, 10), (2000, 1500, 20), (100, 0, 1)]);
        assert_eq!(&*p.records[0].session, "stem");
    }

    #[test]
    fn a_forked_thread_skips_its_replayed_burst() {
        let text = [
            meta(
                "2026-01-01T00:10:00.000Z",
                r#","forked_from_id":"thread-0""#,
            ),
            tc("2026-01-01T00:10:00.100Z", Some((100, 0, 5)), (100, 0, 5)),
            tc(
                "2026-01-01T00:10:00.200Z",
                Some((200, 100, 5)),
                (300, 100, 10),
            ),
            ctx("m"),
            tc("2026-01-01T00:10:07.000Z", None, (700, 400, 30)),
        ]
        .join("\n");
        let p = read(&text);
        assert_eq!(p.counters.codex_replayed, 2);
        assert_eq!(
            &*p.records[0].session, "thread-1",
            "the fork's own id, not its parent's"
        );
        let got: Vec<_> = p
            .records
            .iter()
            .map(|r| (r.input_tokens, r.cached_tokens, r.output_tokens))
            .collect();
        assert_eq!(got, vec![(400, 300, 20)]);
    }

    #[test]
    fn a_subagent_marked_by_thread_spawn_skips_its_burst_too() {
        let text = [
            meta(
                "2026-01-01T00:10:00.000Z",
                r#","thread_spawn":{"parent":"thread-0"}"#,
            ),
            tc("2026-01-01T00:10:00.500Z", Some((100, 0, 5)), (100, 0, 5)),
            tc("2026-01-01T00:10:03.000Z", Some((50, 0, 5)), (150, 0, 10)),
        ]
        .join("\n");
        let p = read(&text);
        assert_eq!(p.counters.codex_replayed, 1);
        assert_eq!(p.records.len(), 1);
    }

    #[test]
    fn a_truncated_line_is_reported_not_fatal() {
        let text = format!(
            "{}\n{{\"timestamp\":\"x\",\"type\":\"event_msg\",\"payload\":{{\"type\":\"token_count\",\"info\":{{\"total\n{}",
            ctx("m"),
            tc("2026-01-01T00:00:05.000Z", Some((1, 0, 1)), (1, 0, 1))
        );
        let p = read(&text);
        assert_eq!(p.malformed_count, 1);
        assert_eq!(p.malformed[0].0, 2);
        assert_eq!(p.records.len(), 1);
    }
}
