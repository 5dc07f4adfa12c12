//! `rooftune bench`: start (or reach) a server, measure it, compare with the
//! roofline, stop it. The only place that knows about Ctrl-C, progress bars
//! and printing; the work itself is in `server` and `bench`.

use super::build;
use crate::bench::measure::{self, Event, Plan, Target};
use crate::bench::result::{BenchReport, TargetInfo, TimedEvent, FORMAT};
use crate::cli::{BenchArgs, MachineArgs};
use crate::exit::ExitCode;
use crate::gguf::GgufModel;
use crate::report;
use crate::roofline::machine::Machine;
use crate::server::client::{Client, Dialect};
use crate::server::{self, rpc, Backend, Phase, StartOptions};
use crate::shape::ModelShape;
use crate::units::{self, UnitError};
use anyhow::{bail, Context, Result};
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

/// Validated inputs.
struct Config {
    plan: Plan,
    timeout: Duration,
    /// Progress bars off (JSON, or not a terminal).
    quiet: bool,
}

fn plan(a: &BenchArgs) -> Result<Config> {
    let depths = a.depths.clone();
    let prompt_tokens = a.prompt_tokens;
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
    if a.n_predict < 2 {
        bail!(UnitError::OutOfRange {
            what: "--n-predict".into(),
            rule: "at least 2 (the first token is time to first token; decode is timed from the second)".into(),
            value: a.n_predict as f64
        });
    }
    at_least_1("--repeats", a.repeats as u64)?;
    at_least_1("--concurrency", a.concurrency as u64)?;
    units::positive("--timeout (seconds)", a.timeout, 1e6)?;
    rpc::parse_addresses(&a.rpc)?;
    Ok(Config {
        plan: Plan {
            prompt_tokens,
            depths,
            n_predict: a.n_predict,
            repeats: a.repeats,
            concurrency: a.concurrency,
        },
        timeout: Duration::from_secs_f64(a.timeout),
        quiet: a.out.json || a.out.format == Some(crate::report::format::Format::Json),
    })
}

/// `rooftune bench`
pub fn bench(a: &BenchArgs) -> Result<ExitCode> {
    let cfg = plan(a)?;
    let sink = super::output::Sink::open(&a.out)?;
    let machine = machine(a)?;
    let cancel = crate::cancel::Cancel::from_signals();
    // A current-thread runtime on the main thread: the server is spawned from
    // this thread, which lives as long as rooftune (PR_SET_PDEATHSIG is per thread).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let r = rt.block_on(async {
        tokio::select! {
            r = run(a, &cfg, machine) => r,
            // Dropping `run` drops its RunningServer, whose guard stops the group.
            signal = cancel.cancelled() => Err(crate::server::ServerError::Interrupted {
                signal,
                had_server: a.url.is_none(),
            }
            .into()),
        }
    })?;
    if let Some(dir) = &a.log {
        super::tune_cmds::log_bench(dir, &r, &a.extra)?;
    }
    sink.emit_text(&r, || report::bench::markdown(&r))?;
    Ok(ExitCode::OK)
}

