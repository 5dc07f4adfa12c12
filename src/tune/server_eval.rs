//! The real evaluator: one llama-server start per trial, over
//! `crate::server` (supervision, health, log scan) and `crate::bench`
//! (exact-length prompts, prefill/decode/TTFT measurement).
//!
//! While the server is up it measures every probe of the campaign (all
//! depths, the concurrent streams) and the quality prompts, then stops it.
//! Screening and full repeats run on the same server: the second pass only
//! adds repeats. Ctrl-C (the shared interrupt flag) stops the server and
//! returns an `interrupted` outcome; a crash, OOM or timeout is a status.

use super::spec::Campaign;
use super::trial::{
    Evaluator, Measurements, Probe, QualityProbe, QualitySample, ServerInfo, SlotInfo, Stat,
    Status, TokenStep, TrialOutcome, TrialRequest,
};
use super::TuneError;
use crate::bench::measure::{self, Kind, Plan, Sample, Target};
use crate::server::client::Client;
use crate::server::llama::LlamaServer;
use crate::server::locate::{self, Inputs};
use crate::server::{Backend, Phase, RunningServer, ServerError, StartOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Starts llama-server per trial and measures it.
#[derive(Debug)]
pub struct ServerEvaluator {
    bin: PathBuf,
    model: PathBuf,
    /// The campaign's `fixed` arguments, after each configuration's flags.
    fixed: Vec<String>,
    build: String,
    rt: tokio::runtime::Runtime,
    interrupt: &'static AtomicBool,
    /// Longest a start-up or a request may take.
    pub timeout: Duration,
}

impl ServerEvaluator {
    /// Find the binary (`--server-bin`, the spec's `server`,
    /// `$ROOFTUNE_LLAMA_SERVER`, `PATH`, the cache) and prepare a runtime.
    pub fn new(
        c: &Campaign,
        bin: Option<&Path>,
        interrupt: &'static AtomicBool,
    ) -> Result<ServerEvaluator, TuneError> {
        let backend = LlamaServer;
        let found = locate::locate(
            backend.binary_name(),
            backend.env_var(),
            &Inputs::from_env(bin.map(Path::to_path_buf), backend.env_var()),
        )
        .map_err(|e| TuneError::Server(e.to_string()))?;
        // A current-thread runtime on the calling (main) thread: the server is
        // spawned from the thread that lives as long as rooftune (PDEATHSIG).
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TuneError::Server(format!("starting the async runtime: {e}")))?;
        Ok(ServerEvaluator {
            build: locate::version(&found.path),
            bin: found.path,
            model: c.model.clone(),
            fixed: c.fixed.clone(),
            rt,
            interrupt,
            timeout: Duration::from_secs(300),
        })
    }
}

/// Bench plans that cover a set of probes: one single-stream plan for the
/// prompt lengths and decode depths, one per concurrency level.
pub fn plans(probes: &[Probe], repeats: u32) -> Vec<Plan> {
    let mut prompt_lens: Vec<u64> = probes
        .iter()
        .filter_map(|p| match *p {
            Probe::Prefill { tokens } => Some(tokens),
            Probe::Ttft { depth } => Some(depth.max(1)),
            _ => None,
        })
        .collect();
    prompt_lens.sort_unstable();
    prompt_lens.dedup();
    let mut depths: Vec<u64> = probes
        .iter()
        .filter_map(|p| match *p {
            Probe::Decode { depth, .. } => Some(depth),
            _ => None,
        })
        .collect();
    depths.sort_unstable();
    depths.dedup();
    let n_predict = probes
        .iter()
        .filter_map(|p| match *p {
            Probe::Decode { tokens, .. } => Some(tokens),
            _ => None,
        })
        .max()
        .unwrap_or(2)
        .max(2);
    let mut out = Vec::new();
    let first_len = prompt_lens.first().copied().unwrap_or(32);
    if !depths.is_empty() || !prompt_lens.is_empty() {
        out.push(Plan {
            prompt_tokens: first_len,
            depths,
            n_predict,
            repeats,
            concurrency: 1,
        });
    }
    for &len in prompt_lens.iter().skip(1) {
        out.push(Plan {
            prompt_tokens: len,
            depths: Vec::new(),
            n_predict: 2,
            repeats,
            concurrency: 1,
        });
    }
    for p in probes {
        if let Probe::Aggregate { streams, tokens } = *p {
            out.push(Plan {
                prompt_tokens: 32,
                depths: vec![0],
                n_predict: tokens.max(2),
                repeats,
                concurrency: streams.max(1),
            });
        }
    }
    out
}

