//! Replay a session against a server: each request in order, streamed, with
//! the server's prompt cache on or off (llama.cpp's per-request
//! `cache_prompt`), recording what it reused and how long each part took.
//! After each request (outside the timed part) the request is rendered with
//! the server's template and tokenizer, when it has them, so [`explain`]
//! can compare it with the previous request of its conversation.
//!
//! [`explain`]: super::explain

use super::explain::{self, Explanation, Rendered, ServerContext};
use super::session::{Request, Session};
use crate::server::client::{Client, ClientError};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Let the server reuse cached prefixes.
    pub reuse: bool,
    /// Wait the recorded gaps between requests.
    pub keep_gaps: bool,
    /// `model` field, if any.
    pub model: Option<String>,
    /// The server is llama-server: send `ignore_eos` and `cache_prompt`
    /// always (otherwise `cache_prompt` only to turn caching off).
    pub llama: bool,
    /// Tokens to ask for when a request does not say.
    pub default_output_tokens: u64,
}

/// What rooftune knows about the server it replays against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerSide {
    /// Its log file (a server rooftune started).
    pub log_path: Option<PathBuf>,
    /// Parallel slots.
    pub n_slots: Option<u64>,
    /// Context per slot, tokens.
    pub n_ctx_slot: Option<u64>,
}

/// One replayed request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestResult {
    /// Position in the session.
    pub index: usize,
    /// Its conversation.
    pub conversation: String,
    /// Position within the conversation.
    pub turn: usize,
    /// Prompt tokens (the server's count).
    pub prompt_tokens: Option<u64>,
    /// Prompt tokens the server reused from its cache.
    pub reused_tokens: Option<u64>,
    /// Prompt tokens it processed.
    pub new_tokens: Option<u64>,
    /// Time to first token, seconds (client clock).
    pub ttft_s: Option<f64>,
    /// The roofline's TTFT for the new tokens, seconds (filled in by the caller).
    pub predicted_ttft_s: Option<f64>,
    /// The estimated TTFT (the new tokens at the calibrated prefill rate at
    /// the depth they start from, then one decode step), seconds: with a
    /// calibrated profile, or a catalog profile whose family has published
    /// prefill factors (filled in by the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ttft_s: Option<f64>,
    /// Prompt processing time the server reported, seconds.
    pub server_prompt_s: Option<f64>,
    /// Decode rate, tok/s (the server's, else the client's).
    pub decode_tok_s: Option<f64>,
    /// Tokens generated.
    pub output_tokens: u64,
    /// Sent, seconds from the run's start.
    pub sent_at_s: f64,
    /// Request wall time, seconds.
    pub wall_s: f64,
    /// The server slot that served it (from the server's log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<u64>,
    /// Breakers the session says were injected here.
    pub injected: Vec<String>,
    /// What happened to the cache, and why.
    pub explanation: Explanation,
}

/// One pass over the session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Prompt caching was on.
    pub reuse: bool,
    /// Every request.
    pub requests: Vec<RequestResult>,
    /// Wall time of the pass, seconds.
    pub wall_s: f64,
    /// Why requests could not be rendered with the server's template, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendering_note: Option<String>,
}

/// The report version of `rooftune replay --json`.
pub const REPORT_FORMAT: u32 = 1;

/// A replay: one or two runs over a session, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    /// [`REPORT_FORMAT`].
    pub format: u32,
    /// The session's name.
    pub session: String,
    /// The session file.
    pub session_file: String,
    /// Requests in the session.
    pub requests: usize,
    /// Conversations in the session.
    pub conversations: usize,
    /// What was replayed against (model files and URLs, comma-separated;
    /// each run names its own).
    pub target: String,
    /// The server's command line, when rooftune started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// The server's log, when rooftune started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The machine predicted TTFT comes from (`--hw NAME`, `hw probe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predictions_from: Option<String>,
    /// The runs: reuse on, off, or on then off.
    pub runs: Vec<RunReport>,
    /// Things to know.
    pub notes: Vec<String>,
}

/// One run with its summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// What it ran against (model file or URL).
    pub target: String,
    /// The run.
    #[serde(flatten)]
    pub run: Run,
    /// By depth.
    pub buckets: Vec<super::summary::Bucket>,
    /// Where the time went.
    pub wall: super::summary::WallSplit,
}

impl RunReport {
    /// Summarise a run against `target`.
    pub fn new(target: &str, run: Run) -> RunReport {
        RunReport {
            target: target.to_string(),
            buckets: super::summary::buckets(&run.requests),
            wall: super::summary::wall_split(&run),
            run,
        }
    }
}

impl ReplayReport {
    /// Drop prompt text (tokens around divergences) from the report.
    pub fn strip_text(&mut self) {
        for r in &mut self.runs {
            for q in &mut r.run.requests {
                if let Some(d) = &mut q.explanation.divergence {
                    d.context = None;
                }
            }
        }
    }
}

