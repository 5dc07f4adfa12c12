//! The measurement plan: warm-up, prefill, decode at depths, repeats.
//!
//! Phases are separate functions so each can be named in events and tested:
//! [`warm_up`] (discarded; also learns what the server accepts), [`prefill`]
//! (a prompt of exactly `prompt_tokens`, caching off, one token generated),
//! [`decode`] (a prompt of `depth` tokens, then `n_predict` tokens with EOS
//! ignored). With `concurrency` N, every request of a phase is N streams at
//! once. Definitions (TTFT and its split) are in `docs/measurement.md`.

use super::contention::{self, CpuClock};
use super::prompt::{Counting, PromptMaker};
use crate::server::client::{Client, ClientError, Dialect, GenRequest, Prompt, RequestRecord};
use crate::trial::{Stat as Summary, VsCeiling};
use futures_util::future::try_join_all;
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Prompt length for prefill and TTFT, tokens.
    pub prompt_tokens: u64,
    /// Context depths for decode, tokens.
    pub depths: Vec<u64>,
    /// Tokens generated per decode request.
    pub n_predict: u64,
    /// Measured repeats per point (after one discarded warm-up).
    pub repeats: u32,
    /// Streams at once.
    pub concurrency: u32,
}

/// Where to measure.
#[derive(Debug, Clone)]
pub struct Target {
    /// HTTP client.
    pub client: Client,
    /// Request dialect.
    pub dialect: Dialect,
    /// `model` for the chat dialect.
    pub model: Option<String>,
    /// Context one request may use (`n_ctx_slot`), if known.
    pub ctx_limit: Option<u64>,
    /// The server's process id when rooftune started it (to tell its CPU
    /// use from other processes', `contention`).
    pub server_pid: Option<i32>,
}

impl Target {
    /// The server a measurement session started: its client, its backend's
    /// dialect, and the context one request may use as its log says.
    pub fn for_session(s: &crate::server::Session) -> Target {
        Target {
            client: s.client.clone(),
            dialect: s.backend.dialect(),
            model: None,
            ctx_limit: s.server.facts.n_ctx_slot,
            server_pid: Some(s.server.pid()),
        }
    }
}

/// Progress and lifecycle events.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Warm-up request sent.
    WarmUp,
    /// One prefill repeat starts.
    Prefill {
        /// Repeat index.
        rep: u32,
    },
    /// One decode repeat starts.
    Decode {
        /// Depth, tokens.
        depth: u64,
        /// Repeat index.
        rep: u32,
    },
}

impl Event {
    /// Number of measured steps a plan has (for a progress bar).
    pub fn total_steps(plan: &Plan) -> u64 {
        (1 + plan.depths.len() as u64) * plan.repeats as u64 + 1
    }
}

/// Which part of the plan a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Discarded warm-up.
    WarmUp,
    /// Prefill / TTFT.
    Prefill,
    /// Decode at a depth.
    Decode,
}

/// One request's raw record with where it belongs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Phase.
    pub kind: Kind,
    /// Depth for decode (prompt length for prefill), tokens.
    pub depth: u64,
    /// Repeat index.
    pub rep: u32,
    /// Stream index within the repeat.
    pub stream: u32,
    /// The record.
    pub record: RequestRecord,
}

/// Prefill and time to first token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefillResult {
    /// Prompt tokens processed (the server's count where it gives one).
    pub prompt_tokens: u64,
    /// Prefill rate from the server's timings, tok/s.
    pub server_tok_s: Option<Summary>,
    /// Prompt tokens / TTFT on the client clock, tok/s.
    pub client_tok_s: Option<Summary>,
    /// Time to first token, client clock, seconds.
    pub ttft_s: Option<Summary>,
    /// Of the TTFT: the server's prompt processing, seconds.
    pub server_prompt_s: Option<Summary>,
    /// Of the TTFT: the rest (HTTP, queueing, first sampling, network), seconds.
    pub ttft_rest_s: Option<Summary>,
    /// The prefill rate next to its roofline ceiling (filled by `compare`).
    pub vs_ceiling: Option<VsCeiling>,
    /// Cores other processes used on average meanwhile (`contention`; Linux, servers rooftune started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub others_cores: Option<f64>,
}

