//! A synthetic coding-agent session, the same for the same seed: a system
//! prompt and tool definitions (most of the prefix, as in real agents), a
//! task, then turns that append an assistant tool call and its output (file
//! contents, diffs, test failures, command output) until the conversation
//! reaches its depth. Sizes are in estimated tokens (characters divided by
//! `chars_per_token`: 4 for common BPE vocabularies, 1 for a byte vocabulary).
//!
//! Named cache-breakers reproduce what real clients do to the prefix:
//! a clock in the system prompt, a per-request nonce in the first system
//! block (Claude Code's billing line), a reminder that moves to the newest
//! message, tool definitions reordered mid-session, and an earlier message
//! edited (context compaction). Each request lists the breakers that touched
//! it, so a replay can check that the explanation finds them.

use super::session::{Header, Message, Request, Sampling, Session, FORMAT};
use serde_json::{json, Value};

/// A cache-breaker the generator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Breaker {
    /// The current time in the system prompt, new on every request.
    Timestamp,
    /// A per-request nonce on the first line of the system prompt.
    Nonce,
    /// A `<system-reminder>` that moves to the newest message.
    Reminder,
    /// Tool definitions reordered once, mid-session.
    ToolOrder,
    /// An earlier tool output replaced by a stub once (compaction).
    Compaction,
}

impl Breaker {
    /// Every breaker.
    pub const ALL: [Breaker; 5] = [
        Breaker::Timestamp,
        Breaker::Nonce,
        Breaker::Reminder,
        Breaker::ToolOrder,
        Breaker::Compaction,
    ];

    /// Its name on the command line and in session files.
    pub fn name(self) -> &'static str {
        match self {
            Breaker::Timestamp => "timestamp",
            Breaker::Nonce => "nonce",
            Breaker::Reminder => "reminder",
            Breaker::ToolOrder => "tool-order",
            Breaker::Compaction => "compaction",
        }
    }
}

/// A breaker name rooftune does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown cache-breaker `{0}`\n  (hint: the breakers are: timestamp, nonce, reminder, tool-order, compaction)")]
pub struct UnknownBreaker(pub String);

impl std::str::FromStr for Breaker {
    type Err = UnknownBreaker;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Breaker::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| UnknownBreaker(s.into()))
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// Requests in all (spread over the conversations).
    pub turns: u32,
    /// Depth the main conversation reaches, estimated tokens.
    pub max_depth_tokens: u64,
    /// Conversations: the main agent and `conversations - 1` subagents.
    pub conversations: u32,
    /// PRNG seed.
    pub seed: u64,
    /// System prompt plus tool definitions of the main agent, estimated tokens.
    pub prefix_tokens: u64,
    /// Tokens each request asks the model for.
    pub output_tokens: u64,
    /// Characters per token of the target tokenizer.
    pub chars_per_token: f64,
    /// Breakers to inject.
    pub breakers: Vec<Breaker>,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            turns: 40,
            max_depth_tokens: 120_000,
            conversations: 1,
            seed: 0,
            prefix_tokens: 6_000,
            output_tokens: 64,
            chars_per_token: 4.0,
            breakers: Vec::new(),
        }
    }
}

/// A spec that cannot give a session.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {problem}\n  (hint: {hint})")]
pub struct SpecError {
    /// The option.
    pub what: &'static str,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub hint: &'static str,
}

