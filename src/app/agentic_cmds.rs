//! `rooftune session synth` and `rooftune replay`: the edge of the agentic
//! module (files, the server's lifetime, Ctrl-C, the machine for predicted
//! TTFT, and whether prompt text may appear in the output).

use super::build;
use crate::agentic::import::{self, Agent, ImportOptions};
use crate::agentic::replay::{self, Options, ReplayReport, RunReport, ServerSide};
use crate::agentic::session::Session;
use crate::agentic::synth::{self, SynthSpec};
use crate::cli::{
    MachineArgs, ReplayArgs, ReuseArg, SessionCommand, SessionImportArgs, SessionSynthArgs,
};
use crate::exit::ExitCode;
use crate::gguf::GgufModel;
use crate::roofline::decode::EtaBand;
use crate::roofline::machine::Machine;
use crate::server::client::Client;
use crate::server::{self, BackendKind, StartOptions};
use crate::shape::ModelShape;
use anyhow::{Context, Result};
use std::time::Duration;

/// `rooftune session ...`
pub fn session(c: SessionCommand) -> Result<ExitCode> {
    match c {
        SessionCommand::Synth(a) => session_synth(&a),
        SessionCommand::Import(a) => session_import(&a),
    }
}

fn session_import(a: &SessionImportArgs) -> Result<ExitCode> {
    let (client, path) = match (&a.codex, &a.claude_code) {
        (Some(p), _) => (Agent::Codex, p),
        (None, Some(p)) => (Agent::ClaudeCode, p),
        (None, None) => anyhow::bail!("give --codex FILE or --claude-code FILE"),
    };
    let opts = ImportOptions {
        chars_per_token: a.chars_per_token,
        system_tokens: a.system_tokens,
        name: a.name.clone(),
    };
    let im = import::import(client, path, &opts)?;
    std::fs::write(&a.output, im.session.to_jsonl()).with_context(|| {
        format!(
            "-o {}: cannot write the session\n  (hint: check that the folder exists and is writable)",
            a.output.display()
        )
    })?;
    let mut convs: Vec<&str> = im
        .session
        .requests
        .iter()
        .map(|r| r.conversation.as_str())
        .collect();
    convs.sort_unstable();
    convs.dedup();
    // counts and sizes only: the log's text stays in the file the user owns
    eprintln!(
        "wrote {}: {} requests in {} conversation(s) from a {} log",
        a.output.display(),
        im.session.requests.len(),
        convs.len(),
        client.name()
    );
    for l in &im.filled {
        eprintln!("  {l}");
    }
    Ok(ExitCode::OK)
}

fn session_synth(a: &SessionSynthArgs) -> Result<ExitCode> {
    let mut breakers = a.breakers.clone();
    breakers.sort();
    breakers.dedup();
    let spec = SynthSpec {
        turns: a.turns,
        max_depth_tokens: a.max_depth,
        conversations: a.conversations,
        seed: a.seed,
        prefix_tokens: a.prefix,
        output_tokens: a.output_tokens,
        chars_per_token: a.chars_per_token,
        breakers,
    };
    let s = synth::generate(&spec)?;
    let text = s.to_jsonl();
    std::fs::write(&a.output, &text).with_context(|| {
        format!(
            "-o {}: cannot write the session\n  (hint: check that the folder exists and is writable)",
            a.output.display()
        )
    })?;
    let deepest = s.requests.iter().map(|r| r.text_chars()).max().unwrap_or(0);
    eprintln!(
        "wrote {}: {} requests, {} conversation(s), deepest request ~{} tokens at {} chars/token",
        a.output.display(),
        s.requests.len(),
        a.conversations.max(1),
        (deepest as f64 / a.chars_per_token) as u64,
        a.chars_per_token
    );
    Ok(ExitCode::OK)
}

