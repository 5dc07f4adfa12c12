//! `rooftune report PATH`: a campaign folder (or its `trials.jsonl`), or a
//! `bench`, `replay` or `logs analyze` JSON file, as one self-contained HTML
//! page (the default), a
//! Markdown document with its charts as SVG files beside it, or text.
//! `rooftune campaign export NAME --systemd|--launchd|--shell`: the winner
//! as a service.

use super::output::Sink;
use crate::campaign::history::History;
use crate::campaign::log::LOG_FILE;
use crate::campaign::summary;
use crate::cli::{ExportArgs, ReportArgs, ServiceKind};
use crate::exit::ExitCode;
use crate::report;
use crate::report::doc::{Document, Table};
use crate::report::format::Format;
use crate::report::saved::Kind;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::Path;

/// `rooftune report`
pub fn report(a: &ReportArgs) -> Result<ExitCode> {
    let mut out = a.out.clone();
    if out.format.is_none() && !out.json && !out.markdown {
        out.format = Some(Format::Html);
    }
    let sink = Sink::open(&out)?;
    let p = &a.path;
    let log = if p.is_dir() {
        p.join(LOG_FILE)
    } else {
        p.clone()
    };
    if log.file_name().is_some_and(|f| f == LOG_FILE)
        || log.extension().is_some_and(|e| e == "jsonl")
    {
        let h = History::read(&log)?;
        let name = campaign_name(&log);
        let s = summary::summarize(&name, &h);
        sink.emit(&s, || campaign_document(&name, &h, &s))?;
        return Ok(ExitCode::OK);
    }
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read `{}`\n  (hint: give a campaign folder, a trials.jsonl, or a `bench`, `replay` or `logs analyze` JSON file)", p.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not JSON\n  (hint: write one with `rooftune bench|replay|logs analyze ... --json --output FILE`)",
            p.display()
        )
    })?;
    match report::saved::kind(&v) {
        Some(Kind::Bench) => sink.emit(&v, || bench_document(&v))?,
        Some(Kind::Replay) => sink.emit(&v, || report::saved::replay_document(&v))?,
        Some(Kind::Logs) => sink.emit(&v, || report::saved::logs_document(&v))?,
        None => bail!(
            "`{}` is not a rooftune result (no bench `measurement`, replay `runs` or logs `summary`)\n  (hint: give a campaign folder, a trials.jsonl, or a `bench`, `replay` or `logs analyze` JSON file)",
            p.display()
        ),
    }
    Ok(ExitCode::OK)
}

/// The campaign a log belongs to: its folder's name.
fn campaign_name(log: &Path) -> String {
    super::tune_cmds::display_name(&log.display().to_string())
}

/// The campaign report with its charts.
pub fn campaign_document(name: &str, h: &History, s: &summary::CampaignSummary) -> Document {
    let mut d = Document::new(format!("rooftune report: campaign {name}"));
    let t = h.trials.first();
    let mut kv = vec![
        ("objective".to_string(), s.objective.clone()),
        (
            "hardware".to_string(),
            t.map_or("-".into(), |t| {
                format!(
                    "{} ({}, {} cores)",
                    t.hardware.profile, t.hardware.cpu, t.hardware.physical_cores
                )
            }),
        ),
        (
            "model".to_string(),
            t.map_or("-".into(), |t| t.model.path.clone()),
        ),
        (
            "backend".to_string(),
            t.map_or("-".into(), |t| {
                format!(
                    "{} {}",
                    t.server.backend,
                    report::charts::short_build(&t.server.build)
                )
            }),
        ),
        (
            "calibration".to_string(),
            format!(
                "none used: the ceilings are roofline bounds for profile `{}` (a calibration from `rooftune calibrate --save` changes `predict`'s estimates, not ceilings)",
                t.map_or("-", |t| t.hardware.profile.as_str())
            ),
        ),
    ];
    if let Some(w) = &s.winner {
        kv.push(("winner".into(), format!("trial {} `{}`", w.id, w.config)));
        kv.push((
            "quality guard".into(),
            match &w.quality {
                Some(q) => format!(
                    "top-1 agreement {:.0}% over {} tokens, mean KL {:.4} nats",
                    q.top1_agreement * 100.0,
                    q.positions,
                    q.mean_kl_nats
                ),
                None => "not sampled for the winner".into(),
            },
        ));
        kv.push(("winner command".into(), w.command.clone()));
    }
    d.kv(kv);
    d.heading("Optimisation history");
    d.chart(report::charts::campaign_history(name, h));
    let effects = report::charts::flag_effects(name, h);
    if !effects.is_empty() {
        d.heading("Per-flag effects");
        for c in effects {
            d.chart(c);
        }
    }
    d.heading("Trials and winner");
    let body = report::campaign::document(s);
    d.blocks.extend(body.blocks);
    d
}

