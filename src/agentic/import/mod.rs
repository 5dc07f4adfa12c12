//! `rooftune session import`: a user's own Codex CLI rollout or Claude Code
//! transcript as a session file, so that a real session's real content can be
//! replayed against a local server.
//!
//! A log keeps the messages but not everything that was sent: Claude Code
//! transcripts hold neither the system prompt nor the tool definitions, and
//! Codex rollouts hold the base instructions only in some versions and never
//! the tools. What is missing is filled in with a stand-in ([`synth::stand_in`])
//! of the size the usage records imply (the first call's input tokens less
//! the estimated size of its messages), or of the size the user gives, and
//! [`Imported::filled`] says what was filled in and what was left out
//! (reasoning, images). Each client's reader ([`codex`], [`claude`]) turns
//! its lines into [`Call`]s; this module turns calls into requests.
//!
//! The content stays on the machine: the import reports counts only, and
//! the session file it writes is the user's.
//!
//! [`synth::stand_in`]: super::synth::stand_in

pub mod claude;
pub mod codex;

use super::session::{Header, Message, Request, Sampling, Session, FORMAT};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which client wrote the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    /// Codex CLI rollout (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`).
    Codex,
    /// Claude Code transcript (`~/.claude/projects/PROJECT/SESSION.jsonl`).
    ClaudeCode,
}

impl Agent {
    /// Its name in session headers.
    pub fn name(self) -> &'static str {
        match self {
            Agent::Codex => "codex",
            Agent::ClaudeCode => "claude-code",
        }
    }
}

/// How to import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Characters per token, to size stand-ins and estimate message tokens.
    pub chars_per_token: f64,
    /// Size of the stand-in prefix (system prompt plus tools), tokens;
    /// `None`: what the usage records imply.
    pub system_tokens: Option<u64>,
    /// The session's name (default: the file's stem).
    pub name: Option<String>,
}

/// One model call read from a log.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Its conversation (`main`, `agent-ID`).
    pub conversation: String,
    /// The messages the call was sent, as the log kept them (no system
    /// prompt unless the log had one).
    pub messages: Vec<Message>,
    /// Prompt tokens the usage record gives.
    pub input_tokens: Option<u64>,
    /// Output tokens the usage record gives.
    pub output_tokens: Option<u64>,
    /// When it was made, ms since the epoch.
    pub at_ms: Option<i64>,
}

/// What a reader got from one log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// The model calls, in the order they were made.
    pub calls: Vec<Call>,
    /// The system prompt, when the log kept it (Codex `base_instructions`).
    pub system: Option<String>,
    /// What the log held that a replay cannot send, by kind, with counts.
    pub left_out: BTreeMap<String, usize>,
}

impl Parsed {
    /// Count one left-out item of `kind`.
    pub fn leave_out(&mut self, kind: &str) {
        *self.left_out.entry(kind.to_string()).or_default() += 1;
    }
}

/// An imported session and what was filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The session.
    pub session: Session,
    /// One line per thing filled in or left out (counts and sizes, no text).
    pub filled: Vec<String>,
}