/// splitmix64: small, fast and the same everywhere (the session must not
/// change with a dependency's PRNG).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// A factor in [lo, hi).
    fn factor(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const WORDS: &[&str] = &[
    "the", "request", "cache", "server", "token", "parser", "config", "handler", "buffer", "index",
    "value", "result", "error", "context", "session", "module", "option", "stream", "worker",
    "schema", "field", "record", "path", "limit", "retry", "status", "client", "queue", "state",
    "batch",
];
const IDENTS: &[&str] = &[
    "parse_header",
    "load_config",
    "handle_request",
    "flush_buffer",
    "retry_count",
    "max_depth",
    "session_id",
    "cache_key",
    "read_chunk",
    "write_frame",
    "next_token",
    "apply_patch",
    "build_index",
    "check_limit",
    "open_stream",
    "close_slot",
];
const FILES: &[&str] = &[
    "src/server/handler.rs",
    "src/cache/lru.rs",
    "src/config.rs",
    "src/parser/lexer.rs",
    "src/session/store.rs",
    "tests/integration.rs",
    "src/main.rs",
    "src/queue/worker.rs",
];
const TOOLS: &[(&str, &str)] = &[
    ("read_file", "Reads a file from the local filesystem"),
    ("edit_file", "Performs exact string replacements in a file"),
    (
        "write_file",
        "Writes a file to the local filesystem, replacing it",
    ),
    (
        "bash",
        "Executes a bash command in a persistent shell session",
    ),
    (
        "grep",
        "Searches file contents with ripgrep regular expressions",
    ),
    ("glob", "Finds files by name pattern"),
    ("list_dir", "Lists the entries of a directory"),
    (
        "run_tests",
        "Runs the project's test suite or a subset of it",
    ),
    (
        "web_fetch",
        "Fetches a URL and returns its content as markdown",
    ),
    (
        "todo_write",
        "Creates and updates the task list for this session",
    ),
    ("task", "Launches a subagent to work on a task autonomously"),
    ("notebook_edit", "Replaces the contents of a notebook cell"),
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut s: Vec<&str> = (0..words).map(|_| rng.pick(WORDS)).collect();
    if let Some(w) = s.first_mut() {
        *w = match *w {
            "the" => "The",
            other => other,
        };
    }
    format!("{}.", s.join(" "))
}

/// Prose of about `chars` characters.
fn prose(rng: &mut Rng, chars: usize) -> String {
    let mut out = String::new();
    while out.len() < chars {
        let n = 6 + rng.below(10) as usize;
        out.push_str(&sentence(rng, n));
        out.push(' ');
    }
    out.trim_end().to_string()
}

fn code_line(rng: &mut Rng, indent: usize) -> String {
    let pad = "    ".repeat(indent);
    match rng.below(5) {
        0 => format!(
            "{pad}let {} = {}(&{})?;",
            rng.pick(IDENTS),
            rng.pick(IDENTS),
            rng.pick(IDENTS)
        ),
        1 => format!("{pad}if {} > {} {{", rng.pick(IDENTS), rng.below(4096)),
        2 => format!("{pad}// {}", sentence(rng, 7)),
        3 => format!("{pad}self.{}.push({});", rng.pick(IDENTS), rng.pick(IDENTS)),
        _ => format!("{pad}return Ok({});", rng.pick(IDENTS)),
    }
}

/// A tool output of about `chars` characters.
fn tool_output(rng: &mut Rng, kind: u64, file: &str, chars: usize) -> String {
    let mut out = String::new();
    match kind {
        0 => {
            let mut n = 1;
            while out.len() < chars {
                let indent = 1 + rng.below(2) as usize;
                out.push_str(&format!("{n:>5}\t{}\n", code_line(rng, indent)));
                n += 1;
            }
        }
        1 => {
            out.push_str(&format!("--- a/{file}\n+++ b/{file}\n"));
            while out.len() < chars {
                let at = rng.below(900);
                out.push_str(&format!("@@ -{at},4 +{at},5 @@\n"));
                for _ in 0..4 {
                    let sign = ["+", "-", " "][rng.below(3) as usize];
                    out.push_str(&format!("{sign}{}\n", code_line(rng, 1)));
                }
            }
        }
        2 => {
            out.push_str("running 48 tests\n");
            while out.len() < chars {
                let t = rng.pick(IDENTS);
                out.push_str(&format!(
                    "test {t}_works ... FAILED\n---- {t}_works stdout ----\nthread '{t}_works' panicked at {file}:{}:9:\nassertion `left == right` failed\n  left: {}\n right: {}\n",
                    rng.below(800),
                    rng.below(100),
                    rng.below(100)
                ));
            }
        }
        _ => {
            while out.len() < chars {
                out.push_str(&format!(
                    "   Compiling {} v0.{}.{} \n{}\n",
                    rng.pick(IDENTS),
                    rng.below(9),
                    rng.below(30),
                    sentence(rng, 9)
                ));
            }
        }
    }
    out
}

fn tool_def(name: &str, description: String) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Absolute path of the file or directory"},
                    "command": {"type": "string", "description": "What to run or search for"},
                    "limit": {"type": "integer", "description": "The most lines or results to return"}
                },
                "required": ["path"]
            }
        }
    })
}

