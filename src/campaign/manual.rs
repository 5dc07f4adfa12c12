//! Hand-run trials: `rooftune bench ... --log DIR` appends one line to a
//! campaign's log (role `manual`), so a manual campaign like the seed's
//! (another binary via `--server-bin`, a fork, a different build) lives in the
//! same notebook as the tuner's trials and is ranked with them.

use super::history::History;
use super::record::{
    HardwareInfo, ModelInfo, ObjectiveValue, Role, TrialLine, Verdict, FORMAT_VERSION,
};
use crate::bench::measure::Plan;
use crate::bench::probes::samples;
use crate::bench::result::BenchReport;
use crate::trial::{Measurements, Probe, ServerInfo, SlotInfo, Stat, Status};
use crate::tune::objective::Objective;
use crate::tune::space::Config;

/// The server flags of a bench run as a configuration: `-t 2 -fa on --mlock`
/// becomes `[(-t, 2), (-fa, on), (--mlock, true)]`.
pub fn config_of(extra: &[String]) -> Config {
    let mut out = Vec::new();
    let mut i = 0;
    while i < extra.len() {
        let flag = &extra[i];
        let value = extra
            .get(i + 1)
            .filter(|v| !v.starts_with('-') || v.parse::<f64>().is_ok());
        match value {
            Some(v) if flag.starts_with('-') => {
                out.push((flag.clone(), v.clone()));
                i += 2;
            }
            _ => {
                out.push((flag.clone(), "true".into()));
                i += 1;
            }
        }
    }
    Config(out)
}

/// Measurements of a bench run under the tuner's probe keys.
pub fn measurements(plan: &Plan, r: &BenchReport) -> Measurements {
    let mut probes: Vec<Probe> = vec![
        Probe::Prefill {
            tokens: plan.prompt_tokens,
        },
        Probe::Ttft {
            depth: plan.prompt_tokens,
        },
    ];
    if plan.concurrency > 1 {
        probes.push(Probe::Aggregate {
            streams: plan.concurrency,
            tokens: plan.n_predict,
        });
    } else {
        probes.extend(plan.depths.iter().map(|&depth| Probe::Decode {
            depth,
            tokens: plan.n_predict,
        }));
    }
    probes
        .iter()
        .filter_map(|p| {
            let s = samples(p, plan, &r.measurement.requests);
            (!s.is_empty()).then(|| (p.key(), Stat::of(&s)))
        })
        .collect()
}

/// The bench run's ceilings under the same keys as its measurements (the
/// rates: prefill at the prompt length, decode at each depth).
pub fn ceilings(plan: &Plan, r: &BenchReport) -> std::collections::BTreeMap<String, f64> {
    let Some(c) = &r.ceilings else {
        return Default::default();
    };
    let prefill = Probe::Prefill {
        tokens: plan.prompt_tokens,
    };
    let mut out = std::collections::BTreeMap::new();
    if c.prefill_tok_s.is_finite() && c.prefill_tok_s > 0.0 {
        out.insert(prefill.key(), c.prefill_tok_s);
    }
    for &depth in &plan.depths {
        let key = Probe::Decode {
            depth,
            tokens: plan.n_predict,
        }
        .key();
        if let Some(v) = c.decode_at(depth).filter(|v| v.is_finite() && *v > 0.0) {
            out.insert(key, v);
        }
    }
    out
}

/// The log line for a bench run, scored against the campaign's defaults.
pub fn line(
    h: &History,
    r: &BenchReport,
    extra: &[String],
    hardware: HardwareInfo,
    model: ModelInfo,
) -> TrialLine {
    let config = config_of(extra);
    let m = measurements(&r.plan, r);
    let label = h
        .sessions
        .last()
        .map(|s| s.objective.clone())
        .unwrap_or_default();
    let objective = Objective::from_label(&label);
    let score = match (&objective, h.reference()) {
        (Some(o), Some(reference)) => o.score(&m, &reference.measurements),
        _ => None,
    };
    let value = objective.as_ref().and_then(|o| o.value(&m));
    let facts = r.target.facts.as_ref();
    let server = ServerInfo {
        backend: r
            .target
            .backend
            .parse::<crate::server::BackendKind>()
            .map_or_else(|_| r.target.backend.clone(), |k| k.as_str().to_string()),
        binary: r
            .target
            .binary
            .clone()
            .unwrap_or_else(|| r.target.backend.clone()),
        build: r.target.version.clone().unwrap_or_default(),
    };
    let command = r.target.command_line.clone().unwrap_or_default();
    let mut line = TrialLine {
        ceilings: ceilings(&r.plan, r),
        objective: ObjectiveValue {
            label,
            value,
            score,
            pct_of_ceiling: None,
            noise: objective.as_ref().map_or(0.0, |o| o.noise(&m)),
            interval: None,
        },
        measurements: m,
        slots: facts.and_then(|f| {
            Some(SlotInfo {
                n_slots: f.n_slots?,
                n_ctx_slot: f.n_ctx_slot?,
                kv_unified: f.kv_unified.unwrap_or(false),
            })
        }),
        startup_s: r.target.load_s.unwrap_or(0.0),
        measure_s: r.measurement.client_cpu.wall_s,
        ..unjudged(h, &config, command, server, hardware, model)
    };
    if let Some(o) = &objective {
        if !super::evidence::same_as_defaults(&line) {
            let confidence = h
                .sessions
                .last()
                .and_then(|s| s.confidence)
                .unwrap_or(super::evidence::DEFAULT_CONFIDENCE);
            let ev = super::evidence::LogEvidence::of(h, o, confidence);
            let b = super::evidence::block(&line, o);
            line.objective.interval = ev.interval_for(h, &line, Some(&b));
        }
    }
    judged(h, line)
}