/// A log that cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read the {client} log `{path}`\n  (hint: check the path; {where_})")]
    Io {
        /// Which client.
        client: &'static str,
        /// Where its logs usually are.
        where_: &'static str,
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not JSON.
    #[error("{client} log `{path}` line {line}: not JSON ({problem})\n  (hint: is this a {client} log? {where_})")]
    Bad {
        /// Which client.
        client: &'static str,
        /// Where its logs usually are.
        where_: &'static str,
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// No model call in the file.
    #[error("`{path}` holds no model calls a {client} log would record\n  (hint: is this a {client} log? {where_})")]
    Empty {
        /// Which client.
        client: &'static str,
        /// Where its logs usually are.
        where_: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// An option out of range.
    #[error("--chars-per-token {0} is outside 0.5..16\n  (hint: 4 suits most BPE vocabularies, 1 a byte vocabulary)")]
    CharsPerToken(f64),
}

fn where_(c: Agent) -> &'static str {
    match c {
        Agent::Codex => "Codex writes ~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl",
        Agent::ClaudeCode => "Claude Code writes ~/.claude/projects/PROJECT/SESSION.jsonl",
    }
}

/// Read a file's lines as JSON values (blank lines skipped).
pub(crate) fn read_lines(client: Agent, path: &Path) -> Result<Vec<(usize, Value)>, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        client: client.name(),
        where_: where_(client),
        path: path.into(),
        source,
    })?;
    let mut out = Vec::new();
    let total = text.lines().count();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(l) {
            Ok(v) => out.push((i + 1, v)),
            // a log being written may end in a partial line
            Err(_) if i + 1 == total && i > 0 => {}
            Err(e) => {
                return Err(ImportError::Bad {
                    client: client.name(),
                    where_: where_(client),
                    path: path.into(),
                    line: i + 1,
                    problem: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// Import one log (Claude Code: with its subagents' files).
pub fn import(client: Agent, path: &Path, opts: &ImportOptions) -> Result<Imported, ImportError> {
    if !(0.5..=16.0).contains(&opts.chars_per_token) {
        return Err(ImportError::CharsPerToken(opts.chars_per_token));
    }
    let parsed = match client {
        Agent::Codex => codex::read(path)?,
        Agent::ClaudeCode => claude::read(path)?,
    };
    if parsed.calls.is_empty() {
        return Err(ImportError::Empty {
            client: client.name(),
            where_: where_(client),
            path: path.into(),
        });
    }
    let name = opts.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or("imported".into(), |s| s.to_string_lossy().into_owned())
    });
    Ok(build(client, name, parsed, opts))
}

/// Estimated tokens of a message list.
fn estimate_tokens(messages: &[Message], chars_per_token: f64) -> u64 {
    let chars: usize = messages
        .iter()
        .map(|m| {
            m.content_text().len() + m.tool_calls.as_ref().map_or(0, |t| t.to_string().len()) + 8
        })
        .sum();
    (chars as f64 / chars_per_token) as u64
}

/// The stand-in prefix of one conversation, and a line saying how it was sized.
struct Prefix {
    system: String,
    tools: Vec<Value>,
    lines: Vec<String>,
}

fn prefix(
    conversation: &str,
    first: &Call,
    known_system: Option<&str>,
    opts: &ImportOptions,
    seed: u64,
) -> Prefix {
    let cpt = opts.chars_per_token;
    let known = known_system.map_or(0, |s| (s.len() as f64 / cpt) as u64);
    let messages = estimate_tokens(&first.messages, cpt);
    let (tokens, why) = match (opts.system_tokens, first.input_tokens) {
        (Some(n), _) => (n, "--system-tokens".to_string()),
        (None, Some(input)) => (
            input.saturating_sub(messages + known),
            format!(
                "usage: first call's {input} input tokens less ~{messages} of messages{}",
                if known > 0 {
                    format!(" and ~{known} of the logged system prompt")
                } else {
                    String::new()
                }
            ),
        ),
        (None, None) => (0, "no usage record; pass --system-tokens N".into()),
    };
    // one measured Claude Code prompt was 80% tool definitions
    let (system_tokens, tools_tokens) = if known_system.is_some() {
        (0, tokens)
    } else {
        (tokens / 5, tokens - tokens / 5)
    };
    let chars = |t: u64| (t as f64 * cpt) as usize;
    let (stand_in, tools) = super::synth::stand_in(seed, chars(system_tokens), chars(tools_tokens));
    // sizes as generated (a stand-in has a smallest size: a tool's skeleton)
    let size = |chars: usize| (chars as f64 / cpt).round() as u64;
    let tools_size = size(tools.iter().map(|t| t.to_string().len()).sum());
    let mut lines = Vec::new();
    let system = match known_system {
        Some(s) => {
            lines.push(format!(
                "{conversation}: system prompt from the log (~{known} tokens)"
            ));
            s.to_string()
        }
        None => {
            lines.push(format!(
                "{conversation}: system prompt not in the log: stand-in of ~{} tokens (aimed at {system_tokens}: {why})",
                size(stand_in.len())
            ));
            stand_in
        }
    };
    lines.push(format!(
        "{conversation}: tool definitions not in the log: stand-in of ~{tools_size} tokens, {} tools (aimed at {tools_tokens}: {why})",
        tools.len()
    ));
    Prefix {
        system,
        tools,
        lines,
    }
}

fn build(client: Agent, name: String, parsed: Parsed, opts: &ImportOptions) -> Imported {
    let mut filled = Vec::new();
    let mut prefixes: BTreeMap<String, Prefix> = BTreeMap::new();
    let t0 = parsed.calls.iter().filter_map(|c| c.at_ms).min();
    let mut turns: BTreeMap<String, usize> = BTreeMap::new();
    let mut requests = Vec::new();
    for call in &parsed.calls {
        if !prefixes.contains_key(&call.conversation) {
            let known = (call.conversation == "main")
                .then_some(parsed.system.as_deref())
                .flatten();
            let p = prefix(&call.conversation, call, known, opts, prefixes.len() as u64);
            filled.extend(p.lines.iter().cloned());
            prefixes.insert(call.conversation.clone(), p);
        }
        let p = &prefixes[&call.conversation];
        let turn = turns.entry(call.conversation.clone()).or_default();
        let mut messages = vec![Message::text("system", p.system.clone())];
        messages.extend(call.messages.iter().cloned());
        requests.push(Request {
            index: requests.len(),
            conversation: call.conversation.clone(),
            turn: *turn,
            messages,
            tools: p.tools.clone(),
            sampling: Sampling::default(),
            output_tokens: call.output_tokens.map(|n| n.max(1)),
            at_s: match (call.at_ms, t0) {
                (Some(t), Some(t0)) => Some((t - t0) as f64 / 1e3),
                _ => None,
            },
            injected: Vec::new(),
        });
        *turn += 1;
    }
    for (kind, n) in &parsed.left_out {
        filled.push(format!("left out: {n} {kind}"));
    }
    Imported {
        session: Session {
            header: Header {
                format: FORMAT,
                name,
                source: client.name().into(),
                tokenizer_hint: Some(format!("~{} chars/token", opts.chars_per_token)),
                chars_per_token: Some(opts.chars_per_token),
                seed: None,
                breakers: Vec::new(),
                filled_in: filled.clone(),
            },
            requests,
        },
        filled,
    }
}

/// Text of a content value: a string, or the `text` of its parts.
pub(crate) fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// An assistant message from its text and tool calls.
pub(crate) fn assistant(text: String, calls: Vec<Value>) -> Message {
    let mut m = Message::text("assistant", text);
    if !calls.is_empty() {
        m.tool_calls = Some(Value::Array(calls));
    }
    m
}

/// An OpenAI tool call.
pub(crate) fn tool_call(id: &str, name: &str, arguments: String) -> Value {
    serde_json::json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

/// A tool result message.
pub(crate) fn tool_result(id: &str, text: String) -> Message {
    let mut m = Message::text("tool", text);
    m.tool_call_id = Some(id.to_string());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(conv: &str, input: Option<u64>, msgs: usize) -> Call {
        Call {
            conversation: conv.into(),
            messages: (0..msgs)
                .map(|_| Message::text("user", "x".repeat(400)))
                .collect(),
            input_tokens: input,
            output_tokens: Some(0),
            at_ms: Some(1000 * msgs as i64),
        }
    }

    #[test]
    fn stand_in_is_the_size_the_usage_implies() {
        let opts = ImportOptions {
            chars_per_token: 4.0,
            system_tokens: None,
            name: None,
        };
        let parsed = Parsed {
            calls: vec![call("main", Some(3102), 1), call("main", Some(3300), 2)],
            ..Parsed::default()
        };
        let im = build(Agent::ClaudeCode, "t".into(), parsed, &opts);
        let r = &im.session.requests[0];
        // 3102 - (408/4 = 102) = 3000 tokens: 600 system, 2400 tools
        let sys = r.messages[0].content_text().len() as f64 / 4.0;
        let tools: usize = r.tools.iter().map(|t| t.to_string().len()).sum();
        assert!((sys - 600.0).abs() < 60.0, "system ~{sys} tokens");
        assert!(
            ((tools as f64 / 4.0) - 2400.0).abs() < 400.0,
            "tools ~{} tokens",
            tools / 4
        );
        assert!(
            im.filled[0].contains("aimed at 600: usage"),
            "{:?}",
            im.filled
        );
        assert_eq!(
            im.session.requests[1].output_tokens,
            Some(1),
            "at least one token asked"
        );
        assert_eq!(im.session.requests[1].at_s, Some(1.0));
        assert_eq!(
            r.messages[0], im.session.requests[1].messages[0],
            "one stand-in per conversation"
        );
    }

    #[test]
    fn system_tokens_overrides_and_a_known_prompt_is_kept() {
        let opts = ImportOptions {
            chars_per_token: 1.0,
            system_tokens: Some(500),
            name: None,
        };
        let parsed = Parsed {
            calls: vec![call("main", Some(90_000), 1)],
            system: Some("You are Codex.".into()),
            ..Parsed::default()
        };
        let im = build(Agent::Codex, "t".into(), parsed, &opts);
        let r = &im.session.requests[0];
        assert_eq!(r.messages[0].content_text(), "You are Codex.");
        assert_eq!(r.tools.len(), 1, "one stand-in tool for 500 tokens");
        assert!(im.filled[0].contains("from the log"), "{:?}", im.filled);
    }
}