/// Tool definitions of about `chars` characters in all (as JSON): as many
/// tools as fit at least a short description each, at most `max`, at least
/// `min`.
fn tool_defs(rng: &mut Rng, chars: usize, min: usize, max: usize) -> Vec<Value> {
    let skeleton = tool_def("read_file", String::new()).to_string().len();
    let count = (chars / (skeleton + 120)).clamp(min, max);
    let per = chars / count;
    TOOLS
        .iter()
        .take(count)
        .map(|(name, what)| {
            let room = per.saturating_sub(skeleton + what.len() + 2);
            tool_def(name, format!("{what}. {}", prose(rng, room)))
        })
        .collect()
}

/// A stand-in prefix for an imported session whose log did not keep it: a
/// system prompt of about `system_chars` characters and tool definitions of
/// about `tools_chars` (none when 0), the same for the same seed.
pub fn stand_in(seed: u64, system_chars: usize, tools_chars: usize) -> (String, Vec<Value>) {
    let mut rng = Rng(seed ^ 0x7374_616E_6469_6E21);
    let head = "You are a coding agent working in the user's repository (stand-in: the log did not keep the real system prompt). ";
    let system = format!(
        "{head}{}",
        prose(&mut rng, system_chars.saturating_sub(head.len()))
    );
    let skeleton = tool_def("read_file", String::new()).to_string().len();
    let tools = if tools_chars < skeleton {
        Vec::new()
    } else {
        tool_defs(&mut rng, tools_chars, 1, TOOLS.len())
    };
    (system, tools)
}

/// One conversation's clean history, before per-request breakers.
struct Conversation {
    name: String,
    system_head: String,
    system_tail: String,
    tools: Vec<Value>,
    /// Messages after the system prompt; request `t` sends `history[..ends[t]]`.
    history: Vec<Message>,
    ends: Vec<usize>,
}

fn conversation(
    rng: &mut Rng,
    name: &str,
    spec: &SynthSpec,
    turns: usize,
    depth: u64,
) -> Conversation {
    let cpt = spec.chars_per_token;
    let sub = name != "main";
    let prefix_chars = (spec.prefix_tokens as f64 * cpt * if sub { 0.5 } else { 1.0 }) as usize;
    let system_chars = prefix_chars / 5;
    let head = format!(
        "You are {}, a coding agent working in the user's repository. {}",
        if sub { "a subagent" } else { "the lead agent" },
        prose(rng, system_chars / 3)
    );
    let tail = prose(rng, system_chars - system_chars / 3);
    let tools = tool_defs(
        rng,
        prefix_chars - system_chars,
        3,
        if sub { 6 } else { TOOLS.len() },
    );
    let mut history = vec![Message::text(
        "user",
        format!(
            "Task: {} Start with {}.",
            prose(rng, (100.0 * cpt) as usize),
            rng.pick(FILES)
        ),
    )];
    let mut ends = vec![history.len()];
    let start_tokens = (prefix_chars as f64 / cpt) as u64 + 100;
    let per_turn = depth.saturating_sub(start_tokens) / turns.max(1) as u64;
    for t in 1..turns {
        if t % 8 == 0 {
            history.push(Message::text(
                "user",
                format!("Also: {}", prose(rng, (60.0 * cpt) as usize)),
            ));
        }
        let tool = TOOLS[rng.below(8) as usize].0;
        let file = rng.pick(FILES);
        let id = format!("call_{name}_{t}");
        let args = json!({"path": file, "limit": 2000}).to_string();
        let mut call = Message::text("assistant", sentence(rng, 8));
        call.tool_calls = Some(json!([{
            "id": id, "type": "function",
            "function": {"name": tool, "arguments": args}
        }]));
        history.push(call);
        let chars = (per_turn as f64 * cpt * rng.factor(0.5, 1.5)) as usize;
        let kind = rng.below(4);
        let mut out = Message::text("tool", tool_output(rng, kind, file, chars.max(40)));
        out.tool_call_id = Some(id);
        history.push(out);
        ends.push(history.len());
    }
    Conversation {
        name: name.into(),
        system_head: head,
        system_tail: tail,
        tools,
        history,
        ends,
    }
}