/// The machine for predicted TTFT: `--hw` (with its family's band), else a
/// quick probe.
fn machine(a: &ReplayArgs) -> Result<Option<(Machine, EtaBand, String)>> {
    if a.no_predict {
        return Ok(None);
    }
    if let Some(hw) = &a.hw {
        let cat = build::catalog()?;
        let (m, band) = build::machine(
            &cat,
            &MachineArgs {
                hw: Some(hw.clone()),
                host: None,
                bandwidth: None,
                memory: None,
                eta: None,
                overhead_ms: None,
                tensor_split: None,
            },
        )?;
        return Ok(Some((m, band, format!("--hw {hw}"))));
    }
    match crate::probe::probe_profile(true) {
        Ok(p) => Ok(Some((
            crate::compare::machine::single(&p, "probe".into()),
            EtaBand::default(),
            "hw probe (quick; its FLOP/s is a naive matmul, not a roof)".into(),
        ))),
        Err(e) => {
            eprintln!("warning: hw probe failed ({e}); pass --hw PROFILE for predicted TTFT");
            Ok(None)
        }
    }
}

/// Fill in each request's predicted TTFT: prefill of its new tokens at the
/// roofline's ceiling plus one decode step; and an estimate for the same
/// cached/new split: the calibrated one with a calibrated profile, else the
/// profile family's prefill factors fitted on published rows (where they
/// predict those rows better than half the ceiling: `compare::prefill`).
fn predict(run: &mut replay::Run, shape: &ModelShape, m: &Machine, band: EtaBand) {
    use crate::roofline::{decode, estimate, placement, prefill};
    let opts = crate::roofline::kv::KvOptions::default();
    let a = placement::assign(shape, m, placement::Placement::ALL);
    let finite = |t: f64| t.is_finite().then_some(t);
    // One decode step at depth `n`, seconds (0 when the rate is unbounded).
    let step = |tok_s: f64| {
        if tok_s > 0.0 && tok_s.is_finite() {
            1.0 / tok_s
        } else {
            0.0
        }
    };
    for q in &mut run.requests {
        let Some(n) = q.prompt_tokens else { continue };
        let cached = q.reused_tokens.unwrap_or(0);
        let last = decode::at_depth(shape, m, &a, n, opts, band);
        let bound = prefill::ttft_s(
            shape,
            m,
            n,
            cached,
            opts.ubatch,
            1.0,
            None,
            step(last.ceiling_tok_s),
        );
        q.predicted_ttft_s = finite(bound);
        q.estimated_ttft_s = estimate::ttft_s(shape, m, n, cached, opts)
            .and_then(finite)
            .or_else(|| {
                let f = band.prefill?;
                let s = step(last.estimate_tok_s);
                finite(prefill::ttft_s(
                    shape,
                    m,
                    n,
                    cached,
                    opts.ubatch,
                    1.0,
                    Some(f),
                    s,
                ))
            });
    }
}

