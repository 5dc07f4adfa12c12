//! The real evaluator: one server start per trial (or per group of trials
//! that differ only in per-request settings), through the backend seam
//! (`crate::server::start_for_measurement`) and `crate::bench`
//! (exact-length prompts, prefill/decode/TTFT measurement).
//!
//! While the server is up it measures every probe of the campaign (all
//! depths, the concurrent streams) and the quality prompts, then stops it.
//! Screening and full repeats run on the same server: the second pass only
//! adds repeats. Ctrl-C or SIGTERM (the shared Cancel token) stops the server and
//! returns an `interrupted` outcome; a crash, OOM or timeout is a status
//! decided from the error's variant and the exit signal, never its text.

use super::cluster::ClusterSpec;
use super::spec::Campaign;
use super::trial::{
    Evaluator, Measurements, Probe, QualityProbe, QualitySample, ServerInfo, SlotInfo, Stat,
    Status, TrialOutcome, TrialRequest,
};
use super::TuneError;
use crate::bench::measure::{self, Target};
use crate::bench::probes::{plans, samples};
use crate::cancel::Cancel;
use crate::server::{self, rpc, Backend, ClientError, Phase, ServerError, Session, StartOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Starts the campaign's backend per trial and measures it.
#[derive(Debug)]
pub struct ServerEvaluator {
    backend: &'static dyn Backend,
    bin: PathBuf,
    model: PathBuf,
    /// The campaign's `fixed` arguments, after each configuration's flags.
    fixed: Vec<String>,
    build: String,
    rt: tokio::runtime::Runtime,
    cancel: Cancel,
    /// Longest a start-up or a request may take.
    pub timeout: Duration,
    /// The session an `agentic` objective replays.
    agentic: Option<crate::agentic::session::Session>,
    /// Loopback RPC workers started for the campaign; dropped (stopped)
    /// with the evaluator, after every trial's server.
    workers: Vec<rpc::Worker>,
    /// The split every trial runs on, when the campaign has a `[cluster]`.
    topology: Option<rpc::Topology>,
}

impl ServerEvaluator {
    /// Find the binary (`--server-bin`, the spec's `server`, the backend's
    /// environment variable, `PATH`, the cache) and prepare a runtime.
    pub fn new(
        c: &Campaign,
        bin: Option<&Path>,
        cancel: Cancel,
    ) -> Result<ServerEvaluator, TuneError> {
        let backend = c.backend.get();
        let found = backend.locate(bin.map(Path::to_path_buf))?;
        // A current-thread runtime on the calling (main) thread: the server is
        // spawned from the thread that lives as long as rooftune (PDEATHSIG).
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(TuneError::Runtime)?;
        Ok(ServerEvaluator {
            build: backend.version(&found.path),
            backend,
            bin: found.path,
            model: c.model.clone(),
            fixed: c.fixed.clone(),
            rt,
            cancel,
            timeout: Duration::from_secs(300),
            agentic: match &c.agentic {
                Some(a) => Some(
                    crate::agentic::session::Session::read(&a.session)
                        .map_err(|e| TuneError::Agentic(e.to_string()))?,
                ),
                None => None,
            },
            workers: Vec::new(),
            topology: None,
        })
    }

    /// Start the `[cluster]`'s loopback workers (once per campaign: they
    /// serve every trial), ask the head which devices it sees, and pass
    /// `--rpc` to every trial's server. Returns the `--rpc` arguments
    /// (for the pasted command line) and the free bytes each worker
    /// reports. The workers stop when the evaluator is dropped.
    pub fn start_cluster(
        &mut self,
        c: &ClusterSpec,
        campaign: &str,
    ) -> Result<(Vec<String>, Vec<Option<f64>>), TuneError> {
        let opts = StartOptions {
            env: vec![("ROOFTUNE_CAMPAIGN".into(), campaign.into())],
            ..StartOptions::default()
        };
        if c.workers > 0 {
            let bin = rpc::locate_worker(&self.bin)?;
            let spec = rpc::WorkerSpec {
                threads: c.threads,
                device: None,
            };
            self.workers = self
                .rt
                .block_on(rpc::start_local(&bin, c.workers, &spec, &opts))?;
        }
        let (list, joined) = rpc::worker_list(&c.rpc, &self.workers);
        let devices = rpc::list_devices(&self.bin, &joined);
        let free = list
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let tag = format!("RPC{i}:");
                devices
                    .iter()
                    .find(|d| d.starts_with(&tag))
                    .and_then(|d| rpc::device_free_bytes(d))
            })
            .collect();
        self.topology = Some(rpc::Topology {
            workers: list,
            devices,
            link: c.link.clone(),
            graph_splits: None,
        });
        let args = vec!["--rpc".to_string(), joined];
        self.fixed.extend(args.iter().cloned());
        Ok((args, free))
    }
}

