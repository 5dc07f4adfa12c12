//! Why a request missed the cache, from both sides.
//!
//! The client side: the longest common prefix, in the server's own tokens
//! (each request rendered by the server's template and tokenized by its
//! tokenizer), between a request and the previous request of the same
//! conversation, and the first message and field where the two requests
//! differ (system text, a tool's schema, tool order, an earlier message).
//! The token where they part is checked against where the field changed, so
//! the report can say how far apart the two are.
//!
//! The server side: when the client kept the prefix and the server still
//! recomputed it, the cause where it can be known: llama-server's log line
//! for sliding-window or recurrent memory without a usable checkpoint, a
//! slot that served other conversations since (`-np`), or the context limit.
//!
//! Prompt text (tokens around a divergence) lives in [`Divergence::context`],
//! which is skipped in exported reports unless the user asks for text.

use super::session::{Message, Request};
use serde::Serialize;
use serde_json::Value;

/// A request as the server sees it: its template's text and its tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// The prompt text `/apply-template` gave.
    pub text: String,
    /// Token ids with the bytes of each piece, from `/tokenize`.
    pub tokens: Vec<(u32, Vec<u8>)>,
}

/// Where two requests first differ, in the request's own structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The system prompt's text.
    SystemText,
    /// An earlier message's content.
    MessageContent,
    /// An earlier message's tool calls.
    ToolCalls,
    /// An earlier message's role or other fields.
    MessageOther,
    /// Fewer messages than before (history dropped).
    MessageRemoved,
    /// The same tools in another order.
    ToolOrder,
    /// One tool's definition changed.
    ToolSchema,
    /// Tools added or removed.
    ToolSet,
    /// No field changed, yet the rendered prompt did (the template re-renders
    /// earlier turns, e.g. dropping reasoning).
    Template,
}

impl Field {
    /// Words for reports.
    pub fn label(self) -> &'static str {
        match self {
            Field::SystemText => "system text",
            Field::MessageContent => "message content",
            Field::ToolCalls => "tool calls",
            Field::MessageOther => "message role/fields",
            Field::MessageRemoved => "messages removed",
            Field::ToolOrder => "tool order",
            Field::ToolSchema => "a tool's schema",
            Field::ToolSet => "tools added/removed",
            Field::Template => "template rendering",
        }
    }
}

/// The first structural difference between a request and the previous one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientChange {
    /// Which field.
    pub field: Field,
    /// The message's index, for message fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<usize>,
    /// The tool's position, for tool fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<usize>,
    /// Byte offset of the first changed character within the field's text.
    pub offset_bytes: usize,
    /// The field's new text up to and past the change (to find it in the
    /// rendered prompt; never exported).
    #[serde(skip)]
    pub anchor: String,
}

/// Where the rendered prompts part, in tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    /// Index of the first differing token (= the shared prefix, in tokens).
    pub token: u64,
    /// Byte offset of that token in the new prompt as its tokens spell it.
    pub byte: u64,
    /// Tokens between the first differing token and where the client's field
    /// changed, when the change could be found in the rendered prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_from_change: Option<u64>,
    /// A few tokens before, and the first differing ones (old | new). Prompt
    /// text: terminal only unless asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// What the server did, against what it could have done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The first request of its conversation.
    First,
    /// Prompt caching was off for this run.
    ReuseOff,
    /// The server reused (nearly) all it could.
    Reused,
    /// The client changed the prefix early; the server reused what was left.
    ClientChanged,
    /// The client kept the prefix and the server recomputed it anyway.
    ServerDropped,
    /// The server did not say what it reused.
    Unknown,
}

/// A server-side reason for recomputing a kept prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerCause {
    /// Sliding-window or recurrent memory kept no usable checkpoint (the log
    /// says "forcing full prompt re-processing").
    SwaOrRecurrent,
    /// Other conversations used the slot(s) since (`-np`).
    SlotContention,
    /// The prompt plus output does not fit the slot's context.
    ContextLimit,
    /// None of the above could be seen.
    Unknown,
}

impl ServerCause {
    /// Words for reports.
    pub fn label(self) -> &'static str {
        match self {
            ServerCause::SwaOrRecurrent => "sliding-window/recurrent memory had no usable checkpoint (log: forcing full prompt re-processing; try --swa-full or more -ctxcp)",
            ServerCause::SlotContention => "slot contention: other conversations used the slot since (raise -np; with slots free, --slot-prompt-similarity picked this one: try 0; keep --cache-ram on)",
            ServerCause::ContextLimit => "the prompt plus output exceeds the slot's context (-c / -np)",
            ServerCause::Unknown => "not visible from the outside (see the server log)",
        }
    }
}