/// `rooftune replay`
pub fn replay(a: &ReplayArgs) -> Result<ExitCode> {
    let sink = super::output::Sink::open(&a.out)?;
    let session = Session::read(&a.session)?;
    if a.log.is_some() && a.model.len() != 1 {
        anyhow::bail!(crate::units::UnitError::OutOfRange {
            what: "--log with --model".into(),
            rule: "exactly one --model (the log records one model)".into(),
            value: a.model.len() as f64,
        });
    }
    crate::units::positive("--timeout (seconds)", a.timeout, 1e6)?;
    let mut shapes = Vec::new();
    for m in &a.model {
        a.backend.get().check_model(m)?;
        let s = if m.is_dir() {
            crate::mlx::shape::model_shape(m).ok()
        } else {
            crate::gguf::shape::model_shape(&GgufModel::open(m)?).ok()
        };
        shapes.push((m.display().to_string(), s));
    }
    let machine = if shapes.iter().any(|s| s.1.is_some()) {
        machine(a)?
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = rt.block_on(async {
        tokio::select! {
            r = run(a, &session) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    let Some(report) = outcome else {
        eprintln!("interrupted: the server was stopped");
        return Ok(ExitCode::INTERRUPTED);
    };
    let mut report = report?;
    if let Some((m, band, src)) = &machine {
        for r in &mut report.runs {
            let shape = shapes
                .iter()
                .find(|s| s.0 == r.target)
                .and_then(|s| s.1.as_ref());
            if let Some(shape) = shape {
                predict(&mut r.run, shape, m, *band);
            }
        }
        report.predictions_from = Some(src.clone());
    }
    // prompt text stays on the terminal unless asked for
    let terminal = sink.to_stdout() && !sink.is_json();
    if !(a.show_text || terminal) {
        report.strip_text();
    }
    sink.emit(&report, || crate::report::replay::document(&report))?;
    Ok(ExitCode::OK)
}

fn reuse_passes(r: ReuseArg) -> Vec<bool> {
    match r {
        ReuseArg::On => vec![true],
        ReuseArg::Off => vec![false],
        ReuseArg::Both => vec![true, false],
    }
}

fn progress(q: &replay::RequestResult) {
    eprintln!(
        "  #{:<3} {:<8} prompt {:>7} reused {:>7} ttft {}",
        q.index,
        q.conversation,
        q.prompt_tokens.map_or("-".into(), |n| n.to_string()),
        q.reused_tokens.map_or("-".into(), |n| n.to_string()),
        q.ttft_s.map_or("-".into(), |t| format!("{t:.2} s"))
    );
}

async fn run(a: &ReplayArgs, session: &Session) -> Result<ReplayReport> {
    let quiet = a.out.json || a.out.format == Some(crate::report::format::Format::Json);
    let mut on_request = |q: &replay::RequestResult| {
        if !quiet {
            progress(q)
        }
    };
    let conversations = {
        let mut c: Vec<&str> = session
            .requests
            .iter()
            .map(|r| r.conversation.as_str())
            .collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    let targets: Vec<String> = a
        .model
        .iter()
        .map(|m| m.display().to_string())
        .chain(a.url.iter().cloned())
        .collect();
    let mut report = ReplayReport {
        format: replay::REPORT_FORMAT,
        session: session.header.name.clone(),
        session_file: a.session.display().to_string(),
        requests: session.requests.len(),
        conversations,
        target: targets.join(", "),
        command_line: None,
        log: None,
        predictions_from: None,
        runs: Vec::new(),
        notes: Vec::new(),
    };
    for model in &a.model {
        if !quiet && targets.len() > 1 {
            eprintln!("{}:", model.display());
        }
        run_model(a, session, model, &mut report, &mut on_request).await?;
    }
    for url in &a.url {
        if !quiet && targets.len() > 1 {
            eprintln!("{url}:");
        }
        run_url(a, session, url, &mut report, &mut on_request).await?;
    }
    Ok(report)
}

fn options(a: &ReplayArgs, llama: bool) -> Options {
    Options {
        reuse: true,
        keep_gaps: a.keep_gaps,
        model: a.model_name.clone(),
        llama,
        default_output_tokens: 64,
    }
}

async fn run_url(
    a: &ReplayArgs,
    session: &Session,
    url: &str,
    report: &mut ReplayReport,
    on_request: &mut dyn FnMut(&replay::RequestResult),
) -> Result<()> {
    let timeout = Duration::from_secs_f64(a.timeout);
    let key = match &a.api_key_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            anyhow::anyhow!(
                "--api-key-env {var}: the environment variable `{var}` is not set\n  (hint: export {var}=... first; rooftune never prints the key)"
            )
        })?),
        None => None,
    };
    let client = Client::for_api_base(url, key, timeout)?;
    let mut opts = options(a, false);
    for reuse in reuse_passes(a.reuse) {
        opts.reuse = reuse;
        let run = replay::run(&client, session, &opts, &ServerSide::default(), on_request).await?;
        report.runs.push(RunReport::new(url, run));
    }
    Ok(())
}

/// `replay --log DIR`: the run as a hand-run trial (its TTFT per request).
fn log_run(
    dir: &std::path::Path,
    a: &ReplayArgs,
    model: &std::path::Path,
    run: &replay::Run,
    binary: &std::path::Path,
    s: &server::Session,
) -> Result<()> {
    let ttft: Vec<f64> = run.requests.iter().filter_map(|q| q.ttft_s).collect();
    let r = crate::campaign::manual::ReplayRun {
        reuse: run.reuse,
        ttft_s: &ttft,
        server: crate::trial::ServerInfo {
            backend: a.backend.as_str().into(),
            binary: binary.display().to_string(),
            build: s.version.clone(),
        },
        command: s.server.command_line.clone(),
        wall_s: run.wall_s,
        startup_s: s.server.load_s,
    };
    super::tune_cmds::log_hand_run(dir, model, |h, hw, m| {
        crate::campaign::manual::replay_line(h, &r, &a.extra, hw, m)
    })
}

async fn run_model(
    a: &ReplayArgs,
    session: &Session,
    model: &std::path::Path,
    report: &mut ReplayReport,
    on_request: &mut dyn FnMut(&replay::RequestResult),
) -> Result<()> {
    let timeout = Duration::from_secs_f64(a.timeout);
    let backend = a.backend.get();
    let mut extra = a.extra.clone();
    if let Some(off) = backend.reuse_off_flags() {
        match a.reuse {
            ReuseArg::On => {}
            ReuseArg::Off => extra.extend(off),
            ReuseArg::Both => anyhow::bail!(
                "--reuse both needs a server that turns prompt reuse off per request; {} turns it off only at start-up ({})\n  (hint: run --reuse on, then --reuse off)",
                backend.name(),
                off.join(" ")
            ),
        }
    }
    let found = backend.locate(a.server_bin.clone())?;
    let version = backend.version(&found.path);
    let start = StartOptions {
        ready_timeout: timeout,
        env: vec![(
            "ROOFTUNE_RUN".into(),
            format!("replay-{}", std::process::id()),
        )],
        ..StartOptions::default()
    };
    let mut session_srv = server::start_for_measurement(
        backend,
        &found.path,
        version,
        model,
        &extra,
        &start,
        timeout,
    )
    .await?;
    let srv = &session_srv.server;
    let target = model.display().to_string();
    if report.command_line.is_none() {
        report.command_line = Some(srv.command_line.clone());
        report.log = Some(srv.log_path.display().to_string());
    } else {
        report
            .notes
            .push(format!("server for {target}: {}", srv.command_line));
    }
    let side = ServerSide {
        log_path: Some(srv.log_path.clone()),
        n_slots: srv.facts.n_slots,
        n_ctx_slot: srv.facts.n_ctx_slot,
    };
    let mut opts = options(a, a.backend == BackendKind::Llama);
    for reuse in reuse_passes(a.reuse) {
        opts.reuse = reuse;
        let r = replay::run(&session_srv.client, session, &opts, &side, on_request).await;
        match r {
            Ok(run) => {
                if let Some(dir) = &a.log {
                    log_run(dir, a, model, &run, &found.path, &session_srv)?;
                }
                report.runs.push(RunReport::new(&target, run))
            }
            Err(e) => {
                if let Some(crash) = session_srv
                    .server
                    .crash(server::Phase::Request, Duration::from_secs(2))
                    .await
                {
                    return Err(crash.into());
                }
                session_srv.stop().await;
                return Err(anyhow::Error::new(e).context("replay failed; the server was stopped"));
            }
        }
    }
    report
        .notes
        .extend(session_srv.server.notes.iter().cloned());
    session_srv.stop().await;
    Ok(())
}