/// A hand-run line of `config` before its measurements and verdict: status
/// ok, full, timestamped now, the next id of the campaign, role manual.
fn unjudged(
    h: &History,
    config: &Config,
    command: String,
    server: ServerInfo,
    hardware: HardwareInfo,
    model: ModelInfo,
) -> TrialLine {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    TrialLine {
        v: FORMAT_VERSION,
        campaign: h
            .trials
            .first()
            .map(|t| t.campaign.clone())
            .unwrap_or_default(),
        id: h.next_id(),
        session: 0,
        role: Role::Manual,
        config: config.0.iter().cloned().collect(),
        config_order: config.0.clone(),
        lossy: config.lossy_flags(),
        command,
        server,
        hardware,
        model,
        status: Status::Ok,
        reason: None,
        full: true,
        ceilings: Default::default(),
        objective: ObjectiveValue::default(),
        measurements: Default::default(),
        verdict: Verdict::Discard,
        verdict_reason: String::new(),
        supersedes: Vec::new(),
        round: None,
        shared_start: None,
        slots: None,
        quality: None,
        started_at: now.clone(),
        finished_at: now,
        startup_s: 0.0,
        measure_s: 0.0,
    }
}

/// `line` judged by the one verdict rule against the campaign's history
/// (the defaults of the line's own backend).
fn judged(h: &History, mut line: TrialLine) -> TrialLine {
    let backend = line
        .server
        .backend
        .parse::<crate::server::BackendKind>()
        .unwrap_or_default();
    let evidence =
        super::verdict::Evidence::from_history(h, f64::INFINITY, backend.get().defaults_label());
    super::verdict::judge(&mut line, &evidence);
    line
}

/// The key of a replay's median time to first token, prompt cache on or off.
pub fn replay_key(reuse: bool) -> String {
    format!("replay_ttft_s@cache-{}", if reuse { "on" } else { "off" })
}

/// What `replay --log` records of one run: its time to first token over
/// the session's requests (the median is the figure; the spread is across
/// turns, not noise).
pub struct ReplayRun<'a> {
    /// Prompt cache on or off.
    pub reuse: bool,
    /// Each request's time to first token, seconds.
    pub ttft_s: &'a [f64],
    /// The server: backend, binary, build.
    pub server: ServerInfo,
    /// The exact command line.
    pub command: String,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Spawn to healthy, seconds.
    pub startup_s: f64,
}

/// The log line for a replay run (hand-run, like a bench's; judged by the
/// one verdict rule, which has no objective to score it by).
pub fn replay_line(
    h: &History,
    r: &ReplayRun,
    extra: &[String],
    hardware: HardwareInfo,
    model: ModelInfo,
) -> TrialLine {
    let config = config_of(extra);
    let line = TrialLine {
        measurements: std::iter::once((replay_key(r.reuse), Stat::of(r.ttft_s))).collect(),
        startup_s: r.startup_s,
        measure_s: r.wall_s,
        ..unjudged(
            h,
            &config,
            r.command.clone(),
            r.server.clone(),
            hardware,
            model,
        )
    };
    judged(h, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_pair_up() {
        let c = config_of(&[
            "-t".into(),
            "2".into(),
            "--mlock".into(),
            "-fa".into(),
            "on".into(),
            "-ngl".into(),
            "-1".into(),
        ]);
        assert_eq!(
            c.0,
            vec![
                ("-t".to_string(), "2".to_string()),
                ("--mlock".into(), "true".into()),
                ("-fa".into(), "on".into()),
                ("-ngl".into(), "-1".into())
            ]
        );
    }
}
