//! `rooftune bench`: start (or reach) a server, measure it, compare with the
//! roofline, stop it. The only place that knows about Ctrl-C, progress bars
//! and printing; the work itself is in `server` and `bench`.

use super::build;
use crate::bench::measure::{self, Event, Plan, Target};
use crate::bench::result::{BenchReport, Ceilings, TargetInfo, TimedEvent, FORMAT};
use crate::cli::{BenchArgs, MachineArgs};
use crate::exit::ExitCode;
use crate::gguf::GgufModel;
use crate::report;
use crate::roofline::decode::{self, EtaBand};
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::Machine;
use crate::roofline::placement::{self, Placement};
use crate::roofline::prefill;
use crate::roofline::shape::ModelShape;
use crate::server::client::{Client, Dialect};
use crate::server::llama::LlamaServer;
use crate::server::locate::{self, Inputs};
use crate::server::{Backend, Phase, RunningServer, ServerError, StartOptions};
use crate::units::{self, UnitError};
use anyhow::{bail, Context, Result};
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

/// Validated inputs.
struct Config {
    plan: Plan,
    timeout: Duration,
    json: bool,
}

fn plan(a: &BenchArgs) -> Result<Config> {
    let depths = a
        .depths
        .iter()
        .map(|d| units::parse_tokens(d))
        .collect::<Result<Vec<_>, _>>()
        .context("--depths")?;
    let prompt_tokens = units::parse_tokens(&a.prompt_tokens).context("--prompt-tokens")?;
    let at_least_1 = |what: &str, v: u64| -> Result<()> {
        if v == 0 {
            bail!(UnitError::OutOfRange {
                what: what.into(),
                rule: "at least 1".into(),
                value: 0.0
            });
        }
        Ok(())
    };
    at_least_1("--prompt-tokens", prompt_tokens)?;
    at_least_1(
        "--n-predict (needs 2 to time decode)",
        a.n_predict.saturating_sub(1),
    )?;
    at_least_1("--repeats", a.repeats as u64)?;
    at_least_1("--concurrency", a.concurrency as u64)?;
    units::positive("--timeout (seconds)", a.timeout, 1e6)?;
    Ok(Config {
        plan: Plan {
            prompt_tokens,
            depths,
            n_predict: a.n_predict,
            repeats: a.repeats,
            concurrency: a.concurrency,
        },
        timeout: Duration::from_secs_f64(a.timeout),
        json: a.json,
    })
}

