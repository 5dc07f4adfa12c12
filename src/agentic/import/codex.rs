//! Codex CLI rollouts: `{"timestamp", "type", "payload"}` lines (shapes of
//! the Rust CLI's rollouts, cli_version 0.5x: `session_meta`, `turn_context`,
//! `response_item`, `event_msg`, `compacted`).
//!
//! The conversation is the `response_item`s: `message` (user, developer,
//! assistant), `function_call` / `custom_tool_call` / `local_shell_call` and
//! their outputs, `reasoning`. One model call is a run of output items
//! (reasoning, assistant text, tool calls) after input items; it was sent
//! everything before the run. Its usage is the next `token_count` event
//! (`last_token_usage`, else the difference of `total_token_usage`; a
//! repeated event with unchanged totals is the same call).
//!
//! Mapping to chat messages: developer messages become user messages (chat
//! templates take one system message, first); a call's outputs become one
//! assistant message with `tool_calls`; outputs become `tool` messages.
//! Reasoning (encrypted) and web searches cannot be resent: counted as left
//! out. The system prompt is `session_meta`'s `base_instructions` or
//! `instructions` when the rollout has them; tools never are.

use super::{assistant, read_lines, text_of, tool_call, tool_result, Agent, Call, Parsed};
use crate::agentic::session::Message;
use crate::logs::record::parse_time_ms;
use serde_json::Value;
use std::path::Path;

/// What an item is, for finding call boundaries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Input,
    Output,
}

struct Reader {
    parsed: Parsed,
    history: Vec<Message>,
    last_side: Side,
    /// The call whose outputs are arriving (index into `parsed.calls`).
    open: Option<usize>,
    /// Calls still waiting for their usage.
    awaiting_usage: Vec<usize>,
    last_total: Option<(u64, u64)>,
    meta_seen: bool,
}