/// Decode at one depth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodeResult {
    /// Context depth, tokens.
    pub depth: u64,
    /// Tokens generated per request (median over requests).
    pub generated_tokens: u64,
    /// Per-stream rate from the server's timings, tok/s.
    pub server_tok_s: Option<Summary>,
    /// Per-stream rate on the client clock, tok/s.
    pub client_tok_s: Option<Summary>,
    /// All streams together (tokens / wall time of a repeat), tok/s; with concurrency > 1.
    pub aggregate_tok_s: Option<Summary>,
    /// Share of generated tokens that were reasoning.
    pub reasoning_share: f64,
    /// The per-stream rate next to its roofline ceiling (filled by `compare`).
    pub vs_ceiling: Option<VsCeiling>,
    /// Cores other processes used on average meanwhile (`contention`; Linux, servers rooftune started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub others_cores: Option<f64>,
}

/// Client CPU use while measuring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuUse {
    /// CPU seconds of this process (user + system).
    pub cpu_s: f64,
    /// Wall seconds.
    pub wall_s: f64,
}

impl CpuUse {
    /// CPU over wall, share of one core.
    pub fn share(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.cpu_s / self.wall_s
        } else {
            0.0
        }
    }
}

/// Everything one plan measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// How prompt lengths were counted.
    pub counting: Counting,
    /// How the prompt cache was defeated.
    pub caching: String,
    /// Prefill / TTFT.
    pub prefill: PrefillResult,
    /// Decode per depth.
    pub decode: Vec<DecodeResult>,
    /// Things the reader must know.
    pub notes: Vec<String>,
    /// Client CPU while measuring.
    pub client_cpu: CpuUse,
    /// Every request, warm-up included.
    pub requests: Vec<Sample>,
}

/// CPU seconds used by this process so far.
pub fn process_cpu_s() -> f64 {
    // SAFETY: getrusage fills a plain struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

struct Ctx<'a> {
    target: &'a Target,
    maker: PromptMaker,
    extensions: bool,
    t0: Instant,
    samples: Vec<Sample>,
    notes: Vec<String>,
}

impl Ctx<'_> {
    fn request(&self, prompt: Prompt, n_predict: u64) -> GenRequest {
        GenRequest {
            prompt,
            n_predict,
            cache_prompt: false,
            extensions: self.extensions,
            model: self.target.model.clone(),
        }
    }

    async fn prompt(&mut self, n: u64) -> Result<Prompt, ClientError> {
        let c = &self.target.client;
        Ok(match self.target.dialect {
            Dialect::LlamaCompletion => Prompt::Tokens(self.maker.tokens(c, n.max(1)).await?),
            Dialect::OpenAiChat => Prompt::Text(self.maker.text(c, n).await?),
        })
    }

    /// `concurrency` streams of prompts of `len` tokens at once.
    async fn round(
        &mut self,
        kind: Kind,
        len: u64,
        n_predict: u64,
        rep: u32,
        streams: u32,
    ) -> Result<Vec<RequestRecord>, ClientError> {
        let mut reqs = Vec::new();
        for _ in 0..streams {
            let p = self.prompt(len).await?;
            reqs.push(self.request(p, n_predict));
        }
        let (client, dialect, t0) = (&self.target.client, self.target.dialect, self.t0);
        let recs = try_join_all(reqs.iter().map(|r| client.generate(dialect, r, t0))).await?;
        for (i, r) in recs.iter().enumerate() {
            self.samples.push(Sample {
                kind,
                depth: len,
                rep,
                stream: i as u32,
                record: r.clone(),
            });
        }
        Ok(recs)
    }
}

