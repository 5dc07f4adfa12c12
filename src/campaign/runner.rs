//! The campaign loop.
//!
//! 1. Read the log; refuse to mix it with a different seed or space.
//! 2. Reject flags the server binary does not know, before anything starts.
//! 3. Measure llama-server's defaults first: the reference every score is
//!    relative to, and the drift anchor.
//! 4. Let the solver walk the lattice from the roofline-informed guess. For
//!    each point it proposes: read the cost from the log if the point was
//!    measured (this is how `--resume` replays), skip it with a logged reason
//!    if it is invalid or cannot fit, else screen it (a short measurement)
//!    and take the full repeats only if it is promising.
//! 5. Every few trials re-measure the anchor; if it drifted, re-run the
//!    trials since the last clean anchor (new lines supersede old ones).
//! 6. Stop on the budget, Ctrl-C or SIGTERM (the running trial is logged as
//!    interrupted), or a log that cannot be written (an error).

use super::comparable::{self, Comparable};
use super::evidence::{self, LogEvidence};
use super::history::History;
use super::lock::CampaignLock;
use super::log::{self, LogWriter};
use super::record::{
    HardwareInfo, Line, ModelInfo, ObjectiveValue, Role, SessionLine, TrialLine, Verdict,
    FORMAT_VERSION,
};
use super::CampaignError;
use crate::cancel::Cancel;
use crate::trial::{Measurements, Status};
use crate::tune::lattice::Point;
use crate::tune::plan::{self, Feasibility};
use crate::tune::solver::{self, Oracle, Settings, Stop};
use crate::tune::space::Config;
use crate::tune::spec::Campaign;
use crate::tune::stats::Block;
use crate::tune::trial::{Evaluator, TrialOutcome, TrialRequest};
use crate::tune::TuneError;

/// What stops a campaign run: the spec or the server setup ([`TuneError`]),
/// or the log ([`CampaignError`]). A failed trial is a logged outcome, not this.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The spec, the binary or the solver.
    #[error(transparent)]
    Tune(#[from] TuneError),
    /// The log cannot be read or written.
    #[error(transparent)]
    Log(#[from] CampaignError),
}

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Cost the solver is told for a configuration that failed or was skipped
/// (every measured configuration costs `-score < 0`).
pub const FAIL_COST: f64 = 0.0;

/// Everything fixed about one run of a campaign.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The validated spec.
    pub campaign: Campaign,
    /// The log file.
    pub log_path: PathBuf,
    /// Continue an existing log.
    pub resume: bool,
    /// What may run.
    pub feasibility: Feasibility,
    /// Whether the machine has a GPU or unified memory (for the guess).
    pub accelerated: bool,
    /// The machine, for the log.
    pub hardware: HardwareInfo,
    /// The model file, for the log.
    pub model: ModelInfo,
    /// Roofline ceilings by probe key (same unit as the measurement).
    pub ceilings: BTreeMap<String, f64>,
    /// The server binary as it goes on the pasted command line.
    pub server_bin: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// The budget was spent or the solver finished; the reason says which.
    Finished(String),
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// The result of a run: how it ended and the whole log read back.
#[derive(Debug, Clone)]
pub struct Summary {
    /// How it ended.
    pub ending: Ending,
    /// Every line of the log.
    pub history: History,
    /// Things the user should know about the log (a torn line cut off).
    pub notes: Vec<String>,
}

struct Runner<'a> {
    setup: &'a Setup,
    eval: &'a mut dyn Evaluator,
    interrupt: &'a Cancel,
    progress: &'a mut dyn FnMut(&TrialLine),
    writer: LogWriter,
    history: History,
    told: HashMap<Point, f64>,
    session: u32,
    server: crate::trial::ServerInfo,
    fatal: Option<CampaignError>,
    interrupted: bool,
}