/// How a trial whose start-up failed ended, and why.
fn start_failure(e: &ServerError) -> (Status, String) {
    (e.trial_status(), e.to_string())
}

/// How a trial whose measuring request failed ended, and why.
fn request_failure(e: &ClientError) -> (Status, String) {
    (e.trial_status(), format!("request failed: {e}"))
}

/// The quality probe through the backend: greedy completions with top-k
/// log-probabilities, or None when the backend cannot give them (no
/// request, or an answer for some prompt without any).
async fn quality(
    s: &Session,
    client: &crate::server::Client,
    q: &QualityProbe,
    timeout: Duration,
) -> Option<QualitySample> {
    let http = reqwest::Client::builder().timeout(timeout).build().ok()?;
    let mut out = Vec::new();
    for prompt in &q.prompts {
        let mut req = s.backend.quality_request(prompt, q.n_predict, q.n_probs)?;
        if let Some(body) = req.body.as_object_mut() {
            for (k, v) in client.per_request() {
                body.insert(k.clone(), v.clone());
            }
        }
        let v: serde_json::Value = http
            .post(format!("{}{}", s.server.root_url, req.path))
            .json(&req.body)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        out.push(s.backend.parse_quality(&v));
    }
    // Answers without log-probabilities are "not available", never an
    // empty sample that compares as nothing.
    (!out.iter().any(Vec::is_empty)).then_some(out)
}

