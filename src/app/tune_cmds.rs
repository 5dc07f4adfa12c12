//! `rooftune tune` and `rooftune campaign list|show|compare`: the edge
//! where a spec file, the machine, the model file and the server binary
//! become a [`Setup`] for the campaign loop, and a log becomes a report.

use super::output::Sink;
use crate::campaign::history::{self, History};
use crate::campaign::log::{self, LOG_FILE};
use crate::campaign::record::{HardwareInfo, ModelInfo, TrialLine};
use crate::campaign::runner::{self, Ending, Setup};
use crate::campaign::summary;
use crate::cancel::Cancel;
use crate::cli::{CampaignCommand, MachineArgs, TuneArgs};
use crate::exit::ExitCode;
use crate::report;
use crate::roofline::machine::Machine;
use crate::shape::ModelShape;
use crate::tune::plan::{self, Feasibility};
use crate::tune::space::MachineFacts;
use crate::tune::spec::{self, Campaign, HardwareChoice};
use crate::tune::trial::{Evaluator, Probe};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What the campaign runs on, resolved from the spec.
struct Env {
    machine: Option<Machine>,
    facts: MachineFacts,
    hardware: HardwareInfo,
    shape: Option<ModelShape>,
}

fn environment(c: &Campaign) -> Result<Env> {
    let detected = crate::probe::detect::detect();
    let (machine, profile) = match &c.hardware {
        HardwareChoice::Profile(name) => {
            let cat = super::build::catalog()?;
            let args = MachineArgs {
                hw: Some(name.clone()),
                host: None,
                bandwidth: None,
                memory: None,
                eta: None,
                overhead_ms: None,
                tensor_split: None,
            };
            let (m, _) = super::build::machine(&cat, &args)
                .with_context(|| format!("hardware = \"{name}\" in {}", c.spec_path.display()))?;
            (Some(m), name.clone())
        }
        HardwareChoice::Probe => {
            let m = crate::probe::probe_profile(true)
                .ok()
                .map(|p| crate::compare::machine::single(&p, "probe".into()));
            (m, "probe".to_string())
        }
    };
    let shape = if crate::mlx::is_model_dir(&c.model) {
        Some(
            crate::mlx::shape::model_shape(&c.model)
                .with_context(|| format!("reading the model `{}`", c.model.display()))?,
        )
    } else if c.model.is_file() {
        let m = crate::gguf::GgufModel::open(&c.model)
            .with_context(|| format!("reading the model `{}`", c.model.display()))?;
        Some(crate::gguf::shape::model_shape(&m)?)
    } else {
        None
    };
    Ok(Env {
        facts: MachineFacts {
            physical_cores: detected.physical_cores as u32,
        },
        hardware: HardwareInfo {
            profile,
            cpu: detected.cpu_brand.clone(),
            physical_cores: detected.physical_cores as u32,
            memory_bytes: detected.total_memory_bytes,
        },
        machine,
        shape,
    })
}

fn feasibility(c: &Campaign, env: &Env) -> Feasibility {
    Feasibility {
        backend: c.backend,
        machine: env.facts,
        min_ctx: c.constraints.min_ctx,
        shape: env.shape.clone(),
        memory_bytes: env
            .machine
            .as_ref()
            .and_then(|m| m.primary())
            .map(|d| d.usable_bytes),
        headroom_bytes: c.constraints.headroom_bytes,
        split: c
            .cluster
            .as_ref()
            .map(crate::tune::cluster::SplitFit::from_spec),
    }
}

/// Roofline ceilings (tok/s) for the single-stream probes.
fn ceilings(probes: &[Probe], env: &Env) -> BTreeMap<String, f64> {
    let (Some(shape), Some(machine)) = (&env.shape, &env.machine) else {
        return BTreeMap::new();
    };
    crate::compare::ceiling::for_probes(shape, machine, probes)
}

/// A campaign's ceilings are fixed when it starts: a resumed campaign keeps
/// the ones its first trial logged (a machine re-probed under load would move
/// them and make trials of two sessions incomparable), unless `--reprobe`.
fn campaign_ceilings(
    a: &TuneArgs,
    c: &Campaign,
    env: &Env,
    log_path: &Path,
) -> Result<BTreeMap<String, f64>> {
    let fresh = ceilings(&c.objective.probes(), env);
    if !a.resume || a.reprobe {
        return Ok(fresh);
    }
    let h = History::from_lines(log::read_or_empty(log_path)?);
    match h.trials.iter().find(|t| !t.ceilings.is_empty()) {
        Some(first) => {
            if first.ceilings != fresh {
                eprintln!(
                    "note: keeping the ceilings this campaign started with (trial {}); pass --reprobe to measure the machine again",
                    first.id
                );
            }
            Ok(first.ceilings.clone())
        }
        None => Ok(fresh),
    }
}

