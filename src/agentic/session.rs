//! The session file: JSON Lines, a header line then one line per request
//! (`docs/sessions.md`). A request carries either the full message list or
//! only the messages appended since the previous request of the same
//! conversation; tool definitions, when absent, are the conversation's
//! previous ones. Reading resolves every request to its full list, so
//! replay and explain never see the compact form.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The format version this build reads and writes.
pub const FORMAT: u32 = 1;

/// The first line of a session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// A name for reports.
    pub name: String,
    /// Where it came from (`synth`, `codex`, `claude-code`, `hand`).
    pub source: String,
    /// The tokenizer the sizes were estimated for (`byte`, `~4 chars/token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_hint: Option<String>,
    /// Characters per token assumed when the sizes were chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chars_per_token: Option<f64>,
    /// Generator seed, for synthesized sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Cache-breakers injected by the generator, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakers: Vec<String>,
    /// What an import filled in or left out (stand-in sizes, counts; no text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filled_in: Vec<String>,
}

/// One chat message, OpenAI-style; fields rooftune does not know are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text, or a list of content parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// The assistant's tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Value>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Anything else the client sent.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Message {
    /// A message with text content.
    pub fn text(role: &str, content: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: Some(Value::String(content.into())),
            tool_calls: None,
            tool_call_id: None,
            extra: BTreeMap::new(),
        }
    }

    /// The content as text: a string, or the text parts joined.
    pub fn content_text(&self) -> String {
        match &self.content {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }
}

/// Sampling settings sent with a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
}

/// A request line as stored (compact: `append` or `messages`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestLine {
    #[serde(default = "main_conversation")]
    conversation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    append: Option<Vec<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "is_default")]
    sampling: Sampling,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    injected: Vec<String>,
}

fn is_default(s: &Sampling) -> bool {
    *s == Sampling::default()
}

fn main_conversation() -> String {
    "main".into()
}

/// One request, resolved: the full message list and tools it sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    /// Position in the session, from 0.
    pub index: usize,
    /// The conversation it belongs to (`main`, `agent-1`).
    pub conversation: String,
    /// Position within its conversation, from 0.
    pub turn: usize,
    /// Every message sent.
    pub messages: Vec<Message>,
    /// Tool definitions sent (OpenAI `tools`).
    pub tools: Vec<Value>,
    /// Sampling settings.
    pub sampling: Sampling,
    /// Tokens the original produced (replay asks for as many).
    pub output_tokens: Option<u64>,
    /// When it was sent, seconds from the session's start.
    pub at_s: Option<f64>,
    /// Cache-breakers the generator injected into this request.
    pub injected: Vec<String>,
}

impl Request {
    /// Characters it sends: every message's text plus the tool definitions
    /// as JSON (what a token estimate divides by chars-per-token).
    pub fn text_chars(&self) -> usize {
        self.messages
            .iter()
            .map(|m| m.content_text().len())
            .sum::<usize>()
            + self
                .tools
                .iter()
                .map(|t| t.to_string().len())
                .sum::<usize>()
    }
}

/// A session: its header and resolved requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The header line.
    pub header: Header,
    /// Requests in the order they were sent.
    pub requests: Vec<Request>,
}

/// A session file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The file cannot be read or written.
    #[error("cannot read session file `{path}`\n  (hint: check the path; `rooftune session synth -o FILE.jsonl` writes one)")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not what the format says.
    #[error("session file `{path}` line {line}: {problem}\n  (hint: {hint})")]
    Bad {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
        /// What to do.
        hint: &'static str,
    },
}

const FORMAT_HINT: &str = "the format is described in docs/sessions.md";

impl Session {
    /// Read and resolve a session file.
    pub fn read(path: &Path) -> Result<Session, SessionError> {
        let text = std::fs::read_to_string(path).map_err(|source| SessionError::Io {
            path: path.into(),
            source,
        })?;
        Session::parse(&text, path)
    }

