//! The stored result of one `rooftune bench` run (versioned), kept apart
//! from its rendering (`report::bench`).

use super::measure::{Measurement, Plan};
use crate::server::logscan::StartupFacts;
use serde::Serialize;

/// Format version of the JSON result; bump `minor` for additions, `major` for breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FormatVersion {
    /// Incompatible changes.
    pub major: u32,
    /// Compatible additions.
    pub minor: u32,
}

/// The current format.
pub const FORMAT: FormatVersion = FormatVersion { major: 1, minor: 0 };

/// What was measured: a server rooftune started, or a URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetInfo {
    /// `local` (rooftune started it) or `url`.
    pub kind: &'static str,
    /// Backend name or `openai-compatible`.
    pub backend: String,
    /// Model file or model name.
    pub model: String,
    /// Server binary, for local runs.
    pub binary: Option<String>,
    /// How the binary was found (`flag`, `env`, `path`, `cache`).
    pub binary_origin: Option<String>,
    /// `--version` output (recorded with every measurement).
    pub version: Option<String>,
    /// The exact command line.
    pub command_line: Option<String>,
    /// Per-run server log.
    pub log: Option<String>,
    /// Spawn to healthy, seconds.
    pub load_s: Option<f64>,
    /// Startup-log facts.
    pub facts: Option<StartupFacts>,
    /// URL measured, for URL runs (API keys are never stored).
    pub url: Option<String>,
    /// The split across RPC workers, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology: Option<crate::server::rpc::Topology>,
}

/// Roofline ceilings for the measured configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ceilings {
    /// Hardware label.
    pub hardware: String,
    /// `--hw` or `probe`.
    pub source: String,
    /// Decode ceiling per depth: (depth tokens, tok/s).
    pub decode_tok_s: Vec<(u64, f64)>,
    /// Prefill ceiling at depth 0, tok/s.
    pub prefill_tok_s: f64,
    /// Weights read per generated token, bytes.
    pub bytes_per_token: f64,
    /// Arithmetic per token at depth 0 (weights; attention adds with depth), FLOP.
    pub flops_per_token: f64,
    /// The machine's memory bandwidth (fastest tier), GB/s.
    pub bandwidth_gb_s: f64,
    /// The machine's compute roof (fastest tier), FLOP/s; infinite when unknown.
    pub peak_flops: f64,
    /// Micro-batch the prefill ceiling assumes (weights read once per micro-batch).
    pub ubatch: u64,
}

impl Ceilings {
    /// Decode ceiling at `depth`, if computed.
    pub fn decode_at(&self, depth: u64) -> Option<f64> {
        self.decode_tok_s
            .iter()
            .find(|(d, _)| *d == depth)
            .map(|(_, c)| *c)
    }
}

/// One lifecycle event with its time since the run started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimedEvent {
    /// Seconds since the run started.
    pub t_s: f64,
    /// `server_start`, `server_healthy`, `warm_up`, `prefill`, `decode`, `server_stop`.
    pub event: String,
    /// Details (`depth 2048 rep 1`).
    pub detail: String,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// Format version.
    pub format: FormatVersion,
    /// What was measured.
    pub target: TargetInfo,
    /// The plan.
    pub plan: Plan,
    /// The measurements.
    pub measurement: Measurement,
    /// Ceilings, when a hardware profile was given or probed.
    pub ceilings: Option<Ceilings>,
    /// Lifecycle events in order.
    pub events: Vec<TimedEvent>,
    /// Notes from setup (busy port, missing hardware profile).
    pub notes: Vec<String>,
}