/// A replay that stopped.
#[derive(Debug, thiserror::Error)]
#[error("request {index} (conversation `{conversation}`, turn {turn}) failed: {source}")]
pub struct ReplayError {
    /// Which request.
    pub index: usize,
    /// Its conversation.
    pub conversation: String,
    /// Its turn.
    pub turn: usize,
    /// Cause.
    #[source]
    pub source: ClientError,
}

/// The chat body for one request.
pub fn body(r: &Request, opts: &Options) -> Value {
    let mut b = json!({
        "messages": r.messages,
        "max_tokens": r.output_tokens.unwrap_or(opts.default_output_tokens).max(1),
    });
    if !r.tools.is_empty() {
        // the tools are rendered into the prompt as the client sent them;
        // `none` asks for no call, so no tool-call grammar constrains (or,
        // on a small vocabulary, breaks) the output replay does not need
        b["tools"] = json!(r.tools);
        b["tool_choice"] = json!("none");
    }
    if let Some(t) = r.sampling.temperature {
        b["temperature"] = json!(t);
    }
    if let Some(p) = r.sampling.top_p {
        b["top_p"] = json!(p);
    }
    if let Some(m) = &opts.model {
        b["model"] = json!(m);
    }
    if opts.llama {
        b["ignore_eos"] = json!(true);
        b["cache_prompt"] = json!(opts.reuse);
    } else if !opts.reuse {
        b["cache_prompt"] = json!(false);
    }
    b
}

/// The slot the log says took the request (`launch_slot_: id  N | task T |
/// processing task`), the last one when several did.
pub fn slot_of(log: &str) -> Option<u64> {
    log.lines()
        .rev()
        .filter(|l| l.contains("launch_slot_") && l.contains("processing task"))
        .find_map(|l| {
            let rest = l.split("id").nth(1)?;
            rest.split('|').next()?.trim().parse().ok()
        })
}

/// The session with `salt` first in every request's system prompt (or as a
/// first system message): the same requests, sharing nothing with an
/// earlier replay's cache.
pub fn salted(session: &Session, salt: &str) -> Session {
    let mut s = session.clone();
    for r in &mut s.requests {
        match r.messages.first_mut() {
            Some(m) if m.role == "system" => {
                let text = format!("{salt}\n{}", m.content_text());
                m.content = Some(Value::String(text));
            }
            _ => r
                .messages
                .insert(0, super::session::Message::text("system", salt)),
        }
    }
    s
}

/// A replay's figure for an agentic objective, seconds: median or p90 time to
/// first token, or the total wait (sum of times to first token).
pub fn figure(run: &Run, stat: crate::trial::AgenticStat) -> Option<f64> {
    use crate::trial::AgenticStat;
    let ttft: Vec<f64> = run.requests.iter().filter_map(|q| q.ttft_s).collect();
    if ttft.len() < run.requests.len() || ttft.is_empty() {
        return None;
    }
    match stat {
        AgenticStat::TtftMedian => super::summary::median(&ttft),
        AgenticStat::TtftP90 => super::summary::percentile(&ttft, 0.9),
        AgenticStat::TotalWait => Some(ttft.iter().sum()),
    }
}

/// The log written since `offset`, and the new offset.
fn log_since(path: &PathBuf, offset: u64) -> (String, u64) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (String::new(), offset);
    };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(offset)).is_err() || f.read_to_end(&mut buf).is_err() {
        return (String::new(), offset);
    }
    let n = buf.len() as u64;
    (String::from_utf8_lossy(&buf).into_owned(), offset + n)
}

fn log_len(path: &Option<PathBuf>) -> u64 {
    path.as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len())
}

async fn render(client: &Client, r: &Request) -> Result<Rendered, ClientError> {
    let text = client
        .apply_template(&json!(r.messages), &json!(r.tools))
        .await?;
    let tokens = client.tokenize_pieces(&text).await?;
    Ok(Rendered { text, tokens })
}