fn model_info(path: &Path, hash: bool) -> Result<ModelInfo> {
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "model file `{}` (hint: generate one with `rooftune synth --size 92MB -o {}`)",
            path.display(),
            path.display()
        )
    })?;
    // An MLX directory: its files, sorted by name, hashed as one (name, then bytes).
    let files: Vec<PathBuf> = if meta.is_dir() {
        let mut f: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading the model directory `{}`", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        f.sort();
        f
    } else {
        vec![path.to_path_buf()]
    };
    let mut size = 0;
    let mut h = Sha256::new();
    for p in &files {
        size += std::fs::metadata(p)?.len();
        if !hash {
            continue;
        }
        if meta.is_dir() {
            h.update(p.file_name().map_or(&b""[..], |n| n.as_encoded_bytes()));
        }
        let mut f = std::fs::File::open(p)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    let sha256 = if hash {
        format!("{:x}", h.finalize())
    } else {
        String::new()
    };
    Ok(ModelInfo {
        path: path.display().to_string(),
        size_bytes: size,
        sha256,
    })
}

fn log_dir(a: &TuneArgs, c: &Campaign) -> PathBuf {
    a.out
        .clone()
        .unwrap_or_else(|| c.spec_path.parent().unwrap_or(Path::new(".")).join(&c.name))
}

/// Seconds per server start and per measurement, from the log when it has
/// trials, else from the model size and the roofline ceilings (at 50%).
fn time_estimate(c: &Campaign, env: &Env, h: &History) -> (f64, f64) {
    let measured: Vec<&TrialLine> = h.trials.iter().filter(|t| t.measured()).collect();
    if !measured.is_empty() {
        let n = measured.len() as f64;
        return (
            measured.iter().map(|t| t.startup_s).sum::<f64>() / n,
            measured.iter().map(|t| t.measure_s).sum::<f64>() / n,
        );
    }
    let size = std::fs::metadata(&c.model).map_or(0, |m| m.len()) as f64;
    let startup = 1.0 + size / 1e9;
    let ceil = ceilings(
        &[
            Probe::Decode {
                depth: 0,
                tokens: 1,
            },
            Probe::Prefill { tokens: 1 },
        ],
        env,
    );
    let dec = ceil.get("decode_tok_s@0").map_or(20.0, |v| v * 0.5);
    // Prompt processing batches the weight reads: assume at least 4x decode.
    let pre = ceil
        .get("prefill_tok_s@1")
        .map_or(dec * 4.0, |v| (v * 0.5).max(dec * 4.0));
    let per_repeat: f64 = c
        .objective
        .probes()
        .iter()
        .map(|p| match *p {
            Probe::Decode { depth, tokens } => depth as f64 / pre + tokens as f64 / dec,
            Probe::Prefill { tokens } => tokens as f64 / pre,
            Probe::Ttft { depth } => depth as f64 / pre,
            Probe::Aggregate { streams, tokens } => streams as f64 * tokens as f64 / dec,
            // a replay: its prompts at the prefill estimate (cache off: a bound)
            Probe::Agentic { .. } => c.agentic.as_ref().map_or(0.0, |a| a.prompt_tokens as f64 / pre),
        } + 0.2)
        .sum();
    let quality = c
        .quality
        .as_ref()
        .map_or(0.0, |q| q.prompts.len() as f64 * q.n_predict as f64 / dec);
    (startup, per_repeat * c.budget.repeats as f64 + quality)
}

fn apply_overrides(c: &mut Campaign, a: &TuneArgs) -> Result<()> {
    crate::tune::overrides::check(a.trials, a.minutes)?;
    if let Some(b) = a.backend {
        c.backend = b;
    }
    if a.trials.is_some() {
        c.budget.trials = a.trials;
    }
    if a.minutes.is_some() {
        c.budget.minutes = a.minutes;
    }
    if let Some(seed) = a.seed {
        c.seed = seed;
    }
    if a.grid {
        c.grid = true;
        c.budget.screen_repeats = c.budget.repeats;
        if a.trials.is_none() {
            c.budget.trials = None;
        }
    }
    Ok(())
}

/// `rooftune tune`
/// For an agentic objective: which prompt-cache flags matter on this
/// model's architecture, against the space.
fn agentic_advice(c: &crate::tune::spec::Campaign) -> Vec<String> {
    if c.agentic.is_none() {
        return Vec::new();
    }
    let Some(h) = crate::gguf::GgufModel::open(&c.model)
        .ok()
        .and_then(|m| crate::gguf::shape::hparams(&m).ok())
    else {
        return Vec::new();
    };
    let memory = crate::tune::agentic::Memory {
        sliding_window: h.n_swa > 0 && h.swa_layers.iter().any(|&x| x),
        recurrent: h.recurrent_layers.iter().any(|&x| x),
    };
    let flags: Vec<String> = c.space.dims.iter().map(|d| d.flag.clone()).collect();
    crate::tune::agentic::advice(memory, &flags)
}