/// Run (or resume) a campaign.
pub fn run(
    setup: &Setup,
    eval: &mut dyn Evaluator,
    interrupt: &Cancel,
    progress: &mut dyn FnMut(&TrialLine),
) -> Result<Summary, RunError> {
    let c = &setup.campaign;
    // Held until this function returns: one run per campaign.
    let _lock = CampaignLock::acquire(&setup.log_path)?;
    let history = History::from_lines(log::read_or_empty(&setup.log_path)?);
    let server = eval.server();
    let comparable = comparable_of(setup, &server);
    check_log_matches(setup, &history, &comparable)?;
    check_flags_known(c, eval)?;
    let mut writer = LogWriter::open(&setup.log_path)?;
    let notes: Vec<String> = writer.repaired.iter().map(ToString::to_string).collect();
    let session = history.sessions.len() as u32 + 1;
    let session_line = Line::Session(SessionLine {
        v: FORMAT_VERSION,
        campaign: c.name.clone(),
        session,
        resumed: !history.trials.is_empty(),
        started_at: now(),
        rooftune: env!("CARGO_PKG_VERSION").into(),
        spec_path: c.spec_path.display().to_string(),
        spec_sha256: c.spec_sha256.clone(),
        seed: c.seed,
        objective: c.objective.label(),
        space_size: c.space.size(),
        confidence: Some(c.race.confidence),
        min_top1: Some(c.min_top1),
        comparable: Some(Box::new(comparable)),
        topology: eval.topology().map(Box::new),
    });
    writer.append(&session_line)?;
    let mut r = Runner {
        setup,
        eval,
        interrupt,
        progress,
        writer,
        history,
        told: HashMap::new(),
        session,
        server,
        fatal: None,
        interrupted: false,
    };
    r.history.push(session_line);
    let ending = r.campaign();
    if let Some(e) = r.fatal.take() {
        return Err(e.into());
    }
    let ending = ending?;
    Ok(Summary {
        ending,
        history: r.history,
        notes,
    })
}

/// What this run's trials depend on, for the session line and resume.
fn comparable_of(setup: &Setup, server: &crate::tune::trial::ServerInfo) -> Comparable {
    let c = &setup.campaign;
    Comparable {
        space: c
            .space
            .dims
            .iter()
            .map(|d| comparable::dimension(&d.flag, &d.values))
            .collect(),
        objective: serde_json::to_string(&c.objective).unwrap_or_else(|_| c.objective.label()),
        model_size_bytes: setup.model.size_bytes,
        model_sha256: setup.model.sha256.clone(),
        backend: c.backend.get().name().into(),
        build: server.build.clone(),
    }
}

fn check_log_matches(setup: &Setup, h: &History, now: &Comparable) -> Result<(), RunError> {
    let c = &setup.campaign;
    if h.trials.is_empty() {
        return Ok(());
    }
    if !setup.resume {
        return Err(CampaignError::Exists {
            path: setup.log_path.clone(),
            trials: h.trials.len(),
        }
        .into());
    }
    let Some(first) = h.sessions.first() else {
        return Ok(());
    };
    let mismatch = |what, old: String, new: String| {
        Err(CampaignError::Mismatch {
            path: setup.log_path.clone(),
            what,
            old,
            new,
        }
        .into())
    };
    if first.seed != c.seed {
        return mismatch("seed", first.seed.to_string(), c.seed.to_string());
    }
    if let Some(old) = h.sessions.iter().find_map(|s| s.comparable.as_deref()) {
        let d = now.differences(old);
        if !d.is_empty() {
            return Err(CampaignError::Incomparable {
                path: setup.log_path.clone(),
                differences: d.join("\n"),
            }
            .into());
        }
    }
    if first.objective != c.objective.label() {
        return mismatch("objective", first.objective.clone(), c.objective.label());
    }
    if first.space_size != c.space.size() {
        return mismatch(
            "a search space of size",
            first.space_size.to_string(),
            c.space.size().to_string(),
        );
    }
    Ok(())
}