impl ServerEvaluator {
    async fn measure_all(
        &self,
        session: &Session,
        client: &crate::server::Client,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
        out: &mut TrialOutcome,
    ) -> Result<(), (Status, String)> {
        let mut target = Target::for_session(session);
        target.client = client.clone();
        let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let stats = |s: &BTreeMap<String, Vec<f64>>| -> Measurements {
            s.iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), Stat::of(v)))
                .collect()
        };
        measure_pass(&target, &req.probes, req.screen_repeats, &mut samples).await?;
        let mut replays = 0;
        self.agentic_pass(
            session,
            client,
            &req.probes,
            req.screen_repeats,
            &mut replays,
            &mut samples,
        )
        .await?;
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
            self.agentic_pass(
                session,
                client,
                &req.probes,
                req.full_repeats - req.screen_repeats,
                &mut replays,
                &mut samples,
            )
            .await?;
            out.measurements = stats(&samples);
            out.full = true;
        }
        if let Some(q) = &req.quality {
            out.quality = quality(session, client, q, self.timeout).await;
        }
        Ok(())
    }

    /// Replay the agentic objective's session `repeats` times, prompt cache
    /// on, one sample per replay for each agentic probe. Each replay is
    /// salted (`replay N` first in every system prompt), so no replay starts
    /// from the cache an earlier one left.
    async fn agentic_pass(
        &self,
        session: &Session,
        client: &crate::server::Client,
        probes: &[Probe],
        repeats: u32,
        replays: &mut u32,
        samples: &mut BTreeMap<String, Vec<f64>>,
    ) -> Result<(), (Status, String)> {
        use crate::agentic::replay;
        let stats: Vec<_> = probes
            .iter()
            .filter_map(|p| match p {
                Probe::Agentic { stat } => Some((p.key(), *stat)),
                _ => None,
            })
            .collect();
        let Some(s) = self.agentic.as_ref().filter(|_| !stats.is_empty()) else {
            return Ok(());
        };
        let opts = replay::Options {
            reuse: true,
            keep_gaps: false,
            model: None,
            llama: self.backend.name() == "llama-server",
            default_output_tokens: 64,
        };
        let facts = &session.server.facts;
        let side = replay::ServerSide {
            log_path: Some(session.server.log_path.clone()),
            n_slots: facts.n_slots,
            n_ctx_slot: facts.n_ctx_slot,
        };
        for _ in 0..repeats {
            *replays += 1;
            let salted = replay::salted(s, &format!("replay {}", *replays));
            let run = replay::run(client, &salted, &opts, &side, &mut |_| {})
                .await
                .map_err(|e| request_failure(&e.source))?;
            for (key, stat) in &stats {
                if let Some(v) = replay::figure(&run, *stat) {
                    samples.entry(key.clone()).or_default().push(v);
                }
            }
        }
        Ok(())
    }

    /// Start one server for `reqs` (configurations with the same server
    /// part) and measure each in turn, its per-request settings on every
    /// request; the first takes `promote` (screening), the rest their full
    /// repeats. The start-up is charged to the first; the others are
    /// marked `shared_start`. A failure fails the trials not yet measured.
    async fn trials(
        &self,
        reqs: &[TrialRequest],
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> Vec<TrialOutcome> {
        let Some(first) = reqs.first() else {
            return Vec::new();
        };
        let table = self.backend.flags();
        let mut outs: Vec<TrialOutcome> = Vec::new();
        let opts = StartOptions {
            ready_timeout: self.timeout,
            env: vec![
                ("ROOFTUNE_CAMPAIGN".into(), first.campaign.clone()),
                ("ROOFTUNE_TRIAL".into(), first.trial_id.to_string()),
            ],
            ..StartOptions::default()
        };
        let t0 = Instant::now();
        let mut args = first.config.server_part(table).args();
        args.extend(self.fixed.iter().cloned());
        let started = server::start_for_measurement(
            self.backend,
            &self.bin,
            self.build.clone(),
            &self.model,
            &args,
            &opts,
            self.timeout,
        )
        .await;
        let mut session = match started {
            Ok(s) => s,
            Err(e) => {
                let (st, why) = start_failure(&e);
                for (k, _) in reqs.iter().enumerate() {
                    outs.push(TrialOutcome {
                        status: Some(st),
                        reason: Some(why.clone()),
                        startup_s: if k == 0 {
                            t0.elapsed().as_secs_f64()
                        } else {
                            0.0
                        },
                        shared_start: k > 0,
                        ..TrialOutcome::default()
                    });
                }
                return outs;
            }
        };
        let facts = &session.server.facts;
        let slots = match (facts.n_slots, facts.n_ctx_slot) {
            (Some(n_slots), Some(n_ctx_slot)) => Some(SlotInfo {
                n_slots,
                n_ctx_slot,
                kv_unified: facts.kv_unified.unwrap_or(false),
            }),
            _ => None,
        };
        let mut failed: Option<(Status, String)> = None;
        let mut all = |_: &Measurements| true;
        for (k, req) in reqs.iter().enumerate() {
            let mut out = TrialOutcome {
                startup_s: if k == 0 { session.server.load_s } else { 0.0 },
                shared_start: k > 0,
                slots,
                ..TrialOutcome::default()
            };
            if let Some((st, why)) = &failed {
                out.status = Some(*st);
                out.reason = Some(why.clone());
                outs.push(out);
                continue;
            }
            let client = session
                .client
                .with_per_request(req.config.per_request_fields(table));
            let t1 = Instant::now();
            let p: &mut dyn FnMut(&Measurements) -> bool = if k == 0 { promote } else { &mut all };
            let r = self.measure_all(&session, &client, req, p, &mut out).await;
            out.measure_s = t1.elapsed().as_secs_f64();
            match r {
                Ok(()) => out.status = Some(Status::Ok),
                Err((st, why)) => {
                    let crash = session
                        .server
                        .crash(Phase::Request, Duration::from_secs(2))
                        .await;
                    let (st, why) = match crash {
                        Some(e) => start_failure(&e),
                        None => (st, why),
                    };
                    out.status = Some(st);
                    out.reason = Some(why.clone());
                    failed = Some((st, why));
                }
            }
            outs.push(out);
        }
        session.stop().await;
        outs
    }

    /// Run `reqs` on one start, or every one interrupted on Ctrl-C/SIGTERM.
    fn run_group(
        &mut self,
        reqs: &[TrialRequest],
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> Vec<TrialOutcome> {
        let cancel = self.cancel.clone();
        let fut = async {
            tokio::select! {
                o = self.trials(reqs, promote) => o,
                // Dropping the trial future drops the session, whose guard
                // stops the server's process group.
                signal = cancel.cancelled() => reqs.iter().map(|_| TrialOutcome {
                    status: Some(Status::Interrupted),
                    reason: Some(format!(
                        "{} during the trial; the server was stopped",
                        Cancel::describe(signal)
                    )),
                    ..TrialOutcome::default()
                }).collect(),
            }
        };
        self.rt.block_on(fut)
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
            .map_err(|e| request_failure(&e))?;
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
            backend: self.backend.kind().as_str().into(),
            binary: self.bin.display().to_string(),
            build: self.build.clone(),
        }
    }

    fn help_text(&mut self) -> Option<String> {
        self.backend.help_text(&self.bin)
    }

    fn topology(&self) -> Option<rpc::Topology> {
        self.topology.clone()
    }

    fn evaluate(
        &mut self,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> TrialOutcome {
        self.run_group(std::slice::from_ref(req), promote)
            .pop()
            .unwrap_or_default()
    }

    fn evaluate_group(&mut self, reqs: &[TrialRequest]) -> Vec<TrialOutcome> {
        self.run_group(reqs, &mut |_| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_is_a_timeout_and_an_oom_an_oom() {
        use crate::server::{ClientError, ExitInfo, Phase, ServerError};
        let timeout = ClientError::Timeout {
            url: "http://127.0.0.1:1/completion".into(),
            what: "first token",
            after_s: 1.0,
        };
        assert_eq!(request_failure(&timeout).0, Status::Timeout);
        let crash = |signal, alloc_failed| ServerError::Crashed {
            name: "llama-server".into(),
            phase: Phase::Load,
            exit: ExitInfo {
                code: None,
                signal: Some(signal),
            },
            diagnosis: String::new(),
            log: "l".into(),
            tail: String::new(),
            alloc_failed,
        };
        assert_eq!(crash(libc::SIGKILL, false).trial_status(), Status::Oom);
        assert_eq!(crash(libc::SIGABRT, true).trial_status(), Status::Oom);
        assert_eq!(crash(libc::SIGSEGV, false).trial_status(), Status::Crashed);
    }

    #[test]
    fn completion_probabilities_parse() {
        let v = serde_json::json!({"completion_probabilities": [
            {"id": 5, "logprob": -0.1, "token": "a", "bytes": [97],
             "top_logprobs": [{"id": 5, "logprob": -0.1, "token": "a"}, {"id": 9, "logprob": -2.5, "token": "b"}]}
        ]});
        let s = crate::server::llama::parse_probs(&v);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].id, 5);
        assert_eq!(s[0].top, vec![(5, -0.1), (9, -2.5)]);
    }
}