pub fn tune(a: &TuneArgs) -> Result<ExitCode> {
    let sink = Sink::open(&a.report)?;
    let mut c = spec::load(&a.spec)?;
    apply_overrides(&mut c, a)?;
    let log_path = log::path_in(&log_dir(a, &c));
    let env = environment(&c)?;
    let mut feas = feasibility(&c, &env);
    if a.dry_run {
        let h = History::from_lines(log::read_or_empty(&log_path)?);
        let (startup, measure) = time_estimate(&c, &env, &h);
        let d = plan::dry_run(&c, &feas, startup, measure, h.trials_used() as u64);
        sink.emit_text(&d, || {
            let mut t = report::campaign::dry_run(&c.name, &d);
            if c.cluster.is_some() {
                t.push_str("Note: the workers are not started by a dry run, so splits were checked against `cluster.memory` only (a real run also takes what each worker reports).\n");
            }
            if env.shape.is_none() {
                t.push_str(&format!(
                    "Note: the model `{}` is not there yet, so nothing was checked against memory.\n",
                    c.model.display()
                ));
            }
            t
        })?;
        for n in crate::campaign::preflight::check(&c, a.server_bin.as_deref())? {
            eprintln!("note: {n}");
        }
        crate::campaign::preflight::check_min_ctx(&feas, &c)?;
        return Ok(ExitCode::OK);
    }
    crate::campaign::preflight::check_spec_server(&c, a.server_bin.as_deref())?;
    crate::campaign::preflight::check_model(&c.model)?;
    crate::campaign::preflight::check_min_ctx(&feas, &c)?;
    for n in agentic_advice(&c) {
        eprintln!("note: {n}");
    }
    let model = model_info(&c.model, true)?;
    let server_bin = a.server_bin.clone().or_else(|| c.server.clone());
    // From here Ctrl-C and SIGTERM mark the trial interrupted and stop its server.
    let cancel = Cancel::from_signals();
    let mut eval = evaluator(&mut c, &mut feas, server_bin.as_deref(), a.timeout, &cancel)?;
    let ceilings = match &c.cluster {
        // Workers elsewhere read their own memory: this machine's ceiling
        // does not bound them. Loopback workers share this machine's memory,
        // so its ceiling still does (the link only adds time).
        Some(cl) if !cl.rpc.is_empty() => BTreeMap::new(),
        _ => campaign_ceilings(a, &c, &env, &log_path)?,
    };
    let setup = Setup {
        log_path,
        resume: a.resume,
        accelerated: env.machine.as_ref().is_some_and(|m| !m.accel.is_empty()),
        hardware: env.hardware.clone(),
        model,
        ceilings,
        server_bin: eval.server().binary,
        feasibility: feas,
        campaign: c,
    };
    let quiet = sink.format != crate::report::format::Format::Text || !sink.to_stdout();
    let mut progress = |t: &TrialLine| {
        if !quiet {
            eprintln!("{}", progress_line(t));
        }
    };
    let s = runner::run(&setup, eval.as_mut(), &cancel, &mut progress)?;
    for n in &s.notes {
        eprintln!("note: {n}");
    }
    let sum = summary::summarize(&setup.campaign.name, &s.history);
    emit_summary(sink, &sum)?;
    match s.ending {
        Ending::Interrupted => {
            eprintln!(
                "interrupted: the log `{}` is intact; continue with `rooftune tune {} --resume`",
                setup.log_path.display(),
                a.spec.display()
            );
            Ok(ExitCode::for_signal(
                cancel.signal().unwrap_or(libc::SIGINT),
            ))
        }
        Ending::Finished(why) => {
            eprintln!(
                "campaign finished: {why}; log: {}",
                setup.log_path.display()
            );
            Ok(ExitCode::OK)
        }
    }
}

fn progress_line(t: &TrialLine) -> String {
    let value = match (t.objective.value, t.objective.score) {
        (Some(v), Some(s)) => format!(
            " {} = {} ({:+.1}%)",
            t.objective.label,
            report::rate(v),
            (s - 1.0) * 100.0
        ),
        _ => String::new(),
    };
    format!(
        "trial {:>3} [{:?}] {}: {}{value} {:?} {}",
        t.id,
        t.role,
        t.config().label(),
        t.status.as_str(),
        t.verdict,
        t.verdict_reason
    )
}