/// Everything said about one request's use of the cache.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The verdict.
    pub verdict: Verdict,
    /// The previous request of the same conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<usize>,
    /// Tokens this request shares with the previous one (server tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_prefix_tokens: Option<u64>,
    /// Tokens of the previous request's prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_tokens: Option<u64>,
    /// Tokens the server reported reusing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reused_tokens: Option<u64>,
    /// Where the client changed the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_change: Option<ClientChange>,
    /// Where the rendered prompts part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<Divergence>,
    /// Why the server recomputed a kept prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cause: Option<ServerCause>,
}

/// What is known about the server around one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerContext {
    /// Prompt caching was on.
    pub reuse: bool,
    /// Tokens reused, as the server reported.
    pub reused_tokens: Option<u64>,
    /// The server log written while the request ran.
    pub log: Option<String>,
    /// Parallel slots.
    pub n_slots: Option<u64>,
    /// Context per slot, tokens.
    pub n_ctx_slot: Option<u64>,
    /// Distinct other conversations served since this conversation's previous request.
    pub others_since: usize,
    /// From the server log: the slot that served this conversation's
    /// previous request served another conversation since (slot similarity
    /// can hand a slot to another conversation even with slots free).
    pub slot_taken: Option<bool>,
    /// Prompt tokens of this request.
    pub prompt_tokens: Option<u64>,
    /// Tokens asked for.
    pub output_tokens: u64,
}

/// The share of a kept prefix the server must reuse to count as a hit.
pub const HIT_SHARE: f64 = 0.95;

/// Tokens at the end of the previous prompt that may differ without the
/// client having changed anything (the generation prompt's last tokens).
const TAIL_SLACK: u64 = 8;

/// Explain one request, given the previous request of its conversation.
pub fn explain(
    prev: Option<(&Request, Option<&Rendered>)>,
    cur: (&Request, Option<&Rendered>),
    ctx: &ServerContext,
) -> Explanation {
    let mut e = Explanation {
        verdict: Verdict::First,
        previous: prev.map(|p| p.0.index),
        shared_prefix_tokens: None,
        previous_tokens: None,
        reused_tokens: ctx.reused_tokens,
        client_change: None,
        divergence: None,
        server_cause: None,
    };
    let Some((p, p_rendered)) = prev else {
        if !ctx.reuse {
            e.verdict = Verdict::ReuseOff;
        }
        return e;
    };
    e.client_change = client_change(p, cur.0);
    if let (Some(a), Some(b)) = (p_rendered, cur.1) {
        let lcp = common_prefix(&a.tokens, &b.tokens);
        e.shared_prefix_tokens = Some(lcp as u64);
        e.previous_tokens = Some(a.tokens.len() as u64);
        let changed = e.client_change.is_some();
        if lcp + (TAIL_SLACK as usize) < a.tokens.len() || changed {
            if e.client_change.is_none() {
                e.client_change = Some(ClientChange {
                    field: Field::Template,
                    message: None,
                    tool: None,
                    offset_bytes: 0,
                    anchor: String::new(),
                });
            }
            e.divergence = divergence(a, b, lcp, e.client_change.as_ref());
        }
    }
    e.verdict = verdict(&e, ctx);
    if e.verdict == Verdict::ServerDropped {
        e.server_cause = Some(server_cause(ctx));
    }
    e
}

fn verdict(e: &Explanation, ctx: &ServerContext) -> Verdict {
    if !ctx.reuse {
        return Verdict::ReuseOff;
    }
    let Some(reused) = ctx.reused_tokens else {
        return Verdict::Unknown;
    };
    let shared = match e.shared_prefix_tokens {
        Some(s) => s,
        // no rendering: judge by the structure alone
        None if e.client_change.is_some() => return Verdict::ClientChanged,
        None if reused > 0 => return Verdict::Reused,
        None => return Verdict::Unknown,
    };
    if (reused as f64) >= HIT_SHARE * shared as f64 {
        let early = e.previous_tokens.is_some_and(|n| shared + TAIL_SLACK < n);
        if early {
            Verdict::ClientChanged
        } else {
            Verdict::Reused
        }
    } else {
        Verdict::ServerDropped
    }
}