/// The machine for ceilings: `--hw`, else the probed one.
fn machine(a: &BenchArgs) -> Result<Option<(Machine, String)>> {
    match &a.hw {
        Some(hw) => {
            let cat = build::catalog()?;
            let (m, _) = build::machine(
                &cat,
                &MachineArgs {
                    hw: Some(hw.clone()),
                    host: a.host.clone(),
                    bandwidth: a.bandwidth,
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
        Ok(p) => Some((
            crate::compare::machine::single(&p, "probe".into()),
            "hw probe (quick)".into(),
        )),
        Err(e) => {
            eprintln!("warning: hw probe failed ({e}); pass --hw PROFILE for ceilings");
            None
        }
    }
}

/// Check a model file before starting anything, reading its header once:
/// the backend takes it; the GGUF reader gives its shape for the ceilings (a
/// file whose metadata the reader cannot turn into a shape is still
/// benchmarked, without ceilings) and what in it deserves a warning (no chat
/// template for these server flags, a zero context or head count).
fn check_model(
    backend: &dyn Backend,
    path: &Path,
    server_args: &[String],
    notes: &mut Vec<String>,
) -> Result<Option<ModelShape>> {
    backend.check_model(path)?;
    if path.is_dir() {
        return Ok(crate::mlx::shape::model_shape(path).ok());
    }
    let gguf = GgufModel::open(path)?;
    notes.extend(crate::gguf::chat_template::missing_warning(
        &gguf,
        server_args,
    ));
    notes.extend(crate::gguf::shape::metadata_warnings(&gguf));
    Ok(crate::gguf::shape::model_shape(&gguf).ok())
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
    let mut ev = Events::new(cfg.quiet);
    let (target_info, measurement, shape) = match (&a.url, &a.model) {
        (Some(url), _) => {
            let (info, m) = run_url(a, url, cfg, &mut ev).await?;
            (info, m, None)
        }
        (None, Some(model)) => {
            let shape = check_model(a.backend.get(), model, &a.extra, &mut notes)?;
            let (info, m) = run_local(a, model, cfg, &mut ev).await?;
            (info, m, shape)
        }
        (None, None) => bail!("give --model FILE.gguf or --url http://HOST:PORT/v1"),
    };
    ev.bar.finish_and_clear();
    let depths: Vec<u64> = measurement.decode.iter().map(|d| d.depth).collect();
    let ceilings = match (&shape, &machine) {
        (Some(s), Some((m, src))) => Some(crate::compare::ceiling::for_bench(s, m, src, &depths)),
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
    let mut report = BenchReport {
        format: FORMAT,
        target: target_info,
        plan: cfg.plan.clone(),
        measurement,
        ceilings,
        events: ev.list,
        notes,
    };
    crate::compare::ceiling::annotate_bench(&mut report);
    Ok(report)
}

async fn run_local(
    a: &BenchArgs,
    model: &Path,
    cfg: &Config,
    ev: &mut Events,
) -> Result<(TargetInfo, measure::Measurement)> {
    let backend = a.backend.get();
    let found = backend.locate(a.server_bin.clone())?;
    let version = backend.version(&found.path);
    let opts = StartOptions {
        ready_timeout: cfg.timeout,
        preferred_port: a.port,
        env: vec![(
            "ROOFTUNE_RUN".into(),
            format!("bench-{}", std::process::id()),
        )],
        ..StartOptions::default()
    };
    // Workers first (declared before the session, so they stop after it).
    let (workers, flags, mut topology) = rpc_split(a, &found.path, &opts, ev).await?;
    ev.push("server_start", found.path.display().to_string());
    let mut session = server::start_for_measurement(
        backend,
        &found.path,
        version,
        model,
        &flags,
        &opts,
        cfg.timeout,
    )
    .await?;
    if let Some(t) = &mut topology {
        t.graph_splits = rpc::graph_splits(&session.server.log_text());
    }
    ev.push(
        "server_healthy",
        format!("after {:.2} s", session.server.load_s),
    );
    ev.bar.set_length(Event::total_steps(&cfg.plan));
    let target = Target::for_session(&session);
    let result = measure::run(&target, &cfg.plan, &mut |e| ev.measured(e)).await;
    let mut m = match result {
        Ok(m) => m,
        Err(e) => {
            if let Some(crash) = session
                .server
                .crash(Phase::Request, Duration::from_secs(2))
                .await
            {
                return Err(crash.into());
            }
            ev.push("server_stop", "after an error".into());
            session.stop().await;
            return Err(anyhow::Error::new(e).context("measuring failed; the server was stopped"));
        }
    };
    let server = &session.server;
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
        version: Some(session.version.clone()),
        command_line: Some(server.command_line.clone()),
        log: Some(server.log_path.display().to_string()),
        load_s: Some(server.load_s),
        facts: Some(facts),
        url: None,
        topology,
    };
    session.stop().await;
    if !workers.is_empty() {
        ev.push("workers_stop", format!("{}", workers.len()));
    }
    drop(workers);
    Ok((info, m))
}

/// Workers for a split: start `--rpc-workers` on loopback, add `--rpc`
/// addresses, and return the server flags with `--rpc` and the topology.
async fn rpc_split(
    a: &BenchArgs,
    llama_server: &Path,
    opts: &StartOptions,
    ev: &mut Events,
) -> Result<(Vec<rpc::Worker>, Vec<String>, Option<rpc::Topology>)> {
    let mut flags = a.extra.clone();
    let given = rpc::parse_addresses(&a.rpc)?;
    if given.is_empty() && a.rpc_workers == 0 {
        return Ok((Vec::new(), flags, None));
    }
    let workers = if a.rpc_workers > 0 {
        let bin = rpc::locate_worker(llama_server)?;
        ev.push(
            "workers_start",
            format!("{} x {}", a.rpc_workers, bin.display()),
        );
        let spec = rpc::WorkerSpec {
            threads: a.rpc_threads,
            device: None,
        };
        rpc::start_local(&bin, a.rpc_workers, &spec, opts).await?
    } else {
        Vec::new()
    };
    let (list, joined) = rpc::worker_list(&given, &workers);
    flags.extend(["--rpc".to_string(), joined.clone()]);
    let devices = rpc::list_devices(llama_server, &joined);
    ev.push("workers_ready", devices.join("; "));
    let topology = rpc::Topology {
        workers: list,
        devices,
        link: a.rpc_link.clone(),
        graph_splits: None,
    };
    Ok((workers, flags, Some(topology)))
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
        server_pid: None,
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
            topology: None,
        },
        m,
    ))
}