/// Read a rollout.
pub fn read(path: &Path) -> Result<Parsed, super::ImportError> {
    let mut r = Reader {
        parsed: Parsed::default(),
        history: Vec::new(),
        last_side: Side::Input,
        open: None,
        awaiting_usage: Vec::new(),
        last_total: None,
        meta_seen: false,
    };
    for (_, v) in read_lines(Agent::Codex, path)? {
        r.line(&v);
    }
    Ok(r.parsed)
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl Reader {
    fn line(&mut self, v: &Value) {
        let at = v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_time_ms);
        let Some(p) = v.get("payload") else { return };
        match str_at(v, "type") {
            "session_meta" if !self.meta_seen => {
                self.meta_seen = true;
                let base = p
                    .get("base_instructions")
                    .map(|b| b.get("text").unwrap_or(b))
                    .or_else(|| p.get("instructions"));
                let text = text_of(base);
                if !text.is_empty() {
                    self.parsed.system = Some(text);
                }
            }
            "response_item" => self.item(p, at),
            "event_msg" if str_at(p, "type") == "token_count" => self.usage(p),
            "compacted" => self.compacted(p),
            _ => {}
        }
    }

    fn item(&mut self, p: &Value, at: Option<i64>) {
        match str_at(p, "type") {
            "message" => {
                let text = text_of(p.get("content"));
                match str_at(p, "role") {
                    "assistant" => self.output(at, Some(text), None),
                    "developer" | "system" | "user" => {
                        self.input(Message::text("user", text));
                    }
                    _ => self.parsed.leave_out("messages of other roles"),
                }
            }
            "function_call" => {
                let c = tool_call(
                    str_at(p, "call_id"),
                    str_at(p, "name"),
                    str_at(p, "arguments").into(),
                );
                self.output(at, None, Some(c));
            }
            "custom_tool_call" => {
                let c = tool_call(
                    str_at(p, "call_id"),
                    str_at(p, "name"),
                    str_at(p, "input").into(),
                );
                self.output(at, None, Some(c));
            }
            "local_shell_call" => {
                let args = p.get("action").map_or(String::new(), Value::to_string);
                self.output(
                    at,
                    None,
                    Some(tool_call(str_at(p, "call_id"), "shell", args)),
                );
            }
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                let out = match p.get("output") {
                    Some(Value::Object(o)) => text_of(o.get("content")),
                    other => text_of(other),
                };
                self.input(tool_result(str_at(p, "call_id"), out));
            }
            "reasoning" => {
                self.output(at, None, None);
                self.parsed
                    .leave_out("reasoning items (encrypted; not resent)");
            }
            "" => {}
            other => {
                let kind = format!("`{other}` items");
                self.parsed.leave_out(&kind);
            }
        }
    }

    fn input(&mut self, m: Message) {
        self.history.push(m);
        self.last_side = Side::Input;
        self.open = None;
    }

    /// An output item: opens a call after input; text and tool calls join
    /// the call's one assistant message.
    fn output(&mut self, at: Option<i64>, text: Option<String>, call: Option<Value>) {
        if self.last_side == Side::Input || self.open.is_none() {
            self.parsed.calls.push(Call {
                conversation: "main".into(),
                messages: self.history.clone(),
                input_tokens: None,
                output_tokens: None,
                at_ms: at,
            });
            let i = self.parsed.calls.len() - 1;
            self.open = Some(i);
            self.awaiting_usage.push(i);
            self.history.push(assistant(String::new(), Vec::new()));
        }
        self.last_side = Side::Output;
        let Some(m) = self.history.last_mut() else {
            return;
        };
        if let Some(t) = text {
            let mut s = m.content_text();
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(&t);
            m.content = Some(Value::String(s));
        }
        if let Some(c) = call {
            match &mut m.tool_calls {
                Some(Value::Array(a)) => a.push(c),
                _ => m.tool_calls = Some(Value::Array(vec![c])),
            }
        }
    }

    fn usage(&mut self, p: &Value) {
        let Some(info) = p.get("info").filter(|i| !i.is_null()) else {
            return;
        };
        let n = |u: Option<&Value>, k: &str| u.and_then(|u| u.get(k)).and_then(Value::as_u64);
        let total = info.get("total_token_usage");
        let total_pair = n(total, "input_tokens").zip(n(total, "output_tokens"));
        if total_pair.is_some() && total_pair == self.last_total {
            return; // the same event again
        }
        let last = info.get("last_token_usage");
        let (input, output) = match (n(last, "input_tokens"), n(last, "output_tokens")) {
            (Some(i), Some(o)) => (i, o),
            _ => match (total_pair, self.last_total) {
                (Some((ti, to)), Some((pi, po))) if ti >= pi && to >= po => (ti - pi, to - po),
                (Some(t), _) => t,
                _ => return,
            },
        };
        self.last_total = total_pair.or(self.last_total);
        if self.awaiting_usage.is_empty() {
            return;
        }
        let i = self.awaiting_usage.remove(0);
        self.parsed.calls[i].input_tokens = Some(input);
        self.parsed.calls[i].output_tokens = Some(output);
    }

    /// A compaction: the history after it is the replacement the rollout
    /// records, else a summary message.
    fn compacted(&mut self, p: &Value) {
        if let Some(Value::Array(items)) = p.get("replacement_history") {
            // replayed items are history, not calls
            let (calls, waiting) = (self.parsed.calls.len(), self.awaiting_usage.len());
            self.history.clear();
            for it in items {
                self.item(it, None);
            }
            self.parsed.calls.truncate(calls);
            self.awaiting_usage.truncate(waiting);
        } else {
            self.history = vec![Message::text("user", text_of(p.get("message")))];
        }
        self.last_side = Side::Input;
        self.open = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_becomes_calls_with_their_usage() {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sessions/codex-rollout.jsonl");
        let parsed = read(&p).unwrap();
        let calls = &parsed.calls;
        assert_eq!(calls.len(), 4, "{calls:#?}");
        assert!(parsed
            .system
            .as_deref()
            .unwrap_or("")
            .starts_with("You are Codex"));
        // each call was sent everything before it: it grows by appending
        for w in calls.windows(2) {
            assert_eq!(w[1].messages[..w[0].messages.len()], w[0].messages[..]);
        }
        assert_eq!(calls[0].input_tokens, Some(4310));
        assert_eq!(
            calls[1].output_tokens,
            Some(41),
            "duplicate token_count not a call"
        );
        let m = &calls[1].messages;
        let a = &m[m.len() - 2];
        assert_eq!(a.role, "assistant");
        assert!(a.tool_calls.is_some());
        assert_eq!(m[m.len() - 1].role, "tool");
        assert_eq!(
            parsed.left_out.values().sum::<usize>(),
            2,
            "{:?}",
            parsed.left_out
        );
    }
}
