//! One trial as the tuner sees it: what it asks for ([`TrialRequest`]), what
//! comes back ([`TrialOutcome`]), and the one trait between them
//! ([`Evaluator`]).
//!
//! Most flags the tuner searches are start-up flags, so a trial is usually
//! one server start: the evaluator starts the server with the configuration,
//! measures every probe the campaign needs (all depths, concurrency levels)
//! while it is up, and stops it. Configurations that differ only in flags
//! the server also takes per request share one start
//! ([`Evaluator::evaluate_group`]). A failure (crash, OOM, timeout, Ctrl-C) is
//! a status in the outcome, never an `Err` (STYLE habit 5). The measurement
//! types themselves live in the leaf [`crate::trial`].

use super::space::Config;
pub use crate::trial::{
    Measurements, Probe, QualityProbe, QualitySample, ServerInfo, SlotInfo, Stat, Status, TokenStep,
};

/// What the tuner asks the evaluator to do.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRequest {
    /// Campaign name (tag for the server's environment).
    pub campaign: String,
    /// Trial id in the log.
    pub trial_id: u64,
    /// The configuration.
    pub config: Config,
    /// Probes to measure while the server is up.
    pub probes: Vec<Probe>,
    /// Repeats of the short screening measurement.
    pub screen_repeats: u32,
    /// Repeats for a promising configuration (total, screening included).
    pub full_repeats: u32,
    /// Top-k probe for the quality guard, if wanted.
    pub quality: Option<QualityProbe>,
}

/// What one trial produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrialOutcome {
    /// How it ended.
    pub status: Option<Status>,
    /// Why it failed (last log lines, the error), if it did.
    pub reason: Option<String>,
    /// Measurements taken (possibly partial on failure).
    pub measurements: Measurements,
    /// Whether the full repeats were taken (not only screening).
    pub full: bool,
    /// Seconds from spawn to ready.
    pub startup_s: f64,
    /// Seconds spent measuring.
    pub measure_s: f64,
    /// Slot layout from the startup log.
    pub slots: Option<SlotInfo>,
    /// Quality sample, if asked.
    pub quality: Option<QualitySample>,
    /// This trial ran on the server the previous trial of its group
    /// started (it differs from it only in per-request settings).
    pub shared_start: bool,
}

impl TrialOutcome {
    /// The status, `Crashed` if the evaluator forgot to set one.
    pub fn status(&self) -> Status {
        self.status.unwrap_or(Status::Crashed)
    }
}

/// Starts a server with a configuration, measures, stops it.
///
/// `promote` is asked after the screening repeats: `true` means take the
/// full repeats on the same running server.
pub trait Evaluator {
    /// The server binary and build.
    fn server(&mut self) -> ServerInfo;
    /// `--help` of the binary, to reject flags it does not know.
    fn help_text(&mut self) -> Option<String>;
    /// The RPC workers every trial's server splits the model across, when
    /// the campaign has a `[cluster]` (recorded on the session line).
    fn topology(&self) -> Option<crate::server::rpc::Topology> {
        None
    }
    /// Run one trial.
    fn evaluate(
        &mut self,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> TrialOutcome;
    /// Run trials whose configurations differ only in per-request settings
    /// (the same server part, `crate::tune::schedule`), each with its full
    /// repeats. An evaluator that can share one server start among them
    /// does, and marks the later outcomes `shared_start`; the default runs
    /// them one start each.
    fn evaluate_group(&mut self, reqs: &[TrialRequest]) -> Vec<TrialOutcome> {
        reqs.iter()
            .map(|r| self.evaluate(r, &mut |_| true))
            .collect()
    }
}