/// Replay `session` once; `on_request` sees each result as it arrives.
pub async fn run(
    client: &Client,
    session: &Session,
    opts: &Options,
    server: &ServerSide,
    on_request: &mut dyn FnMut(&RequestResult),
) -> Result<Run, ReplayError> {
    let t0 = Instant::now();
    let mut rendered: BTreeMap<String, Rendered> = BTreeMap::new();
    let mut rendering_note = None;
    let mut served: Vec<&str> = Vec::new();
    let mut last_pos: BTreeMap<&str, usize> = BTreeMap::new();
    // per conversation, the slot of its last request; per slot, the last conversation
    let mut conv_slot: BTreeMap<&str, u64> = BTreeMap::new();
    let mut slot_conv: BTreeMap<u64, &str> = BTreeMap::new();
    let mut results = Vec::new();
    for r in &session.requests {
        if let (true, Some(at)) = (opts.keep_gaps, r.at_s) {
            let wait = Duration::from_secs_f64(at.max(0.0)).saturating_sub(t0.elapsed());
            tokio::time::sleep(wait).await;
        }
        let log_at = log_len(&server.log_path);
        let rec = client
            .chat(body(r, opts), t0)
            .await
            .map_err(|source| ReplayError {
                index: r.index,
                conversation: r.conversation.clone(),
                turn: r.turn,
                source,
            })?;
        let log = server.log_path.as_ref().map(|p| log_since(p, log_at).0);
        let reused = rec
            .timings
            .as_ref()
            .map(|t| t.cache_n)
            .or(rec.usage.cached_tokens);
        let prompt = rec.prompt_tokens();
        let cur_rendered = if opts.reuse && rendering_note.is_none() {
            match render(client, r).await {
                Ok(x) => Some(x),
                Err(e) => {
                    rendering_note = Some(format!(
                        "requests were not rendered with the server's template ({e}); misses are explained from the messages alone"
                    ));
                    None
                }
            }
        } else {
            None
        };
        let others_since = last_pos.get(r.conversation.as_str()).map_or(0, |&p| {
            let mut o: Vec<&str> = served[p + 1..]
                .iter()
                .copied()
                .filter(|c| *c != r.conversation)
                .collect();
            o.sort_unstable();
            o.dedup();
            o.len()
        });
        let slot = log.as_deref().and_then(slot_of);
        let slot_taken = conv_slot
            .get(r.conversation.as_str())
            .map(|s| slot_conv.get(s).is_some_and(|c| *c != r.conversation));
        if let Some(s) = slot {
            conv_slot.insert(&r.conversation, s);
            slot_conv.insert(s, &r.conversation);
        }
        let prev = session
            .previous_in_conversation(r.index)
            .map(|i| (&session.requests[i], rendered.get(&r.conversation)));
        let ctx = ServerContext {
            reuse: opts.reuse,
            reused_tokens: reused,
            log,
            n_slots: server.n_slots,
            n_ctx_slot: server.n_ctx_slot,
            others_since,
            slot_taken,
            prompt_tokens: prompt,
            output_tokens: r.output_tokens.unwrap_or(opts.default_output_tokens),
        };
        let explanation = explain::explain(prev, (r, cur_rendered.as_ref()), &ctx);
        if let Some(x) = cur_rendered {
            rendered.insert(r.conversation.clone(), x);
        }
        last_pos.insert(&r.conversation, served.len());
        served.push(&r.conversation);
        let t = rec.timings.as_ref();
        let res = RequestResult {
            index: r.index,
            conversation: r.conversation.clone(),
            turn: r.turn,
            prompt_tokens: prompt,
            reused_tokens: reused,
            new_tokens: t
                .map(|t| t.prompt_n)
                .or_else(|| Some(prompt?.saturating_sub(reused.unwrap_or(0)))),
            ttft_s: rec.first_token_s,
            predicted_ttft_s: None,
            estimated_ttft_s: None,
            server_prompt_s: t.map(|t| t.prompt_ms / 1e3).filter(|&s| s > 0.0),
            decode_tok_s: rec.server_decode_tok_s().or(rec.client_decode_tok_s()),
            output_tokens: rec.generated_tokens(),
            sent_at_s: rec.sent_at_s,
            wall_s: rec.end_s,
            slot,
            injected: r.injected.clone(),
            explanation,
        };
        on_request(&res);
        results.push(res);
    }
    Ok(Run {
        reuse: opts.reuse,
        requests: results,
        wall_s: t0.elapsed().as_secs_f64(),
        rendering_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agentic::session::{Message, Sampling};

    #[test]
    fn slot_comes_from_the_launch_line() {
        let log = "I slot get_availabl: id  1 | task -1 | selected slot by LCP similarity\n\
                   I slot launch_slot_: id  1 | task -1 | sampler params:\n\
                   I slot launch_slot_: id  1 | task 135 | processing task, is_child = 0\n";
        assert_eq!(slot_of(log), Some(1));
        assert_eq!(slot_of("nothing"), None);
    }

    #[test]
    fn body_sends_the_cache_switch_the_server_understands() {
        let r = Request {
            index: 0,
            conversation: "main".into(),
            turn: 0,
            messages: vec![Message::text("user", "hi")],
            tools: vec![],
            sampling: Sampling {
                temperature: Some(0.0),
                top_p: None,
            },
            output_tokens: None,
            at_s: None,
            injected: vec![],
        };
        let mut o = Options {
            reuse: true,
            keep_gaps: false,
            model: None,
            llama: true,
            default_output_tokens: 16,
        };
        let b = body(&r, &o);
        assert_eq!(
            (b["cache_prompt"].clone(), b["max_tokens"].clone()),
            (json!(true), json!(16))
        );
        assert!(b.get("tools").is_none());
        o.llama = false;
        assert!(body(&r, &o).get("cache_prompt").is_none());
        o.reuse = false;
        assert_eq!(body(&r, &o)["cache_prompt"], json!(false));
    }
}