/// Run a plan. `on_event` sees each step before it runs.
pub async fn run(
    target: &Target,
    plan: &Plan,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Measurement, ClientError> {
    let cpu0 = process_cpu_s();
    let t0 = Instant::now();
    let mut cx = Ctx {
        target,
        maker: PromptMaker::new(t0.elapsed().as_nanos() as u64 ^ std::process::id() as u64),
        extensions: true,
        t0,
        samples: Vec::new(),
        notes: Vec::new(),
    };
    on_event(&Event::WarmUp);
    warm_up(&mut cx).await?;
    let prefill = prefill(&mut cx, plan, on_event).await?;
    let mut decode_results = Vec::new();
    for &depth in &plan.depths {
        if let Some(limit) = target.ctx_limit {
            if depth + plan.n_predict + 1 > limit {
                cx.notes.push(format!(
                    "decode at depth {depth} skipped: depth + {} generated tokens exceed the {limit}-token context of a slot",
                    plan.n_predict
                ));
                continue;
            }
        }
        decode_results.push(decode(&mut cx, plan, depth, on_event).await?);
    }
    let caching = match target.dialect {
        Dialect::LlamaCompletion => "cache_prompt=false; every prompt is new random text".to_string(),
        Dialect::OpenAiChat if cx.extensions => {
            "cache_prompt=false requested, and every prompt starts with a random prefix so a prefix cache cannot hit".into()
        }
        Dialect::OpenAiChat => "the server cannot turn caching off; every prompt starts with a random prefix so a prefix cache cannot hit".into(),
    };
    Ok(Measurement {
        counting: cx.maker.counting,
        caching,
        prefill,
        decode: decode_results,
        notes: cx.notes,
        client_cpu: CpuUse {
            cpu_s: process_cpu_s() - cpu0,
            wall_s: t0.elapsed().as_secs_f64(),
        },
        requests: cx.samples,
    })
}

/// One discarded request. For the chat dialect it also learns whether the
/// server has `/tokenize` and accepts `ignore_eos`/`cache_prompt`.
async fn warm_up(cx: &mut Ctx<'_>) -> Result<(), ClientError> {
    if cx.target.dialect == Dialect::OpenAiChat {
        match cx.target.client.tokenize("probe").await {
            Ok(_) => {}
            Err(ClientError::Unsupported { .. }) | Err(ClientError::Status { .. }) => {
                let base = cx.request(Prompt::Text(String::new()), 1);
                let r = cx
                    .maker
                    .calibrate(&cx.target.client, cx.target.dialect, &base)
                    .await;
                if let Err(ClientError::Status { status: 400, .. }) = r {
                    cx.extensions = false;
                    cx.notes.push(
                        "the server rejected ignore_eos/cache_prompt; decode may stop early at EOS"
                            .into(),
                    );
                    let base = cx.request(Prompt::Text(String::new()), 1);
                    cx.maker
                        .calibrate(&cx.target.client, cx.target.dialect, &base)
                        .await?;
                } else {
                    r?;
                }
                cx.notes.push(
                    "the server has no /tokenize: prompt lengths are the server's usage.prompt_tokens".into(),
                );
            }
            Err(e) => return Err(e),
        }
    }
    cx.round(Kind::WarmUp, 32, 8, 0, 1).await?;
    Ok(())
}

fn summary_of(
    recs: &[RequestRecord],
    f: impl Fn(&RequestRecord) -> Option<f64>,
) -> Option<Summary> {
    Summary::of_finite(&recs.iter().filter_map(f).collect::<Vec<_>>())
}

async fn prefill(
    cx: &mut Ctx<'_>,
    plan: &Plan,
    on_event: &mut dyn FnMut(&Event),
) -> Result<PrefillResult, ClientError> {
    let mut all = Vec::new();
    let clock = CpuClock::now(cx.target.server_pid);
    for rep in 0..plan.repeats {
        on_event(&Event::Prefill { rep });
        all.extend(
            cx.round(Kind::Prefill, plan.prompt_tokens, 1, rep, plan.concurrency)
                .await?,
        );
    }
    let others_cores = others_since(clock, cx.target.server_pid);
    cx.notes.extend(contention::note("prefill", others_cores));
    let cached: u64 = all
        .iter()
        .map(|r| r.usage.cached_tokens.unwrap_or(0))
        .max()
        .unwrap_or(0);
    if cached > 0 {
        cx.notes.push(format!(
            "the server reused up to {cached} cached prompt tokens despite the random prefix; prefill figures are optimistic"
        ));
    }
    if let Some(bad) = all.iter().find_map(|r| r.usage.invalid.clone()) {
        cx.notes.push(format!(
            "the server sent {bad}, which is not a token count; it was ignored"
        ));
        if cx.maker.counting == Counting::ServerReported {
            cx.maker.counting = Counting::Estimated;
        }
    }
    let mut lens: Vec<u64> = all
        .iter()
        .filter_map(RequestRecord::prompt_tokens)
        .collect();
    lens.sort_unstable();
    let prompt_tokens = lens
        .get(lens.len() / 2)
        .copied()
        .unwrap_or(plan.prompt_tokens);
    Ok(PrefillResult {
        prompt_tokens,
        server_tok_s: summary_of(&all, RequestRecord::server_prefill_tok_s),
        client_tok_s: summary_of(&all, |r| Some(r.prompt_tokens()? as f64 / r.first_token_s?)),
        ttft_s: summary_of(&all, |r| r.first_token_s),
        server_prompt_s: summary_of(&all, |r| Some(r.timings.as_ref()?.prompt_ms / 1e3)),
        ttft_rest_s: summary_of(&all, |r| {
            Some(r.first_token_s? - r.timings.as_ref()?.prompt_ms / 1e3)
        }),
        vs_ceiling: None,
        others_cores,
    })
}

/// Cores others used since `start` (see `contention`).
fn others_since(start: Option<CpuClock>, pid: Option<i32>) -> Option<f64> {
    CpuClock::now(pid)?.others_cores_since(&start?)
}

async fn decode(
    cx: &mut Ctx<'_>,
    plan: &Plan,
    depth: u64,
    on_event: &mut dyn FnMut(&Event),
) -> Result<DecodeResult, ClientError> {
    let mut all = Vec::new();
    let mut aggregate = Vec::new();
    let clock = CpuClock::now(cx.target.server_pid);
    for rep in 0..plan.repeats {
        on_event(&Event::Decode { depth, rep });
        let recs = cx
            .round(Kind::Decode, depth, plan.n_predict, rep, plan.concurrency)
            .await?;
        if plan.concurrency > 1 {
            let start = recs
                .iter()
                .map(|r| r.sent_at_s)
                .fold(f64::INFINITY, f64::min);
            let end = recs
                .iter()
                .map(|r| r.sent_at_s + r.end_s)
                .fold(0.0, f64::max);
            let tokens: u64 = recs.iter().map(RequestRecord::generated_tokens).sum();
            if end > start {
                aggregate.push(tokens as f64 / (end - start));
            }
        }
        all.extend(recs);
    }
    let others_cores = others_since(clock, cx.target.server_pid);
    cx.notes.extend(contention::note(
        &format!("decode at depth {depth}"),
        others_cores,
    ));
    let mut gen: Vec<u64> = all.iter().map(RequestRecord::generated_tokens).collect();
    gen.sort_unstable();
    let generated_tokens = gen.get(gen.len() / 2).copied().unwrap_or(0);
    if gen.first().is_some_and(|&g| g < plan.n_predict) {
        cx.notes.push(format!(
            "at depth {depth} some requests generated only {} of {} tokens (the server stopped at EOS or a limit)",
            gen[0], plan.n_predict
        ));
    }
    let events: u64 = all
        .iter()
        .map(|r| r.content_events + r.reasoning_events)
        .sum();
    let reasoning: u64 = all.iter().map(|r| r.reasoning_events).sum();
    Ok(DecodeResult {
        depth,
        generated_tokens,
        server_tok_s: summary_of(&all, RequestRecord::server_decode_tok_s),
        client_tok_s: summary_of(&all, RequestRecord::client_decode_tok_s),
        aggregate_tok_s: Summary::of_finite(&aggregate),
        reasoning_share: if events > 0 {
            reasoning as f64 / events as f64
        } else {
            0.0
        },
        vs_ceiling: None,
        others_cores,
    })
}