/// A bench result's report: what ran, the depth chart, the tables.
pub fn bench_document(v: &Value) -> Document {
    let t = &v["target"];
    let mut d = Document::new(format!(
        "rooftune report: bench {}",
        t["model"].as_str().unwrap_or("?")
    ));
    let s = |x: &Value| x.as_str().unwrap_or("-").to_string();
    d.kv(vec![
        (
            "backend".into(),
            format!(
                "{} {}",
                s(&t["backend"]),
                report::charts::short_build(&s(&t["version"]))
            ),
        ),
        ("command".into(), s(&t["command_line"])),
        (
            "hardware".into(),
            format!(
                "{} ({})",
                s(&v["ceilings"]["hardware"]),
                s(&v["ceilings"]["source"])
            ),
        ),
    ]);
    if let Some(c) = report::charts::bench_roofline(v) {
        d.heading("Roofline");
        d.chart(c);
    }
    if let Some(c) = report::charts::bench_depth(v) {
        d.heading("Decode against depth");
        d.chart(c);
    }
    let rate = |x: &Value| x["median"].as_f64().map_or("-".into(), report::rate);
    let pct = |x: &Value| {
        if x["above_ceiling"].as_bool() == Some(true) {
            crate::compare::ceiling::ABOVE_CEILING.to_string()
        } else {
            x["pct_of_ceiling"]
                .as_f64()
                .map_or("-".into(), |p| format!("{p:.0}%"))
        }
    };
    let p = &v["measurement"]["prefill"];
    d.heading("Measurements");
    d.table(
        Table::new(
            "prefill",
            ["prompt tokens", "prefill tok/s", "% of ceiling", "TTFT (s)"],
        )
        .row(vec![
            p["prompt_tokens"].to_string(),
            rate(if p["server_tok_s"].is_object() {
                &p["server_tok_s"]
            } else {
                &p["client_tok_s"]
            }),
            pct(&p["vs_ceiling"]),
            p["ttft_s"]["median"]
                .as_f64()
                .map_or("-".into(), |x| format!("{x:.3}")),
        ]),
    );
    let rows = v["measurement"]["decode"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    vec![
                        x["depth"].to_string(),
                        rate(if x["server_tok_s"].is_object() {
                            &x["server_tok_s"]
                        } else {
                            &x["client_tok_s"]
                        }),
                        x["vs_ceiling"]["ceiling"]
                            .as_f64()
                            .map_or("-".into(), report::rate),
                        pct(&x["vs_ceiling"]),
                    ]
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    d.table(
        Table::new(
            "decode",
            ["depth", "decode tok/s", "ceiling tok/s", "% of ceiling"],
        )
        .rows(rows),
    );
    d
}

/// `rooftune campaign export NAME --systemd|--launchd|--shell`
pub fn export(a: &ExportArgs) -> Result<ExitCode> {
    let sink = Sink::open(&a.out)?;
    let log = super::tune_cmds::resolve(&a.name, &a.dir);
    let h = History::read(&log)?;
    let name = campaign_name(&log);
    let Some(w) = h.winner() else {
        bail!(crate::campaign::CampaignError::NotFound { path: log });
    };
    let argv = shell_words::split(&w.command).context("the winner's logged command line")?;
    let mut argv: Vec<String> = argv;
    if !argv.iter().any(|x| x == "--host") {
        argv.extend(["--host".to_string(), "127.0.0.1".to_string()]);
    }
    if let Some(port) = a.port {
        argv.extend(["--port".to_string(), port.to_string()]);
    }
    let info = crate::campaign::export::Service {
        campaign: name,
        trial: w.id,
        build: report::charts::short_build(&w.server.build),
        rooftune: env!("CARGO_PKG_VERSION").to_string(),
        argv,
        label: a.label.clone(),
    };
    let text = match a.kind {
        ServiceKind::Systemd => crate::campaign::export::systemd(&info),
        ServiceKind::Launchd => crate::campaign::export::launchd(&info),
        ServiceKind::Shell => crate::campaign::export::shell(&info),
    };
    sink.write(&text)?;
    Ok(ExitCode::OK)
}