    /// Parse and resolve session text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Session, SessionError> {
        let bad = |line: usize, problem: String, hint: &'static str| SessionError::Bad {
            path: path.into(),
            line,
            problem,
            hint,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.trim().is_empty());
        let (n, first) = lines
            .next()
            .ok_or_else(|| bad(1, "the file is empty".into(), FORMAT_HINT))?;
        let header = parse_header(first).map_err(|p| bad(n, p, FORMAT_HINT))?;
        if header.format > FORMAT {
            return Err(bad(
                n,
                format!(
                    "format {} is newer than this rooftune reads ({FORMAT})",
                    header.format
                ),
                "upgrade rooftune to read this file",
            ));
        }
        let mut last: BTreeMap<String, (Vec<Message>, Vec<Value>, usize)> = BTreeMap::new();
        let mut requests = Vec::new();
        for (n, l) in lines {
            let v: Value = serde_json::from_str(l)
                .map_err(|e| bad(n, format!("not JSON: {e}"), FORMAT_HINT))?;
            if v.get("kind").and_then(Value::as_str) != Some("request") {
                return Err(bad(
                    n,
                    "expected a line with \"kind\": \"request\"".into(),
                    FORMAT_HINT,
                ));
            }
            let mut obj = v;
            if let Some(o) = obj.as_object_mut() {
                o.remove("kind");
            }
            let r: RequestLine = serde_json::from_value(obj)
                .map_err(|e| bad(n, format!("not a request: {e}"), FORMAT_HINT))?;
            let prev = last.get(&r.conversation);
            let messages =
                match (r.messages, r.append) {
                    (Some(m), None) => m,
                    (None, Some(a)) => match prev {
                        Some((m, _, _)) => m.iter().cloned().chain(a).collect(),
                        None => return Err(bad(
                            n,
                            format!(
                                "`append` in the first request of conversation `{}`",
                                r.conversation
                            ),
                            "the first request of a conversation carries the full `messages` list",
                        )),
                    },
                    _ => {
                        return Err(bad(
                            n,
                            "a request needs exactly one of `messages` and `append`".into(),
                            FORMAT_HINT,
                        ))
                    }
                };
            if messages.is_empty() {
                return Err(bad(n, "a request with no messages".into(), FORMAT_HINT));
            }
            let tools = r
                .tools
                .or_else(|| prev.map(|p| p.1.clone()))
                .unwrap_or_default();
            let turn = prev.map_or(0, |p| p.2 + 1);
            last.insert(
                r.conversation.clone(),
                (messages.clone(), tools.clone(), turn),
            );
            requests.push(Request {
                index: requests.len(),
                conversation: r.conversation,
                turn,
                messages,
                tools,
                sampling: r.sampling,
                output_tokens: r.output_tokens,
                at_s: r.at_s,
                injected: r.injected,
            });
        }
        if requests.is_empty() {
            return Err(bad(n, "the file has no requests".into(), FORMAT_HINT));
        }
        Ok(Session { header, requests })
    }

    /// The session as JSONL, compact: a request whose conversation's previous
    /// request is a prefix of it carries only `append`, and tools only when
    /// they changed.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        let mut h = serde_json::to_value(&self.header).unwrap_or(Value::Null);
        if let Some(o) = h.as_object_mut() {
            o.insert("kind".into(), Value::String("header".into()));
        }
        out.push_str(&h.to_string());
        out.push('\n');
        let mut last: BTreeMap<&str, &Request> = BTreeMap::new();
        for r in &self.requests {
            let prev = last.get(r.conversation.as_str());
            let appended = prev.filter(|p| {
                p.messages.len() <= r.messages.len()
                    && r.messages[..p.messages.len()] == p.messages[..]
            });
            let line = RequestLine {
                conversation: r.conversation.clone(),
                messages: appended.is_none().then(|| r.messages.clone()),
                append: appended.map(|p| r.messages[p.messages.len()..].to_vec()),
                tools: match prev {
                    Some(p) if p.tools == r.tools => None,
                    _ => Some(r.tools.clone()),
                },
                sampling: r.sampling.clone(),
                output_tokens: r.output_tokens,
                at_s: r.at_s,
                injected: r.injected.clone(),
            };
            let mut v = serde_json::to_value(&line).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("kind".into(), Value::String("request".into()));
            }
            out.push_str(&v.to_string());
            out.push('\n');
            last.insert(&r.conversation, r);
        }
        out
    }

    /// The previous request of the same conversation, by index.
    pub fn previous_in_conversation(&self, index: usize) -> Option<usize> {
        let conv = &self.requests.get(index)?.conversation;
        self.requests[..index]
            .iter()
            .rev()
            .find(|r| &r.conversation == conv)
            .map(|r| r.index)
    }
}

fn parse_header(line: &str) -> Result<Header, String> {
    let mut v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("kind").and_then(Value::as_str) != Some("header") {
        return Err("the first line must be the header (\"kind\": \"header\")".into());
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("kind");
    }
    serde_json::from_value(v).map_err(|e| format!("not a session header: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format: FORMAT,
            name: "t".into(),
            source: "hand".into(),
            tokenizer_hint: None,
            chars_per_token: None,
            seed: None,
            breakers: vec![],
            filled_in: vec![],
        }
    }

    fn req(i: usize, conv: &str, turn: usize, msgs: &[&str]) -> Request {
        Request {
            index: i,
            conversation: conv.into(),
            turn,
            messages: msgs.iter().map(|m| Message::text("user", *m)).collect(),
            tools: vec![serde_json::json!({"type":"function","function":{"name":"f"}})],
            sampling: Sampling::default(),
            output_tokens: Some(4),
            at_s: None,
            injected: vec![],
        }
    }

    #[test]
    fn compact_round_trip_uses_append_and_keeps_interleaving() {
        let s = Session {
            header: header(),
            requests: vec![
                req(0, "main", 0, &["a"]),
                req(1, "sub", 0, &["x"]),
                req(2, "main", 1, &["a", "b"]),
                req(3, "main", 2, &["A", "b", "c"]),
            ],
        };
        let text = s.to_jsonl();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[3].contains("\"append\"") && !lines[3].contains("\"tools\""));
        assert!(
            lines[4].contains("\"messages\""),
            "an edit needs the full list"
        );
        let back = Session::parse(&text, Path::new("t.jsonl")).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.previous_in_conversation(2), Some(0));
        assert_eq!(back.previous_in_conversation(1), None);
    }

    #[test]
    fn bad_lines_name_the_line() {
        let p = Path::new("s.jsonl");
        let e = Session::parse("", p).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let h = r#"{"kind":"header","format":1,"name":"n","source":"hand"}"#;
        let e =
            Session::parse(&format!("{h}\n{{\"kind\":\"request\",\"append\":[]}}"), p).unwrap_err();
        assert!(matches!(e, SessionError::Bad { line: 2, .. }), "{e}");
        let e = Session::parse(&format!("{h}\nnope"), p).unwrap_err();
        assert!(e.to_string().contains("line 2: not JSON"), "{e}");
        let newer = r#"{"kind":"header","format":9,"name":"n","source":"hand"}"#;
        let e = Session::parse(newer, p).unwrap_err();
        assert!(e.to_string().contains("upgrade"), "{e}");
        let e = Session::parse(h, p).unwrap_err();
        assert!(e.to_string().contains("no requests"), "{e}");
    }
}