/// The server-side cause of a drop, from the log and the slot arithmetic.
pub fn server_cause(ctx: &ServerContext) -> ServerCause {
    let log = ctx.log.as_deref().unwrap_or("");
    if log.contains("forcing full prompt re-processing") {
        return ServerCause::SwaOrRecurrent;
    }
    if let (Some(n), Some(c)) = (ctx.prompt_tokens, ctx.n_ctx_slot) {
        if n + ctx.output_tokens > c {
            return ServerCause::ContextLimit;
        }
    }
    let slots_short = ctx.others_since > 0 && ctx.others_since as u64 >= ctx.n_slots.unwrap_or(1);
    if ctx.slot_taken.unwrap_or(slots_short) {
        return ServerCause::SlotContention;
    }
    ServerCause::Unknown
}

/// Tokens two sequences share from the start.
pub fn common_prefix(a: &[(u32, Vec<u8>)], b: &[(u32, Vec<u8>)]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x.0 == y.0).count()
}

fn first_diff_byte(a: &str, b: &str) -> usize {
    let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    // back to a char boundary of the new text
    let mut i = n.min(b.len());
    while !b.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn tool_name(t: &Value) -> &str {
    t.pointer("/function/name")
        .or_else(|| t.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn change(
    field: Field,
    message: Option<usize>,
    tool: Option<usize>,
    old: &str,
    new: &str,
) -> ClientChange {
    let offset_bytes = first_diff_byte(old, new);
    let end = (offset_bytes + 16).min(new.len());
    let mut end = end;
    while !new.is_char_boundary(end) {
        end -= 1;
    }
    ClientChange {
        field,
        message,
        tool,
        offset_bytes,
        anchor: new[..end].to_string(),
    }
}

/// The first structural difference between `prev` and `cur`, in the order a
/// template renders them: the system message, then tools, then the other
/// messages. None when `cur` only appends.
pub fn client_change(prev: &Request, cur: &Request) -> Option<ClientChange> {
    let sys = |r: &Request| {
        r.messages
            .first()
            .filter(|m| m.role == "system")
            .map(Message::content_text)
    };
    let (ps, cs) = (sys(prev), sys(cur));
    if ps != cs {
        let (a, b) = (ps.unwrap_or_default(), cs.unwrap_or_default());
        return Some(change(Field::SystemText, Some(0), None, &a, &b));
    }
    if let Some(c) = tools_change(&prev.tools, &cur.tools) {
        return Some(c);
    }
    let start = usize::from(ps.is_some());
    for i in start..prev.messages.len() {
        let Some(new) = cur.messages.get(i) else {
            return Some(ClientChange {
                field: Field::MessageRemoved,
                message: Some(i),
                tool: None,
                offset_bytes: 0,
                anchor: String::new(),
            });
        };
        let old = &prev.messages[i];
        if old == new {
            continue;
        }
        let (ot, nt) = (old.content_text(), new.content_text());
        if ot != nt {
            return Some(change(Field::MessageContent, Some(i), None, &ot, &nt));
        }
        if old.tool_calls != new.tool_calls {
            let s = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
            let mut c = change(
                Field::ToolCalls,
                Some(i),
                None,
                &s(&old.tool_calls),
                &s(&new.tool_calls),
            );
            c.anchor.clear();
            return Some(c);
        }
        return Some(ClientChange {
            field: Field::MessageOther,
            message: Some(i),
            tool: None,
            offset_bytes: 0,
            anchor: String::new(),
        });
    }
    None
}

fn tools_change(old: &[Value], new: &[Value]) -> Option<ClientChange> {
    if old == new {
        return None;
    }
    let names = |ts: &[Value]| {
        let mut n: Vec<String> = ts.iter().map(|t| tool_name(t).to_string()).collect();
        n.sort();
        n
    };
    let i = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let (on, nn) = (
        old.get(i).map(tool_name).unwrap_or(""),
        new.get(i).map(tool_name).unwrap_or(""),
    );
    let field = if names(old) != names(new) {
        Field::ToolSet
    } else if on != nn {
        Field::ToolOrder
    } else {
        Field::ToolSchema
    };
    let mut c = change(field, None, Some(i), on, nn);
    if field == Field::ToolSchema {
        c.anchor.clear();
    } else {
        // find the name as the template quotes it
        c.anchor = format!("\"{nn}\"");
        c.offset_bytes += 1;
    }
    Some(c)
}

/// SentencePiece's space marker, `▁` (U+2581), as its pieces carry it.
const SPM_SPACE: [u8; 3] = [0xE2, 0x96, 0x81];

/// The prompt as the tokens spell it (pieces joined, SentencePiece's space
/// marker turned back into a space, also when a byte-fallback vocabulary
/// spreads it over three tokens), and where each token starts in that text.
fn detokenize(tokens: &[(u32, Vec<u8>)]) -> (String, Vec<usize>) {
    let raw: Vec<u8> = tokens.iter().flat_map(|t| t.1.iter().copied()).collect();
    let mut out = Vec::with_capacity(raw.len());
    let mut map = Vec::with_capacity(raw.len() + 1);
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(&SPM_SPACE) {
            map.extend([out.len(); 3]);
            out.push(b' ');
            i += 3;
        } else {
            map.push(out.len());
            out.push(raw[i]);
            i += 1;
        }
    }
    map.push(out.len());
    let mut at = 0;
    let starts = tokens
        .iter()
        .map(|(_, p)| {
            let s = map[at];
            at += p.len();
            s
        })
        .collect();
    (String::from_utf8_lossy(&out).into_owned(), starts)
}

fn pieces(tokens: &[(u32, Vec<u8>)], from: usize, to: usize) -> String {
    // widen to whole characters when a byte-fallback vocabulary split one
    let cont = |i: usize| {
        tokens
            .get(i)
            .and_then(|t| t.1.first())
            .is_some_and(|b| (0x80..0xC0).contains(b))
    };
    let (mut from, mut to) = (from.min(tokens.len()), to.min(tokens.len()));
    while from > 0 && cont(from) {
        from -= 1;
    }
    while to < tokens.len() && cont(to) {
        to += 1;
    }
    let span = &tokens[from..to];
    detokenize(span).0.replace('\n', "\\n")
}

fn divergence(
    old: &Rendered,
    new: &Rendered,
    lcp: usize,
    change: Option<&ClientChange>,
) -> Option<Divergence> {
    let (text, st) = detokenize(&new.tokens);
    let byte = st.get(lcp).copied().unwrap_or(text.len());
    let context = format!(
        "...{}[old: {} | new: {}]...",
        pieces(&new.tokens, lcp.saturating_sub(6), lcp),
        pieces(&old.tokens, lcp, lcp + 4),
        pieces(&new.tokens, lcp, lcp + 4),
    );
    let tokens_from_change = change
        .filter(|c| !c.anchor.is_empty())
        .and_then(|c| expected_byte(&text, &c.anchor, c.offset_bytes, byte))
        .map(|exp| {
            let (lo, hi) = (exp.min(byte), exp.max(byte));
            st.iter().filter(|&&s| s > lo && s <= hi).count() as u64
        });
    Some(Divergence {
        token: lcp as u64,
        byte: byte as u64,
        tokens_from_change,
        context: Some(context),
    })
}

/// Where in the rendered text the field's change sits: the occurrence of
/// the field's text (`anchor`, which starts at the field's start) whose
/// change point lies nearest the observed divergence. The rendered text and
/// the token pieces agree byte for byte only when the template adds no
/// leading text the tokenizer drops; a BOS token has an empty or special piece.
fn expected_byte(text: &str, anchor: &str, offset: usize, observed: usize) -> Option<usize> {
    let probe = match anchor.get(..offset) {
        Some(p) if p.len() >= 4 => p,
        _ => anchor,
    };
    text.match_indices(probe)
        .map(|(s, _)| s + offset)
        .min_by_key(|&e| e.abs_diff(observed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agentic::session::Sampling;
    use serde_json::json;

    fn req(index: usize, messages: Vec<Message>, tools: Vec<Value>) -> Request {
        Request {
            index,
            conversation: "main".into(),
            turn: index,
            messages,
            tools,
            sampling: Sampling::default(),
            output_tokens: Some(4),
            at_s: None,
            injected: vec![],
        }
    }

    fn tool(n: &str) -> Value {
        json!({"type":"function","function":{"name":n}})
    }

    /// A byte "tokenizer": one token per byte, like the generated test models.
    fn render(r: &Request) -> Rendered {
        let mut text = String::new();
        for t in &r.tools {
            text.push_str(&t.to_string());
        }
        for m in &r.messages {
            text.push_str(&format!("<{}>{}</>", m.role, m.content_text()));
        }
        let tokens = text.bytes().map(|b| (b as u32, vec![b])).collect();
        Rendered { text, tokens }
    }

    fn ctx(reused: u64) -> ServerContext {
        ServerContext {
            reuse: true,
            reused_tokens: Some(reused),
            ..ServerContext::default()
        }
    }

    #[test]
    fn appending_is_reused_and_an_edit_is_found_where_it_is() {
        let sys = Message::text("system", "You are an agent. Time: 10:00:01. Be brief.");
        let a = req(
            0,
            vec![sys.clone(), Message::text("user", "task")],
            vec![tool("read"), tool("edit")],
        );
        let mut b = a.clone();
        b.index = 1;
        b.messages.push(Message::text("tool", "out"));
        let (ra, rb) = (render(&a), render(&b));
        let e = explain(
            Some((&a, Some(&ra))),
            (&b, Some(&rb)),
            &ctx(ra.tokens.len() as u64),
        );
        assert_eq!(e.verdict, Verdict::Reused);
        assert_eq!(e.client_change, None);

        let mut c = b.clone();
        c.messages[0] = Message::text("system", "You are an agent. Time: 10:00:07. Be brief.");
        let rc = render(&c);
        let lcp = common_prefix(&rb.tokens, &rc.tokens) as u64;
        let e = explain(Some((&b, Some(&rb))), (&c, Some(&rc)), &ctx(lcp));
        let ch = e.client_change.clone().unwrap();
        assert_eq!((ch.field, ch.message), (Field::SystemText, Some(0)));
        assert_eq!(ch.offset_bytes, "You are an agent. Time: 10:00:0".len());
        let d = e.divergence.unwrap();
        assert_eq!(d.tokens_from_change, Some(0));
        assert!(d.context.unwrap().contains("[old: 1"));
        assert_eq!(e.verdict, Verdict::ClientChanged);
    }

    #[test]
    fn spm_space_markers_spelled_as_spaces_even_split_over_byte_tokens() {
        let t = vec![
            (1, vec![0xE2]),
            (2, vec![0x96]),
            (3, vec![0x81]),
            (4, b"a".to_vec()),
            (5, "\u{2581}b".as_bytes().to_vec()),
            (6, b"c".to_vec()),
        ];
        let (text, starts) = detokenize(&t);
        assert_eq!(text, " a bc");
        assert_eq!(starts, [0, 0, 0, 1, 2, 4]);
    }

    #[test]
    fn tool_order_and_removed_messages() {
        let m = vec![Message::text("user", "t")];
        let a = req(
            0,
            m.clone(),
            vec![tool("read_file"), tool("edit_file"), tool("bash")],
        );
        let b = req(
            1,
            m.clone(),
            vec![tool("read_file"), tool("bash"), tool("edit_file")],
        );
        let ch = client_change(&a, &b).unwrap();
        assert_eq!((ch.field, ch.tool), (Field::ToolOrder, Some(1)));
        let (ra, rb) = (render(&a), render(&b));
        let e = explain(Some((&a, Some(&ra))), (&b, Some(&rb)), &ctx(10));
        assert_eq!(e.divergence.unwrap().tokens_from_change, Some(0));
        let c = req(1, vec![], a.tools.clone());
        assert_eq!(client_change(&a, &c).unwrap().field, Field::MessageRemoved);
    }

    #[test]
    fn kept_prefix_recomputed_is_the_servers_doing() {
        let a = req(0, vec![Message::text("user", "a long task")], vec![]);
        let mut b = a.clone();
        b.messages.push(Message::text("tool", "x"));
        let (ra, rb) = (render(&a), render(&b));
        let mut c = ctx(0);
        c.log = Some("... forcing full prompt re-processing due to lack of cache data".into());
        let e = explain(Some((&a, Some(&ra))), (&b, Some(&rb)), &c);
        assert_eq!(e.verdict, Verdict::ServerDropped);
        assert_eq!(e.server_cause, Some(ServerCause::SwaOrRecurrent));
        let mut c = ctx(0);
        c.others_since = 1;
        c.n_slots = Some(1);
        assert_eq!(server_cause(&c), ServerCause::SlotContention);
        c.n_slots = Some(2);
        assert_eq!(server_cause(&c), ServerCause::Unknown);
        c.prompt_tokens = Some(100);
        c.n_ctx_slot = Some(64);
        assert_eq!(server_cause(&c), ServerCause::ContextLimit);
    }
}