/// `rooftune bench`
pub fn bench(a: &BenchArgs) -> Result<ExitCode> {
    let cfg = plan(a)?;
    let machine = machine(a)?;
    // A current-thread runtime on the main thread: the server is spawned from
    // this thread, which lives as long as rooftune (PR_SET_PDEATHSIG is per thread).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = rt.block_on(async {
        tokio::select! {
            r = run(a, &cfg, machine) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    match outcome {
        None => {
            eprintln!("interrupted: the server was stopped");
            Ok(ExitCode::INTERRUPTED)
        }
        Some(r) => {
            let r = r?;
            if let Some(dir) = &a.log {
                super::tune_cmds::log_bench(dir, &r, &a.extra)?;
            }
            if cfg.json {
                print!("{}", report::json(&r));
            } else {
                print!("{}", report::bench::markdown(&r));
            }
            Ok(ExitCode::OK)
        }
    }
}

/// The machine for ceilings: `--hw`, else the probed one.
fn machine(a: &BenchArgs) -> Result<Option<(Machine, String)>> {
    match &a.hw {
        Some(hw) => {
            let cat = build::catalog()?;
            let (m, _) = build::machine(
                &cat,
                &MachineArgs {
                    hw: hw.clone(),
                    host: a.host.clone(),
                    bandwidth: a.bandwidth.clone(),
                    memory: None,
                    eta: None,
                    overhead_ms: None,
                    tensor_split: None,
                },
            )?;
            Ok(Some((m, "--hw".into())))
        }
        None => Ok(probed_machine()),
    }
}

/// Without `--hw`: a quick `hw probe` of this machine (a few seconds), so the
/// ceilings use measured bandwidth. A probe that fails leaves the report
/// without ceilings rather than stopping the benchmark.
fn probed_machine() -> Option<(Machine, String)> {
    match crate::probe::probe_profile(true) {
        Ok(p) => {
            let d = p.device("probe".into());
            let m = if p.memory_kind == crate::catalog::hardware::MemoryKind::Host {
                Machine::cpu_only(d)
            } else {
                Machine::single(d)
            };
            Some((m, "hw probe (quick)".into()))
        }
        Err(e) => {
            eprintln!("warning: hw probe failed ({e}); pass --hw PROFILE for ceilings");
            None
        }
    }
}

/// Check a model file before starting anything: it exists and is a GGUF.
fn check_model(path: &Path) -> Result<GgufModel> {
    if !path.is_file() {
        bail!(ServerError::BadModel {
            path: path.into(),
            problem: if path.exists() {
                "is not a file"
            } else {
                "does not exist"
            }
            .into(),
            hint: "pass a .gguf file; `rooftune synth` writes small test models".into(),
        });
    }
    let mut magic = [0u8; 4];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok();
    if !ok || &magic != b"GGUF" {
        bail!(ServerError::BadModel {
            path: path.into(),
            problem: "is not a GGUF file (it does not start with `GGUF`)".into(),
            hint: "llama-server needs a .gguf model; convert it with llama.cpp's convert_hf_to_gguf.py".into(),
        });
    }
    Ok(GgufModel::open(path)?)
}

/// The model's shape for the ceilings: the GGUF reader's exact per-tensor
/// bytes, the same function `predict --model X.gguf` uses. A file whose
/// metadata the reader cannot turn into a shape is still benchmarked, without
/// ceilings.
fn model_shape(m: &GgufModel) -> Option<ModelShape> {
    crate::gguf::shape::model_shape(m).ok()
}

/// Ceilings at the plan's depths.
pub fn ceilings(shape: &ModelShape, machine: &Machine, source: &str, depths: &[u64]) -> Ceilings {
    let a = placement::assign(shape, machine, Placement::ALL);
    let kv = KvOptions::default();
    Ceilings {
        hardware: machine.label(),
        source: source.into(),
        decode_tok_s: depths
            .iter()
            .map(|&d| {
                let p = decode::at_depth(shape, machine, &a, d, kv, EtaBand::default());
                (d, p.ceiling_tok_s)
            })
            .collect(),
        prefill_tok_s: prefill::at_depth(shape, machine, 0, kv.ubatch).ceiling_tok_s,
        bytes_per_token: shape.active_weights().bytes,
    }
}

struct Events {
    t0: Instant,
    list: Vec<TimedEvent>,
    bar: indicatif::ProgressBar,
}

impl Events {
    fn new(json: bool) -> Events {
        let hidden =
            json || !std::io::stderr().is_terminal() || std::env::var_os("NO_COLOR").is_some();
        let bar = if hidden {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new_spinner()
        };
        Events {
            t0: Instant::now(),
            list: Vec::new(),
            bar,
        }
    }
    fn push(&mut self, event: &str, detail: String) {
        self.bar.set_message(format!("{event} {detail}"));
        self.bar.tick();
        self.list.push(TimedEvent {
            t_s: self.t0.elapsed().as_secs_f64(),
            event: event.into(),
            detail,
        });
    }
    fn measured(&mut self, e: &Event) {
        match e {
            Event::WarmUp => self.push("warm_up", String::new()),
            Event::Prefill { rep } => {
                self.bar.inc(1);
                self.push("prefill", format!("rep {rep}"))
            }
            Event::Decode { depth, rep } => {
                self.bar.inc(1);
                self.push("decode", format!("depth {depth} rep {rep}"))
            }
        }
    }
}

async fn run(
    a: &BenchArgs,
    cfg: &Config,
    machine: Option<(Machine, String)>,
) -> Result<BenchReport> {
    let mut notes = Vec::new();
    let mut ev = Events::new(cfg.json);
    let (target_info, measurement, shape) = match (&a.url, &a.model) {
        (Some(url), _) => {
            let (info, m) = run_url(a, url, cfg, &mut ev).await?;
            (info, m, None)
        }
        (None, Some(model)) => {
            let gguf = check_model(model)?;
            let shape = model_shape(&gguf);
            notes.extend(crate::gguf::chat_template::missing_warning(&gguf, &a.extra));
            let (info, m) = run_local(a, model, cfg, &mut ev).await?;
            (info, m, shape)
        }
        (None, None) => bail!("give --model FILE.gguf or --url http://HOST:PORT/v1"),
    };
    ev.bar.finish_and_clear();
    let depths: Vec<u64> = measurement.decode.iter().map(|d| d.depth).collect();
    let ceilings = match (&shape, &machine) {
        (Some(s), Some((m, src))) => Some(ceilings(s, m, src, &depths)),
        (_, None) => {
            notes.push(
                "no hardware profile: pass --hw PROFILE to see % of the roofline ceilings".into(),
            );
            None
        }
        (None, Some(_)) => {
            notes.push(
                "the model's shape is unknown (URL runs): % of ceiling needs --model FILE.gguf"
                    .into(),
            );
            None
        }
    };
    Ok(BenchReport {
        format: FORMAT,
        target: target_info,
        plan: cfg.plan.clone(),
        measurement,
        ceilings,
        events: ev.list,
        notes,
    })
}

async fn run_local(
    a: &BenchArgs,
    model: &Path,
    cfg: &Config,
    ev: &mut Events,
) -> Result<(TargetInfo, measure::Measurement)> {
    let backend = LlamaServer;
    let found = locate::locate(
        backend.binary_name(),
        backend.env_var(),
        &Inputs::from_env(a.server_bin.clone(), backend.env_var()),
    )?;
    let version = locate::version(&found.path);
    let opts = StartOptions {
        ready_timeout: cfg.timeout,
        preferred_port: a.port,
        env: vec![(
            "ROOFTUNE_RUN".into(),
            format!("bench-{}", std::process::id()),
        )],
        ..StartOptions::default()
    };
    ev.push("server_start", found.path.display().to_string());
    let mut server = RunningServer::start(&backend, &found.path, model, &a.extra, &opts).await?;
    ev.push("server_healthy", format!("after {:.2} s", server.load_s));
    ev.bar.set_length(Event::total_steps(&cfg.plan));
    let client = Client::new(
        &server.root_url,
        &format!("{}/v1", server.root_url),
        None,
        cfg.timeout,
    )?;
    let target = Target {
        client,
        dialect: backend.dialect(),
        model: None,
        ctx_limit: server.facts.n_ctx_slot,
    };
    let result = measure::run(&target, &cfg.plan, &mut |e| ev.measured(e)).await;
    let mut m = match result {
        Ok(m) => m,
        Err(e) => {
            if let Some(crash) = server.crash(Phase::Request, Duration::from_secs(2)).await {
                return Err(crash.into());
            }
            ev.push("server_stop", "after an error".into());
            server.stop().await;
            return Err(anyhow::Error::new(e).context("measuring failed; the server was stopped"));
        }
    };
    if let Some(n) = server
        .facts
        .n_slots
        .filter(|&n| (n as u32) < cfg.plan.concurrency)
    {
        m.notes.push(format!(
            "--concurrency {} exceeds the server's {n} slots: extra streams queued (pass `-- -np N`)",
            cfg.plan.concurrency
        ));
    }
    m.notes.extend(server.notes.iter().cloned());
    let facts = backend.scan_log(&server.log_text());
    ev.push("server_stop", String::new());
    let info = TargetInfo {
        kind: "local",
        backend: backend.name().into(),
        model: model.display().to_string(),
        binary: Some(found.path.display().to_string()),
        binary_origin: Some(format!("{:?}", found.origin).to_lowercase()),
        version: Some(version),
        command_line: Some(server.command_line.clone()),
        log: Some(server.log_path.display().to_string()),
        load_s: Some(server.load_s),
        facts: Some(facts),
        url: None,
    };
    server.stop().await;
    Ok((info, m))
}

async fn run_url(
    a: &BenchArgs,
    url: &str,
    cfg: &Config,
    ev: &mut Events,
) -> Result<(TargetInfo, measure::Measurement)> {
    let key = match &a.api_key_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            anyhow::anyhow!(
                "--api-key-env {var}: the environment variable `{var}` is not set\n  (hint: export {var}=... first; rooftune never prints the key)"
            )
        })?),
        None => None,
    };
    let client = Client::for_api_base(url, key, cfg.timeout)?;
    ev.bar.set_length(Event::total_steps(&cfg.plan));
    let model_name = a.model_name.clone();
    let target = Target {
        client,
        dialect: Dialect::OpenAiChat,
        model: model_name.clone(),
        ctx_limit: None,
    };
    let m = measure::run(&target, &cfg.plan, &mut |e| ev.measured(e))
        .await
        .with_context(|| format!("measuring {url}"))?;
    Ok((
        TargetInfo {
            kind: "url",
            backend: "openai-compatible".into(),
            model: model_name.unwrap_or_else(|| "(server default)".into()),
            binary: None,
            binary_origin: None,
            version: None,
            command_line: None,
            log: None,
            load_s: None,
            facts: None,
            url: Some(url.into()),
        },
        m,
    ))
}