/// Refuse a flag of the space that the server binary does not list in `--help`.
pub fn check_flags_known(c: &Campaign, eval: &mut dyn Evaluator) -> Result<(), RunError> {
    let Some(help) = eval.help_text() else {
        return Ok(());
    };
    let backend = c.backend.get();
    let mut flags = c.space.flags();
    flags.extend(
        c.fixed
            .iter()
            .filter(|a| a.starts_with('-'))
            .map(|a| a.split('=').next().unwrap_or(a).to_string()),
    );
    let bad = backend
        .flags()
        .unknown_to_binary(&flags, &help, backend.name());
    match bad.into_iter().next() {
        Some((flag, hint)) => Err(RunError::Tune(TuneError::UnknownToBinary {
            server: backend.name().into(),
            binary: eval.server().binary,
            flag,
            hint,
        })),
        None => Ok(()),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Runner<'_> {
    fn campaign(&mut self) -> Result<Ending, RunError> {
        if self.history.default_trial().is_none() {
            self.check_stop().map_err(|_| ()).ok();
            if self.interrupted {
                return Ok(Ending::Interrupted);
            }
            if let Err(s) = self.run_trial(Config::default(), Role::Default, Vec::new(), None) {
                return Ok(self.ending_for(s));
            }
        }
        let c = &self.setup.campaign;
        if c.grid {
            for p in c.space.all_points() {
                if let Err(s) = self.cost(&p) {
                    return Ok(self.ending_for(s));
                }
            }
            return Ok(Ending::Finished(
                "every configuration of the grid was measured".into(),
            ));
        }
        let start = plan::guess(
            c.backend.get(),
            &c.space,
            &c.objective,
            self.setup.feasibility.machine,
            self.setup.accelerated,
            c.constraints.min_ctx,
        );
        let start =
            plan::nearest_feasible(&c.space, &start, &self.setup.feasibility).unwrap_or(start);
        let sizes: Vec<usize> = c.space.dims.iter().map(|d| d.values.len()).collect();
        let settings = Settings {
            seed: c.seed,
            temperature: 0.1,
            max_iters: (c.space.size().saturating_mul(3) + 20).min(10_000),
        };
        let searched = match solver::search(self, &sizes, start, settings) {
            Ok(_) => "the solver stopped: no unmeasured configuration near the best".to_string(),
            Err(s) => s.0,
        };
        if self.interrupted || self.fatal.is_some() {
            return Ok(Ending::Interrupted);
        }
        match self.race() {
            Ok(why) => Ok(Ending::Finished(format!("{searched}; {why}"))),
            Err(s) => Ok(self.ending_for(s)),
        }
    }

    /// The finalists: the best fully measured configurations of the
    /// search that do not run what the defaults run, best first by the
    /// evidence (the centre of each one's interval over the defaults, all
    /// its measurements paired with the defaults nearest in time, not the
    /// score one measurement got against the reference of its moment); and, when
    /// they are all lossy, the best lossless one (even if only screened),
    /// so a lossless alternative has its evidence when the quality guard
    /// refuses a lossy winner.
    fn finalists(&self) -> Vec<Config> {
        let n = self.setup.campaign.race.finalists as usize;
        let lossy = |t: &TrialLine| !t.lossy.is_empty();
        let c = &self.setup.campaign;
        let ev = LogEvidence::of(&self.history, &c.objective, c.race.confidence);
        let mut ranked: Vec<(f64, &TrialLine)> = self
            .history
            .ranked()
            .into_iter()
            .filter(|t| !evidence::same_as_defaults(t))
            .map(|t| {
                let centre = ev.interval_for(&self.history, t, None).map_or_else(
                    || {
                        t.objective
                            .score
                            .map_or(f64::NEG_INFINITY, |s| s.max(1e-12).ln())
                    },
                    |iv| iv.center,
                );
                (centre, t)
            })
            .collect();
        // Stable: ties keep the log's ranking.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let ranked: Vec<&TrialLine> = ranked.into_iter().map(|(_, t)| t).collect();
        let mut out: Vec<&TrialLine> = Vec::new();
        for t in ranked.iter().filter(|t| t.full) {
            if out.len() < n && !out.iter().any(|o| o.config_order == t.config_order) {
                out.push(t);
            }
        }
        if n > 0 && !out.is_empty() && out.iter().all(|t| lossy(t)) {
            if let Some(t) = ranked.iter().find(|t| !lossy(t)) {
                out.push(t);
            }
        }
        out.into_iter().map(|t| t.config()).collect()
    }

    /// Each finished race round's block means, contestant by contestant
    /// (index 0: the defaults).
    fn race_rounds(&self, contestants: &[Config]) -> Vec<Vec<Option<f64>>> {
        let o = &self.setup.campaign.objective;
        let mut rounds: Vec<Vec<Option<f64>>> = Vec::new();
        for t in self.history.effective() {
            let (Role::Race, Some(r), Status::Ok) = (t.role, t.round, t.status) else {
                continue;
            };
            let Some(i) = contestants.iter().position(|c| c.0 == t.config_order) else {
                continue;
            };
            let r = r.max(1) as usize - 1;
            if rounds.len() <= r {
                rounds.resize(r + 1, vec![None; contestants.len()]);
            }
            let b = evidence::block(t, o);
            if b.n() > 0 {
                rounds[r][i] = Some(b.mean());
            }
        }
        rounds
    }

    /// The final race: the finalists and the defaults re-measured
    /// interleaved, round after round, until the best is separated from
    /// the rest at the campaign's confidence or the rounds run out.
    fn race(&mut self) -> Result<String, Stop> {
        let r = self.setup.campaign.race;
        let finalists = self.finalists();
        if r.finalists == 0 || finalists.is_empty() {
            return Ok("no race (no finalist)".into());
        }
        let mut contestants = vec![Config::default()];
        contestants.extend(finalists);
        loop {
            let rounds = self.race_rounds(&contestants);
            let res = crate::tune::stats::race(
                &rounds,
                contestants.len(),
                0,
                r.confidence,
                r.rounds as usize,
            );
            if res.separated {
                return Ok(format!(
                    "the race separated the best after {} rounds",
                    res.rounds
                ));
            }
            if res.rounds >= r.rounds as usize {
                return Ok(format!(
                    "the race used its {} rounds without separating the best",
                    r.rounds
                ));
            }
            let round = res.rounds as u32 + 1;
            let alive: Vec<Config> = res.alive.iter().map(|&i| contestants[i].clone()).collect();
            let table = self.setup.campaign.backend.get().flags();
            for group in crate::tune::schedule::by_server_start(&alive, table) {
                self.check_race_stop()?;
                let configs = group.iter().map(|&i| alive[i].clone()).collect();
                self.run_group(configs, Role::Race, Some(round))?;
            }
        }
    }

    /// The race is not part of the trial budget; Ctrl-C and minutes still stop it.
    fn check_race_stop(&mut self) -> Result<(), Stop> {
        if self.interrupt.is_cancelled() {
            self.interrupted = true;
            return Err(Stop("interrupted".into()));
        }
        if let Some(m) = self.setup.campaign.budget.minutes {
            if self.history.minutes_used() >= m {
                return Err(Stop(format!("the budget of {m} minutes is spent")));
            }
        }
        Ok(())
    }

    fn ending_for(&self, s: Stop) -> Ending {
        if self.interrupted {
            Ending::Interrupted
        } else {
            Ending::Finished(s.0)
        }
    }

    fn check_stop(&mut self) -> Result<(), Stop> {
        if self.interrupt.is_cancelled() {
            self.interrupted = true;
            return Err(Stop("interrupted".into()));
        }
        let b = self.setup.campaign.budget;
        if let Some(t) = b.trials {
            if self.history.trials_used() >= t {
                return Err(Stop(format!("the budget of {t} trials is spent")));
            }
        }
        if let Some(m) = b.minutes {
            if self.history.minutes_used() >= m {
                return Err(Stop(format!("the budget of {m} minutes is spent")));
            }
        }
        Ok(())
    }

    fn cost_of(line: &TrialLine) -> f64 {
        match (line.status, line.objective.score) {
            (Status::Ok, Some(s)) => -s,
            _ => FAIL_COST,
        }
    }

    fn best_score(&self) -> Option<(f64, u64)> {
        self.history
            .winner()
            .and_then(|w| w.objective.score.map(|s| (s, w.id)))
    }

    /// Re-measure the anchor when due; on drift re-run the suspect trials.
    fn maybe_anchor(&mut self) -> Result<(), Stop> {
        let a = self.setup.campaign.anchor;
        let since = self.history.since_clean_anchor();
        if a.every == 0 || (since.len() as u32) < a.every {
            return Ok(());
        }
        let drifted = |l: &TrialLine| l.reason.as_deref().is_some_and(|r| r.starts_with("drift"));
        let mut line = self.run_trial(Config::default(), Role::Anchor, Vec::new(), None)?;
        if drifted(&line) {
            // Let the disturbance pass: re-measure the anchor until it is
            // clean (or the retries run out), then re-run the suspect trials.
            for _ in 0..a.retries {
                if !drifted(&line) {
                    break;
                }
                self.settle(a.settle_s)?;
                line = self.run_trial(Config::default(), Role::Anchor, Vec::new(), None)?;
            }
            for id in since {
                self.check_stop()?;
                let Some(old) = self.history.trials.iter().find(|t| t.id == id) else {
                    continue;
                };
                let cfg = old.config();
                self.run_trial(cfg, Role::Rerun, vec![id], None)?;
            }
        }
        Ok(())
    }

    /// Wait `secs`, polling the interrupt flag.
    fn settle(&mut self, secs: f64) -> Result<(), Stop> {
        let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
        while std::time::Instant::now() < end {
            self.check_stop()?;
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.check_stop()
    }

    fn request(&self, id: u64, config: &Config, role: Role) -> TrialRequest {
        let c = &self.setup.campaign;
        let screen = match role {
            Role::Search => c.budget.screen_repeats,
            _ => c.budget.repeats,
        };
        TrialRequest {
            campaign: c.name.clone(),
            trial_id: id,
            config: config.clone(),
            probes: c.objective.probes(),
            screen_repeats: screen,
            full_repeats: c.budget.repeats,
            quality: c.quality.clone(),
        }
    }

    fn run_trial(
        &mut self,
        config: Config,
        role: Role,
        supersedes: Vec<u64>,
        round: Option<u32>,
    ) -> Result<TrialLine, Stop> {
        let id = self.history.next_id();
        let req = self.request(id, &config, role);
        let started_at = now();
        let objective = self.setup.campaign.objective.clone();
        let bar = self.best_score().map_or(0.0, |(s, _)| {
            s * (1.0 - self.setup.campaign.budget.screen_margin)
        });
        let evidence = LogEvidence::of(
            &self.history,
            &objective,
            self.setup.campaign.race.confidence,
        );
        // Dropped after the first look only when the whole interval (the
        // noise the log has measured) lies below the bar.
        let mut promote = |m: &Measurements| {
            let b = Block {
                seq: id,
                logs: objective.log_perf(m),
            };
            match evidence.interval(&[&b]) {
                Some(iv) if bar > 0.0 => iv.hi >= bar.ln(),
                _ => true,
            }
        };
        let out = self.eval.evaluate(&req, &mut promote);
        let line = self.line(id, config, role, supersedes, out, started_at);
        self.record(line, round)
    }

    /// A race line is judged in its round; then the line is appended, and an
    /// interrupted trial stops the campaign.
    fn record(&mut self, mut line: TrialLine, round: Option<u32>) -> Result<TrialLine, Stop> {
        if round.is_some() {
            line.round = round;
            self.judge(&mut line);
        }
        let line = self.append(line)?;
        if line.status == Status::Interrupted {
            self.interrupt.cancel(libc::SIGINT);
            self.interrupted = true;
            return Err(Stop("interrupted".into()));
        }
        Ok(line)
    }

    /// Run configurations that differ only in per-request settings on one
    /// server start (each with its full repeats); each later line names the
    /// trial whose start it shared.
    fn run_group(
        &mut self,
        configs: Vec<Config>,
        role: Role,
        round: Option<u32>,
    ) -> Result<(), Stop> {
        if configs.len() < 2 {
            for c in configs {
                self.run_trial(c, role, Vec::new(), round)?;
            }
            return Ok(());
        }
        let first = self.history.next_id();
        let reqs: Vec<TrialRequest> = configs
            .iter()
            .enumerate()
            .map(|(k, c)| self.request(first + k as u64, c, role))
            .collect();
        let started_at = now();
        let outs = self.eval.evaluate_group(&reqs);
        for (config, out) in configs.into_iter().zip(outs) {
            let id = self.history.next_id();
            let shared = out.shared_start.then_some(first);
            let mut line = self.line(id, config, role, Vec::new(), out, started_at.clone());
            line.shared_start = shared;
            self.record(line, round)?;
        }
        Ok(())
    }

    fn append(&mut self, line: TrialLine) -> Result<TrialLine, Stop> {
        let written = match self.writer.append(&Line::Trial(Box::new(line))) {
            Ok(w) => w,
            Err(e) => {
                self.fatal = Some(e);
                return Err(Stop("the log cannot be written".into()));
            }
        };
        // Keep the line exactly as a reader will see it, so a replay computes
        // the same costs bit for bit.
        let parsed = log::parse_line(self.writer.path(), 0, written.trim_end());
        let Ok(Line::Trial(t)) = parsed else {
            self.fatal = Some(CampaignError::Parse {
                path: self.writer.path().to_path_buf(),
                line: 0,
                message: "a line just written does not read back".into(),
            });
            return Err(Stop("log".into()));
        };
        (self.progress)(&t);
        self.history.push(Line::Trial(t.clone()));
        Ok(*t)
    }

    fn line(
        &self,
        id: u64,
        config: Config,
        role: Role,
        supersedes: Vec<u64>,
        out: TrialOutcome,
        started_at: String,
    ) -> TrialLine {
        let s = self.setup;
        let c = &s.campaign;
        let status = out.status();
        let reference = match role {
            Role::Default => Some(&out.measurements),
            _ => self
                .history
                .reference()
                .map(|t| &t.measurements)
                .or(Some(&out.measurements)),
        };
        let score = reference
            .filter(|_| status == Status::Ok)
            .and_then(|r| c.objective.score(&out.measurements, r));
        let value = c.objective.value(&out.measurements);
        let pct_of_ceiling = match (c.objective.terms.as_slice(), value) {
            ([t], Some(v)) => s
                .ceilings
                .get(&t.probe.key())
                .filter(|x| **x > 0.0)
                .and_then(|ceil| crate::compare::pct_of_ceiling(v, *ceil)),
            _ => None,
        };
        let mut line = TrialLine {
            v: FORMAT_VERSION,
            campaign: c.name.clone(),
            id,
            session: self.session,
            role,
            config: config.0.iter().cloned().collect(),
            config_order: config.0.clone(),
            lossy: s.feasibility.lossy(&config),
            command: self.command(&config),
            server: self.server.clone(),
            hardware: s.hardware.clone(),
            model: s.model.clone(),
            status,
            reason: out.reason.clone(),
            full: out.full,
            ceilings: s.ceilings.clone(),
            objective: ObjectiveValue {
                label: c.objective.label(),
                value,
                score,
                pct_of_ceiling,
                noise: c.objective.noise(&out.measurements),
                interval: None,
            },
            measurements: out.measurements,
            verdict: Verdict::Discard,
            verdict_reason: String::new(),
            supersedes,
            round: None,
            shared_start: None,
            slots: out.slots,
            quality: out.quality,
            started_at,
            finished_at: now(),
            startup_s: out.startup_s,
            measure_s: out.measure_s,
        };
        if line.status == Status::Ok && !evidence::same_as_defaults(&line) {
            let ev = LogEvidence::of(&self.history, &c.objective, c.race.confidence);
            let b = evidence::block(&line, &c.objective);
            line.objective.interval = ev.interval_for(&self.history, &line, Some(&b));
        }
        self.judge(&mut line);
        line
    }

    /// The full command line to paste.
    fn command(&self, config: &Config) -> String {
        let mut args = config.args();
        args.extend(self.setup.campaign.fixed.iter().cloned());
        self.setup.campaign.backend.get().paste_command(
            &self.setup.server_bin,
            std::path::Path::new(&self.setup.model.path),
            &args,
        )
    }

    fn judge(&self, line: &mut TrialLine) {
        let e = super::verdict::Evidence::from_history(
            &self.history,
            self.setup.campaign.anchor.drift,
            self.setup.campaign.backend.get().defaults_label(),
        );
        super::verdict::judge(line, &e);
    }

    fn skip(&mut self, config: Config, reason: String) -> Result<(), Stop> {
        let id = self.history.next_id();
        let out = TrialOutcome {
            status: Some(Status::Skipped),
            reason: Some(reason),
            ..Default::default()
        };
        let line = self.line(id, config, Role::Search, Vec::new(), out, now());
        self.append(line).map(|_| ())
    }
}

impl Oracle for Runner<'_> {
    fn cost(&mut self, p: &Point) -> Result<f64, Stop> {
        if let Some(c) = self.told.get(p) {
            return Ok(*c);
        }
        let space = &self.setup.campaign.space;
        if self.told.len() as u64 >= space.size() {
            return Err(Stop("every configuration of the space was tried".into()));
        }
        let cfg = space.config(p);
        if let Some(line) = self.history.first_finished(&cfg) {
            let c = Self::cost_of(line);
            self.told.insert(p.clone(), c);
            return Ok(c);
        }
        if let Some(reason) = self.setup.feasibility.skip_reason(&cfg) {
            self.skip(cfg, reason)?;
            self.told.insert(p.clone(), FAIL_COST);
            return Ok(FAIL_COST);
        }
        self.check_stop()?;
        self.maybe_anchor()?;
        self.check_stop()?;
        let line = self.run_trial(cfg, Role::Search, Vec::new(), None)?;
        let c = Self::cost_of(&line);
        self.told.insert(p.clone(), c);
        Ok(c)
    }

    fn told(&self, p: &Point) -> bool {
        self.told.contains_key(p)
    }
}