/// Per-repeat samples of a probe from the requests of one plan run.
pub fn samples(probe: &Probe, plan: &Plan, reqs: &[Sample]) -> Vec<f64> {
    let single = plan.concurrency == 1;
    match *probe {
        Probe::Decode { depth, .. } if single => reqs
            .iter()
            .filter(|s| s.kind == Kind::Decode && s.depth == depth)
            .filter_map(|s| {
                s.record
                    .server_decode_tok_s()
                    .or_else(|| s.record.client_decode_tok_s())
            })
            .collect(),
        Probe::Prefill { tokens } if single && plan.prompt_tokens == tokens => reqs
            .iter()
            .filter(|s| s.kind == Kind::Prefill)
            .filter_map(|s| s.record.server_prefill_tok_s())
            .collect(),
        Probe::Ttft { depth } if single && plan.prompt_tokens == depth.max(1) => reqs
            .iter()
            .filter(|s| s.kind == Kind::Prefill)
            .filter_map(|s| s.record.first_token_s)
            .collect(),
        Probe::Aggregate { streams, .. } if plan.concurrency == streams.max(1) => {
            let mut by_rep: BTreeMap<u32, Vec<&Sample>> = BTreeMap::new();
            for s in reqs.iter().filter(|s| s.kind == Kind::Decode) {
                by_rep.entry(s.rep).or_default().push(s);
            }
            by_rep
                .values()
                .filter_map(|recs| {
                    let start = recs
                        .iter()
                        .map(|r| r.record.sent_at_s)
                        .fold(f64::INFINITY, f64::min);
                    let end = recs
                        .iter()
                        .map(|r| r.record.sent_at_s + r.record.end_s)
                        .fold(0.0, f64::max);
                    let tokens: u64 = recs.iter().map(|r| r.record.generated_tokens()).sum();
                    (end > start).then(|| tokens as f64 / (end - start))
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Classify a start-up failure.
fn start_failure(e: &ServerError) -> (Status, String) {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    let status = match e {
        ServerError::NotReady { .. } => Status::Timeout,
        ServerError::Interrupted => Status::Interrupted,
        _ if lower.contains("out of memory")
            || lower.contains("failed to allocate")
            || lower.contains("cannot allocate")
            || lower.contains("bad_alloc")
            || lower.contains("signal 9 (sigkill)") =>
        {
            Status::Oom
        }
        _ => Status::Crashed,
    };
    (status, text)
}

/// The quality probe: greedy completions with top-k log-probabilities.
async fn quality(root: &str, q: &QualityProbe, timeout: Duration) -> Option<QualitySample> {
    let http = reqwest::Client::builder().timeout(timeout).build().ok()?;
    let mut out = Vec::new();
    for prompt in &q.prompts {
        let body = serde_json::json!({
            "prompt": prompt,
            "n_predict": q.n_predict,
            "n_probs": q.n_probs,
            "temperature": -1.0,
            "cache_prompt": false,
            "ignore_eos": true,
        });
        let v: serde_json::Value = http
            .post(format!("{root}/completion"))
            .json(&body)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        out.push(parse_probs(&v));
    }
    Some(out)
}

/// `completion_probabilities` of a `/completion` answer (b11434 shape:
/// `[{id, logprob, top_logprobs: [{id, logprob}, ...]}, ...]`).
pub fn parse_probs(v: &serde_json::Value) -> Vec<TokenStep> {
    let steps = v
        .get("completion_probabilities")
        .and_then(|x| x.as_array())
        .cloned()
        .unwrap_or_default();
    steps
        .iter()
        .filter_map(|s| {
            let id = s.get("id")?.as_i64()?;
            let top = s
                .get("top_logprobs")?
                .as_array()?
                .iter()
                .filter_map(|t| Some((t.get("id")?.as_i64()?, t.get("logprob")?.as_f64()?)))
                .collect();
            Some(TokenStep { id, top })
        })
        .collect()
}

impl ServerEvaluator {
    async fn measure_all(
        &self,
        server: &mut RunningServer,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
        out: &mut TrialOutcome,
    ) -> Result<(), (Status, String)> {
        let client = Client::new(
            &server.root_url,
            &format!("{}/v1", server.root_url),
            None,
            self.timeout,
        )
        .map_err(|e| (Status::Crashed, e.to_string()))?;
        let target = Target {
            client,
            dialect: LlamaServer.dialect(),
            model: None,
            ctx_limit: server.facts.n_ctx_slot,
        };
        let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let stats = |s: &BTreeMap<String, Vec<f64>>| -> Measurements {
            s.iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), Stat::of(v)))
                .collect()
        };
        measure_pass(&target, &req.probes, req.screen_repeats, &mut samples).await?;
        out.measurements = stats(&samples);
        out.full = req.screen_repeats >= req.full_repeats;
        if !out.full && promote(&out.measurements) {
            measure_pass(
                &target,
                &req.probes,
                req.full_repeats - req.screen_repeats,
                &mut samples,
            )
            .await?;
            out.measurements = stats(&samples);
            out.full = true;
        }
        if let Some(q) = &req.quality {
            out.quality = quality(&server.root_url, q, self.timeout).await;
        }
        Ok(())
    }

    async fn trial(
        &self,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> TrialOutcome {
        let mut out = TrialOutcome::default();
        let opts = StartOptions {
            ready_timeout: self.timeout,
            env: vec![
                ("ROOFTUNE_CAMPAIGN".into(), req.campaign.clone()),
                ("ROOFTUNE_TRIAL".into(), req.trial_id.to_string()),
            ],
            ..StartOptions::default()
        };
        let t0 = Instant::now();
        let mut args = req.config.args();
        args.extend(self.fixed.iter().cloned());
        let started =
            RunningServer::start(&LlamaServer, &self.bin, &self.model, &args, &opts).await;
        let mut server = match started {
            Ok(s) => s,
            Err(e) => {
                let (st, why) = start_failure(&e);
                out.status = Some(st);
                out.reason = Some(why);
                out.startup_s = t0.elapsed().as_secs_f64();
                return out;
            }
        };
        out.startup_s = server.load_s;
        out.slots = match (server.facts.n_slots, server.facts.n_ctx_slot) {
            (Some(n_slots), Some(n_ctx_slot)) => Some(SlotInfo {
                n_slots,
                n_ctx_slot,
                kv_unified: server.facts.kv_unified.unwrap_or(false),
            }),
            _ => None,
        };
        let t1 = Instant::now();
        let r = self.measure_all(&mut server, req, promote, &mut out).await;
        out.measure_s = t1.elapsed().as_secs_f64();
        match r {
            Ok(()) => out.status = Some(Status::Ok),
            Err((st, why)) => {
                let crash = server.crash(Phase::Request, Duration::from_secs(2)).await;
                let (st, why) = match crash {
                    Some(e) => start_failure(&e),
                    None => (st, why),
                };
                out.status = Some(st);
                out.reason = Some(why);
            }
        }
        server.stop().await;
        out
    }
}

/// Run the plans for `probes` once with `repeats`, adding per-repeat samples.
async fn measure_pass(
    target: &Target,
    probes: &[Probe],
    repeats: u32,
    samples_by_key: &mut BTreeMap<String, Vec<f64>>,
) -> Result<(), (Status, String)> {
    for plan in plans(probes, repeats) {
        let m = measure::run(target, &plan, &mut |_| {})
            .await
            .map_err(|e| {
                let s = if e.to_string().contains("timed out") {
                    Status::Timeout
                } else {
                    Status::Crashed
                };
                (s, format!("request failed: {e}"))
            })?;
        for p in probes {
            samples_by_key
                .entry(p.key())
                .or_default()
                .extend(samples(p, &plan, &m.requests));
        }
    }
    Ok(())
}

impl Evaluator for ServerEvaluator {
    fn server(&mut self) -> ServerInfo {
        ServerInfo {
            binary: self.bin.display().to_string(),
            build: self.build.clone(),
        }
    }

    fn help_text(&mut self) -> Option<String> {
        let o = std::process::Command::new(&self.bin)
            .arg("--help")
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // A binary that prints no flags tells us nothing: do not reject on it.
        text.lines()
            .any(|l| l.trim_start().starts_with("-m,"))
            .then_some(text)
    }

    fn evaluate(
        &mut self,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> TrialOutcome {
        let interrupt = self.interrupt;
        let fut = async {
            let watch = async {
                while !interrupt.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            tokio::select! {
                o = self.trial(req, promote) => o,
                // Dropping the trial future drops the RunningServer, whose
                // guard stops the server's process group.
                _ = watch => TrialOutcome {
                    status: Some(Status::Interrupted),
                    reason: Some("Ctrl-C during the trial; the server was stopped".into()),
                    ..TrialOutcome::default()
                },
            }
        };
        self.rt.block_on(fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_every_probe() {
        let probes = [
            Probe::Decode {
                depth: 0,
                tokens: 16,
            },
            Probe::Decode {
                depth: 512,
                tokens: 32,
            },
            Probe::Prefill { tokens: 256 },
            Probe::Ttft { depth: 1024 },
            Probe::Aggregate {
                streams: 4,
                tokens: 16,
            },
        ];
        let p = plans(&probes, 3);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].depths, vec![0, 512]);
        assert_eq!(p[0].n_predict, 32);
        assert_eq!(p[0].prompt_tokens, 256);
        assert_eq!(p[1].prompt_tokens, 1024);
        assert_eq!(p[2].concurrency, 4);
        assert!(p.iter().all(|x| x.repeats == 3));
    }

    #[test]
    fn completion_probabilities_parse() {
        let v = serde_json::json!({"completion_probabilities": [
            {"id": 5, "logprob": -0.1, "token": "a", "bytes": [97],
             "top_logprobs": [{"id": 5, "logprob": -0.1, "token": "a"}, {"id": 9, "logprob": -2.5, "token": "b"}]}
        ]});
        let s = parse_probs(&v);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].id, 5);
        assert_eq!(s[0].top, vec![(5, -0.1), (9, -2.5)]);
    }
}