/// A clock for the timestamp breaker: an ISO time `at_s` after a fixed start.
fn clock(at_s: f64) -> String {
    let base = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
    (base + chrono::Duration::milliseconds((at_s * 1e3) as i64))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The system prompt of request `at` (a global request number).
fn system_text(c: &Conversation, spec: &SynthSpec, rng: &mut Rng, at_s: f64) -> String {
    let mut s = String::new();
    if spec.breakers.contains(&Breaker::Nonce) {
        s.push_str(&format!(
            "x-anthropic-billing-header: cc_version=2.1.37; cch={:05x};\n",
            rng.below(0xFFFFF)
        ));
    }
    s.push_str(&c.system_head);
    if spec.breakers.contains(&Breaker::Timestamp) {
        s.push_str(&format!("\nCurrent date and time: {}\n", clock(at_s)));
    }
    s.push('\n');
    s.push_str(&c.system_tail);
    s
}

/// Generate the session.
pub fn generate(spec: &SynthSpec) -> Result<Session, SpecError> {
    let k = spec.conversations.max(1) as usize;
    if spec.turns < 2 * spec.conversations.max(1) {
        return Err(SpecError {
            what: "--turns",
            problem: format!(
                "{} requests for {} conversations: each needs at least 2",
                spec.turns, k
            ),
            hint: "give --turns at least twice --conversations",
        });
    }
    if !(0.5..=16.0).contains(&spec.chars_per_token) {
        return Err(SpecError {
            what: "--chars-per-token",
            problem: format!("{} is outside 0.5..16", spec.chars_per_token),
            hint: "4 suits most BPE vocabularies, 1 a byte vocabulary",
        });
    }
    if spec.max_depth_tokens < spec.prefix_tokens + 300 {
        return Err(SpecError {
            what: "--max-depth",
            problem: format!(
                "{} tokens leaves no room after a {}-token prefix",
                spec.max_depth_tokens, spec.prefix_tokens
            ),
            hint: "raise --max-depth or lower --prefix",
        });
    }
    let mut rng = Rng(spec.seed ^ 0x726F_6F66_7475_6E65);
    let turns = spec.turns as usize;
    let convs: Vec<Conversation> = (0..k)
        .map(|i| {
            let name = if i == 0 {
                "main".to_string()
            } else {
                format!("agent-{i}")
            };
            let share = turns / k + usize::from(i < turns % k);
            let depth = if i == 0 {
                spec.max_depth_tokens
            } else {
                spec.max_depth_tokens / 2
            };
            conversation(&mut rng, &name, spec, share, depth)
        })
        .collect();
    let mut requests = Vec::new();
    let mut at_s = 0.0;
    let rounds = convs.iter().map(|c| c.ends.len()).max().unwrap_or(0);
    for t in 0..rounds {
        for c in &convs {
            let Some(&end) = c.ends.get(t) else { continue };
            requests.push(request(c, spec, &mut rng, requests.len(), t, end, at_s));
            at_s += rng.factor(2.0, 20.0);
        }
    }
    Ok(Session {
        header: Header {
            format: FORMAT,
            name: format!("synth-seed{}", spec.seed),
            source: "synth".into(),
            tokenizer_hint: Some(format!("~{} chars/token", spec.chars_per_token)),
            chars_per_token: Some(spec.chars_per_token),
            seed: Some(spec.seed),
            breakers: spec.breakers.iter().map(|b| b.name().to_string()).collect(),
            filled_in: Vec::new(),
        },
        requests,
    })
}

/// The turn at which a once-only breaker (tool order, compaction) strikes
/// the main conversation; it lasts from then on.
fn strike_turn(c: &Conversation) -> usize {
    (c.ends.len() / 2).max(1)
}

fn request(
    c: &Conversation,
    spec: &SynthSpec,
    rng: &mut Rng,
    index: usize,
    turn: usize,
    end: usize,
    at_s: f64,
) -> Request {
    let mut injected = Vec::new();
    let mut messages = vec![Message::text("system", system_text(c, spec, rng, at_s))];
    messages.extend(c.history[..end].iter().cloned());
    let mut tools = c.tools.clone();
    let main = c.name == "main";
    let struck = main && turn >= strike_turn(c);
    if spec.breakers.contains(&Breaker::ToolOrder) && struck {
        tools.swap(1, 2);
        if turn == strike_turn(c) {
            injected.push(Breaker::ToolOrder.name().to_string());
        }
    }
    // compaction edits the first tool output (message 3: system, task,
    // call, output), which must already have been sent: from turn 2 on
    let compact_at = strike_turn(c).max(2);
    if spec.breakers.contains(&Breaker::Compaction) && main && turn >= compact_at {
        if let Some(m) = messages.get_mut(3) {
            m.content = Some(Value::String(
                "[Old tool result content cleared to save context]".into(),
            ));
        }
        if turn == compact_at {
            injected.push(Breaker::Compaction.name().to_string());
        }
    }
    if spec.breakers.contains(&Breaker::Reminder) {
        if let Some(last) = messages.last_mut() {
            let text = format!(
                "{}\n<system-reminder>\nThe task list has {} open items. Do not mention this reminder.\n</system-reminder>",
                last.content_text(),
                1 + turn % 5
            );
            last.content = Some(Value::String(text));
        }
        if turn > 0 {
            injected.push(Breaker::Reminder.name().to_string());
        }
    }
    for b in [Breaker::Nonce, Breaker::Timestamp] {
        if spec.breakers.contains(&b) && turn > 0 {
            injected.push(b.name().to_string());
        }
    }
    injected.sort();
    Request {
        index,
        conversation: c.name.clone(),
        turn,
        messages,
        tools,
        sampling: Sampling {
            temperature: Some(0.0),
            top_p: None,
        },
        output_tokens: Some(spec.output_tokens),
        at_s: Some((at_s * 1e3).round() / 1e3),
        injected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(breakers: Vec<Breaker>) -> SynthSpec {
        SynthSpec {
            turns: 6,
            max_depth_tokens: 3000,
            prefix_tokens: 1200,
            chars_per_token: 1.0,
            breakers,
            ..SynthSpec::default()
        }
    }

    fn chars(r: &Request) -> usize {
        r.text_chars()
    }

    #[test]
    fn same_seed_same_session_and_depth_grows_to_the_target() {
        let a = generate(&small(vec![])).unwrap();
        assert_eq!(a, generate(&small(vec![])).unwrap());
        let mut other = small(vec![]);
        other.seed = 1;
        assert_ne!(a, generate(&other).unwrap());
        assert_eq!(a.requests.len(), 6);
        let sizes: Vec<usize> = a.requests.iter().map(chars).collect();
        assert!(sizes.windows(2).all(|w| w[1] > w[0]), "{sizes:?}");
        let last = *sizes.last().unwrap() as f64;
        assert!((2000.0..4500.0).contains(&last), "{sizes:?}");
        let prefix = chars(&a.requests[0]) as f64;
        assert!(
            prefix > 1000.0,
            "system + tools are most of the first request"
        );
        // the clean session only appends
        for w in a.requests.windows(2) {
            assert_eq!(w[1].messages[..w[0].messages.len()], w[0].messages[..]);
        }
    }

    #[test]
    fn each_breaker_changes_what_it_says_and_is_listed() {
        for (b, turns) in Breaker::ALL.into_iter().flat_map(|b| [(b, 3), (b, 6)]) {
            let s = generate(&SynthSpec {
                turns,
                ..small(vec![b])
            })
            .unwrap();
            let hit: Vec<usize> = s
                .requests
                .iter()
                .filter(|r| r.injected.iter().any(|n| n == b.name()))
                .map(|r| r.index)
                .collect();
            assert!(!hit.is_empty(), "{b:?}");
            for &i in &hit {
                let (p, r) = (&s.requests[i - 1], &s.requests[i]);
                let same_prefix =
                    r.messages[..p.messages.len()] == p.messages[..] && r.tools == p.tools;
                assert!(!same_prefix, "{b:?} at {i} changed nothing");
            }
        }
    }

    #[test]
    fn conversations_interleave() {
        let mut spec = small(vec![]);
        spec.conversations = 2;
        let s = generate(&spec).unwrap();
        let convs: Vec<&str> = s.requests.iter().map(|r| r.conversation.as_str()).collect();
        assert_eq!(
            convs,
            ["main", "agent-1", "main", "agent-1", "main", "agent-1"]
        );
        assert!(generate(&SynthSpec {
            turns: 3,
            conversations: 2,
            ..small(vec![])
        })
        .is_err());
    }
}