/// A campaign's report: the Markdown document for `--format markdown`, the
/// terminal report for text, the tables for CSV, the summary for JSON.
fn emit_summary(sink: Sink, s: &summary::CampaignSummary) -> Result<()> {
    let sink_is_markdown = sink.format == crate::report::format::Format::Markdown;
    sink.emit(s, || {
        let mut d = report::campaign::document(s);
        if sink_is_markdown {
            d.title = format!("Campaign `{}`", s.name);
        }
        d
    })
}

/// The evaluator that runs real servers. With a `[cluster]` it starts the
/// workers first (they serve every trial and stop with the evaluator), puts
/// `--rpc` on the pasted command line and checks each split against what
/// the workers report.
fn evaluator(
    c: &mut Campaign,
    feas: &mut Feasibility,
    server_bin: Option<&Path>,
    timeout_s: f64,
    cancel: &Cancel,
) -> Result<Box<dyn Evaluator>> {
    let mut e = crate::tune::server_eval::ServerEvaluator::new(c, server_bin, cancel.clone())?;
    e.timeout = std::time::Duration::from_secs_f64(timeout_s);
    if let Some(cl) = c.cluster.clone() {
        let (args, free) = e.start_cluster(&cl, &c.name)?;
        let topo = e.topology().unwrap_or_default();
        let addrs: Vec<String> = topo.workers.iter().map(|w| w.addr.clone()).collect();
        eprintln!(
            "cluster: {} worker(s) {} ({} started here); devices: {}",
            addrs.len(),
            addrs.join(","),
            cl.workers,
            topo.devices.join("; ")
        );
        if let Some(split) = feas.split.take() {
            feas.split = Some(split.with_reported(&addrs, &free));
        }
        c.fixed.extend(args);
    }
    Ok(Box::new(e))
}

/// `rooftune bench ... --log DIR`: append the run to `DIR/trials.jsonl` as a
/// hand-run trial, scored against that campaign's defaults.
pub fn log_bench(
    dir: &Path,
    r: &crate::bench::result::BenchReport,
    extra: &[String],
) -> Result<()> {
    let path = log::path_in(dir);
    let h = History::from_lines(log::read_or_empty(&path)?);
    let detected = crate::probe::detect::detect();
    let hardware = HardwareInfo {
        profile: "probe".into(),
        cpu: detected.cpu_brand.clone(),
        physical_cores: detected.physical_cores as u32,
        memory_bytes: detected.total_memory_bytes,
    };
    let model = model_info(Path::new(&r.target.model), true)?;
    let mut line = crate::campaign::manual::line(&h, r, extra, hardware, model);
    if line.campaign.is_empty() {
        line.campaign = display_name(&dir.display().to_string());
    }
    let id = line.id;
    let mut w = crate::campaign::log::LogWriter::open(&path)?;
    w.append(&crate::campaign::record::Line::Trial(Box::new(line)))?;
    eprintln!("logged as hand-run trial {id} in {}", path.display());
    Ok(())
}

/// Where a campaign's log is: a `trials.jsonl`, a folder holding one, or a
/// name under `dir`.
pub(super) fn resolve(name: &str, dir: &Path) -> PathBuf {
    let p = Path::new(name);
    if p.is_file() {
        p.to_path_buf()
    } else if p.join(LOG_FILE).is_file() {
        p.join(LOG_FILE)
    } else {
        dir.join(name).join(LOG_FILE)
    }
}

pub(super) fn display_name(name: &str) -> String {
    let p = Path::new(name);
    let p = if p.file_name().is_some_and(|f| f == LOG_FILE) {
        p.parent().unwrap_or(p)
    } else {
        p
    };
    p.file_name()
        .map_or(name.to_string(), |f| f.to_string_lossy().into_owned())
}

/// `rooftune campaign ...`
pub fn campaign(c: CampaignCommand) -> Result<ExitCode> {
    match c {
        CampaignCommand::List { dir, out } => {
            let sink = Sink::open(&out)?;
            let items = history::list(&dir)?;
            sink.emit_text(&items, || report::campaign::list(&items))?;
        }
        CampaignCommand::Show { name, dir, out } => {
            let sink = Sink::open(&out)?;
            let h = History::read(&resolve(&name, &dir))?;
            let s = summary::summarize(&display_name(&name), &h);
            emit_summary(sink, &s)?;
        }
        CampaignCommand::Compare { a, b, dir, out } => {
            let sink = Sink::open(&out)?;
            let ha = History::read(&resolve(&a, &dir))?;
            let hb = History::read(&resolve(&b, &dir))?;
            let cmp = summary::compare((&display_name(&a), &ha), (&display_name(&b), &hb));
            sink.emit_text(&cmp, || report::campaign::compare(&cmp))?;
        }
        CampaignCommand::Export(_) => unreachable!("dispatched in app::run"),
    }
    Ok(ExitCode::OK)
}
