//! The lines of a campaign log. Version [`FORMAT_VERSION`]; the published
//! schema is `docs/campaign-log.schema.json`. Readers accept unknown fields
//! (a newer minor version adds fields) and refuse a newer major version.

use crate::trial::{Measurements, QualitySample, ServerInfo, SlotInfo, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The log format version written in every line as `v`.
pub const FORMAT_VERSION: u32 = 1;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// A session line is written once per run; boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Line {
    /// A run of `rooftune tune` started or resumed.
    Session(SessionLine),
    /// One trial.
    Trial(Box<TrialLine>),
}

/// A run of the tuner started (or resumed) here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionLine {
    /// Format version.
    pub v: u32,
    /// Campaign name.
    pub campaign: String,
    /// Session number, from 1.
    pub session: u32,
    /// Whether this session resumed an earlier one.
    pub resumed: bool,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// rooftune version.
    pub rooftune: String,
    /// Spec file.
    pub spec_path: String,
    /// SHA-256 of the spec text.
    pub spec_sha256: String,
    /// Solver seed.
    pub seed: u64,
    /// Objective label.
    pub objective: String,
    /// Configurations in the lattice.
    pub space_size: u64,
    /// Two-sided confidence of the campaign's intervals and tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Least top-1 agreement a lossy configuration needs to be recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_top1: Option<f64>,
    /// What this session's trials depend on (absent in older logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparable: Option<Box<super::comparable::Comparable>>,
    /// The RPC workers the session's trials split the model across
    /// (`[cluster]`): addresses, the devices the head saw, the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<Box<crate::server::rpc::Topology>>,
}

/// Why a trial was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// llama-server's defaults, measured first: the reference and the anchor.
    Default,
    /// A configuration proposed by the solver.
    Search,
    /// The anchor (the defaults) re-measured to detect drift.
    Anchor,
    /// A trial re-run after drift; it supersedes the old line.
    Rerun,
    /// A hand-run trial from `rooftune bench --log`.
    Manual,
    /// A round of the final race (a finalist or the defaults re-measured).
    Race,
}

/// KEEP or DISCARD, as in a lab notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Best so far (or the reference).
    #[serde(rename = "KEEP")]
    Keep,
    /// Not better than what was kept.
    #[serde(rename = "DISCARD")]
    Discard,
}

/// The machine the trial ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HardwareInfo {
    /// Profile name or `probe`.
    pub profile: String,
    /// CPU model.
    pub cpu: String,
    /// Physical cores.
    pub physical_cores: u32,
    /// Total memory, bytes.
    pub memory_bytes: u64,
}

/// The model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelInfo {
    /// Path as given.
    pub path: String,
    /// Size, bytes.
    pub size_bytes: u64,
    /// SHA-256 of the file (empty if not hashed).
    pub sha256: String,
    /// The model's shape as the ceilings see it (absent in older logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<crate::shape::ShapeKey>,
}

/// The objective's view of a trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ObjectiveValue {
    /// The objective label (`decode_tok_s@0`).
    pub label: String,
    /// The measured value in the objective's unit (single-term objectives).
    pub value: Option<f64>,
    /// Score relative to the defaults (1.0 = the defaults, higher is better).
    pub score: Option<f64>,
    /// Measured share of the roofline ceiling, percent, where one is known.
    pub pct_of_ceiling: Option<f64>,
    /// Relative spread of the measurement, (max - min) / median.
    pub noise: f64,
    /// The configuration's gain over the defaults (every measurement of it
    /// so far, each paired with the defaults measured nearest in time) as a
    /// log-ratio interval; absent in older logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<crate::tune::stats::Interval>,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialLine {
    /// Format version.
    pub v: u32,
    /// Campaign name.
    pub campaign: String,
    /// Trial id, unique and increasing in the file.
    pub id: u64,
    /// Session that ran it.
    pub session: u32,
    /// Why it ran.
    pub role: Role,
    /// The configuration: flag -> value (`default` = left out).
    pub config: BTreeMap<String, String>,
    /// The flags in command-line order as `[flag, value]` pairs.
    pub config_order: Vec<(String, String)>,
    /// Flags of the configuration that change the model's numbers.
    pub lossy: Vec<String>,
    /// The full command line, ready to paste.
    pub command: String,
    /// The server binary and build.
    pub server: ServerInfo,
    /// The machine.
    pub hardware: HardwareInfo,
    /// The model file.
    pub model: ModelInfo,
    /// How it ended.
    pub status: Status,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// Measurements by probe key (unit in the key).
    pub measurements: Measurements,
    /// Whether the full repeats were taken (false: screening only).
    pub full: bool,
    /// Roofline ceilings by measurement key (same unit), where known.
    #[serde(default)]
    pub ceilings: BTreeMap<String, f64>,
    /// The objective.
    pub objective: ObjectiveValue,
    /// KEEP or DISCARD.
    pub verdict: Verdict,
    /// Why.
    pub verdict_reason: String,
    /// Ids of the lines this one replaces (drift re-runs).
    pub supersedes: Vec<u64>,
    /// The race round this line measured (race lines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    /// The trial whose server start this one shared (it differs from that
    /// trial only in per-request settings); absent for a trial that
    /// started its own server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_start: Option<u64>,
    /// Slot layout the server printed.
    pub slots: Option<SlotInfo>,
    /// Top-k samples for the quality guard.
    pub quality: Option<QualitySample>,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End (RFC 3339).
    pub finished_at: String,
    /// Seconds from spawn to ready.
    pub startup_s: f64,
    /// Seconds spent measuring.
    pub measure_s: f64,
}

impl TrialLine {
    /// The configuration in command-line order.
    pub fn config(&self) -> crate::tune::space::Config {
        crate::tune::space::Config(self.config_order.clone())
    }

    /// Whether the trial finished (it may have failed): not interrupted.
    pub fn finished(&self) -> bool {
        self.status != Status::Interrupted
    }

    /// Whether it was measured (not skipped, not interrupted).
    pub fn measured(&self) -> bool {
        !matches!(self.status, Status::Skipped | Status::Interrupted)
    }
}
