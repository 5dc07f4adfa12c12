//! Claude Code transcripts (`~/.claude/projects/PROJECT/SESSION.jsonl`, and
//! since 2.1.2 each subagent in `SESSION/subagents/agent-ID.jsonl`; shapes of
//! Claude Code 2.1.x). Lines of `type` `user` and `assistant` carry an
//! Anthropic-style `message` (`content` a string or blocks: `text`,
//! `tool_use`, `tool_result`, `thinking`, `image`); other lines (summaries,
//! file-history snapshots, system notes) are not messages.
//!
//! One model call is one assistant `message.id`: a streamed response is
//! written as several lines with the same id, each with a block or two, and
//! they are one assistant message. The call was sent every message before
//! it; its prompt depth is `input_tokens + cache_creation_input_tokens +
//! cache_read_input_tokens` and its output the largest `output_tokens`.
//! `<synthetic>` messages (client-side errors) were never sent or produced.
//!
//! Mapping to chat messages: tool uses become `tool_calls` (their input as
//! JSON arguments), tool results `tool` messages. Thinking and images cannot
//! be resent from the transcript: counted as left out. Sidechain lines in the
//! main file (older versions) form a conversation `sidechain`; each subagent
//! file is a conversation `agent-ID`. Calls from all files are merged in time
//! order. Lines are read in file order: branches left by a rewind are not
//! separated.

use super::{assistant, read_lines, text_of, tool_call, tool_result, Agent, Call, Parsed};
use crate::agentic::session::Message;
use crate::logs::record::parse_time_ms;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Read a transcript and its subagents' files.
pub fn read(path: &Path) -> Result<Parsed, super::ImportError> {
    let mut parsed = Parsed::default();
    read_file(path, "main", &mut parsed)?;
    let sub = path.with_extension("").join("subagents");
    if let Ok(rd) = std::fs::read_dir(&sub) {
        let mut files: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        for f in files {
            let stem = f
                .file_stem()
                .map_or(String::new(), |s| s.to_string_lossy().into_owned());
            read_file(&f, &stem, &mut parsed)?;
        }
    }
    // merge the conversations in time order (stable: file order on ties)
    parsed.calls.sort_by_key(|c| c.at_ms.unwrap_or(i64::MAX));
    Ok(parsed)
}

/// One conversation's state while reading.
#[derive(Default)]
struct Thread {
    history: Vec<Message>,
    /// The assistant message id being streamed, and its call's index.
    open: Option<(String, usize)>,
}

fn read_file(
    path: &Path,
    conversation: &str,
    parsed: &mut Parsed,
) -> Result<(), super::ImportError> {
    let mut threads: BTreeMap<String, Thread> = BTreeMap::new();
    for (_, v) in read_lines(Agent::ClaudeCode, path)? {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "user" && kind != "assistant" {
            continue;
        }
        let Some(msg) = v.get("message") else {
            continue;
        };
        let side = v.get("isSidechain").and_then(Value::as_bool) == Some(true);
        let conv = if side && conversation == "main" {
            "sidechain"
        } else {
            conversation
        };
        let t = threads.entry(conv.to_string()).or_default();
        let at = v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_time_ms);
        if kind == "user" {
            user(t, msg, parsed);
        } else {
            assistant_line(t, conv, msg, at, parsed);
        }
    }
    Ok(())
}

fn user(t: &mut Thread, msg: &Value, parsed: &mut Parsed) {
    t.open = None;
    let content = msg.get("content");
    let Some(Value::Array(blocks)) = content else {
        t.history.push(Message::text("user", text_of(content)));
        return;
    };
    let mut text = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => text.push(text_of(b.get("text"))),
            "tool_result" => {
                let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
                t.history.push(tool_result(id, text_of(b.get("content"))));
            }
            "image" => parsed.leave_out("images"),
            other => parsed.leave_out(&format!("`{other}` user blocks")),
        }
    }
    if !text.is_empty() {
        t.history.push(Message::text("user", text.join("\n")));
    }
}

fn assistant_line(t: &mut Thread, conv: &str, msg: &Value, at: Option<i64>, parsed: &mut Parsed) {
    if msg.get("model").and_then(Value::as_str) == Some("<synthetic>") {
        parsed.leave_out("client-side (<synthetic>) messages");
        return;
    }
    let id = msg
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let call = match &t.open {
        Some((open, i)) if *open == id => *i,
        _ => {
            parsed.calls.push(Call {
                conversation: conv.to_string(),
                messages: t.history.clone(),
                input_tokens: None,
                output_tokens: None,
                at_ms: at,
            });
            t.history.push(assistant(String::new(), Vec::new()));
            let i = parsed.calls.len() - 1;
            t.open = Some((id, i));
            i
        }
    };
    if let Some(u) = msg.get("usage") {
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        let depth =
            n("input_tokens") + n("cache_creation_input_tokens") + n("cache_read_input_tokens");
        let c = &mut parsed.calls[call];
        c.input_tokens = Some(c.input_tokens.unwrap_or(0).max(depth));
        c.output_tokens = Some(c.output_tokens.unwrap_or(0).max(n("output_tokens")));
    }
    let Some(m) = t.history.last_mut() else {
        return;
    };
    let Some(Value::Array(blocks)) = msg.get("content") else {
        return;
    };
    for b in blocks {
        match b.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => {
                let mut s = m.content_text();
                if !s.is_empty() {
                    s.push('\n');
                }
                s.push_str(&text_of(b.get("text")));
                m.content = Some(Value::String(s));
            }
            "tool_use" => {
                let c = tool_call(
                    b.get("id").and_then(Value::as_str).unwrap_or(""),
                    b.get("name").and_then(Value::as_str).unwrap_or(""),
                    b.get("input").map_or("{}".into(), Value::to_string),
                );
                match &mut m.tool_calls {
                    Some(Value::Array(a)) => a.push(c),
                    _ => m.tool_calls = Some(Value::Array(vec![c])),
                }
            }
            "thinking" | "redacted_thinking" => parsed.leave_out("thinking blocks (not resent)"),
            other => parsed.leave_out(&format!("`{other}` assistant blocks")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_and_its_subagent_become_interleaved_calls() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/sessions/claude/7c1d0e2f-0000-4000-8000-00000000beef.jsonl");
        let parsed = read(&p).unwrap();
        let convs: Vec<&str> = parsed
            .calls
            .iter()
            .map(|c| c.conversation.as_str())
            .collect();
        // main 1, main 2 (spawns), agent 1, agent 2, main 3, main 4
        assert_eq!(
            convs,
            [
                "main",
                "main",
                "agent-b2c3d4",
                "agent-b2c3d4",
                "main",
                "main"
            ]
        );
        let first = &parsed.calls[0];
        assert_eq!(
            (first.input_tokens, first.output_tokens),
            (Some(14203), Some(61))
        );
        // the streamed response is one assistant message with the tool call
        let second = &parsed.calls[1].messages;
        assert_eq!(second.len(), 3, "{second:#?}");
        assert!(second[1].tool_calls.is_some());
        assert_eq!(second[2].tool_call_id.as_deref(), Some("toolu_01"));
        assert!(parsed.system.is_none(), "transcripts keep no system prompt");
        assert_eq!(parsed.left_out.get("images"), Some(&1));
        assert_eq!(
            parsed.left_out.get("thinking blocks (not resent)"),
            Some(&1)
        );
        assert_eq!(
            parsed.left_out.get("client-side (<synthetic>) messages"),
            Some(&1)
        );
    }
}
