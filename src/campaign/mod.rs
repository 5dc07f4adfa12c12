//! The campaign log: the lab notebook of a tuning campaign.
//!
//! `experiments/NAME/trials.jsonl` is append-only and versioned: every line
//! carries the format version `v` (see `docs/campaign-log.schema.json`), each
//! line is flushed and synced before the next trial starts, and nothing ever
//! rewrites it. A re-measured trial is a new line that `supersedes` the old
//! one. Everything else (resume, the report, `campaign list|show|compare`) is
//! derived by reading it back.
//!
//! - [`record`]: the line types;
//! - [`log`]: appending with fsync, reading with a version check;
//! - [`history`]: what the lines say (best, superseded, totals, listing);
//! - [`runner`]: the campaign loop over a [`crate::tune`] solver and evaluator:
//!   defaults first, screening, skips, anchors and drift, budget, Ctrl-C,
//!   every result logged as it arrives;
//! - [`manual`]: a hand-run `bench --log` trial into the same log;
//! - [`verdict`]: the one rule that judges every trial line;
//! - [`evidence`]: the defaults as an estimate, the measured noise, each
//!   configuration's paired interval over the defaults;
//! - [`decision`]: the final race's reading: the best, its gain as an
//!   interval, and whether to change anything (lossy configurations need
//!   the quality guard as well);
//! - [`preflight`]: what the real run would refuse, for `tune --dry-run`;
//! - [`lock`]: one run per campaign at a time;
//! - [`comparable`]: what must match for a resume to rank old and new trials together;
//! - [`side_by_side`]: two logs' measurements (two backends on one
//!   architecture) as % of one ceiling, for `campaign compare`.

pub mod comparable;
pub mod decision;
pub mod evidence;
pub mod export;
pub mod history;
pub mod lock;
pub mod log;
pub mod manual;
pub mod preflight;
pub mod record;
pub mod runner;
pub mod side_by_side;
pub mod summary;
pub mod verdict;

use std::path::PathBuf;

impl CampaignError {
    /// True for errors in what the user asked (a campaign that is not
    /// there, a resume that does not match, a log from a newer rooftune):
    /// exit code 2.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            CampaignError::NotFound { .. }
                | CampaignError::Mismatch { .. }
                | CampaignError::Exists { .. }
                | CampaignError::Version { .. }
                | CampaignError::Incomparable { .. }
                | CampaignError::Locked { .. }
                | CampaignError::ShapesDiffer { .. }
                | CampaignError::ShapeUnknown { .. }
        )
    }
}

/// Errors reading or writing a campaign log.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The log cannot be opened or written: the campaign stops.
    #[error("cannot write the campaign log `{path}`: stopping before measuring more\n(hint: check free disk space and permissions, or pass --out DIR)")]
    Write {
        /// Log path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The log cannot be read.
    #[error("cannot read the campaign log `{path}`")]
    Read {
        /// Log path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line that is not valid JSON of the log format.
    #[error("{path}:{line}: not a campaign log line: {message}")]
    Parse {
        /// Log path.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A line written by a newer rooftune.
    #[error("{path}:{line}: log format version {found} is newer than this rooftune reads ({supported})\n(hint: upgrade rooftune to read this log)")]
    Version {
        /// Log path.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Version found.
        found: u64,
        /// Highest supported.
        supported: u32,
    },
    /// No campaign of that name.
    #[error("no campaign log `{path}`\n(hint: `rooftune campaign list` shows the campaigns in a folder)")]
    NotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The log was started by a different spec or seed.
    #[error("the log `{path}` was started with {what} {old}, the spec now says {new}\n(hint: resuming would not replay the same search; use a new --out DIR or restore the spec)")]
    Mismatch {
        /// Log path.
        path: PathBuf,
        /// What differs.
        what: &'static str,
        /// Logged value.
        old: String,
        /// Current value.
        new: String,
    },
    /// A log already exists and `--resume` was not given.
    #[error("the campaign log `{path}` already has {trials} trials\n(hint: pass --resume to continue it, or --out DIR for a new one)")]
    Exists {
        /// Log path.
        path: PathBuf,
        /// Trials in it.
        trials: usize,
    },
    /// Another run holds the campaign.
    #[error("the campaign log `{path}` is in use by another rooftune run{}\n(hint: wait for it to finish, or pass --out DIR for a separate campaign)", .holder.map_or(String::new(), |p| format!(" (pid {p})")))]
    Locked {
        /// Log path.
        path: PathBuf,
        /// The holder's pid, if it wrote one.
        holder: Option<u32>,
    },
    /// `campaign compare` of two backends' logs on models of different shapes.
    #[error("cannot compare `{a}` ({a_server}) with `{b}` ({b_server}) against one ceiling: their models differ\n{differences}\n(hint: compare one architecture in both formats, e.g. `rooftune synth --format both -o DIR`; `campaign show` reports each log against its own ceiling)")]
    ShapesDiffer {
        /// First log's name.
        a: String,
        /// Its server.
        a_server: String,
        /// Second log's name.
        b: String,
        /// Its server.
        b_server: String,
        /// One indented line per difference: `  layers: 4 vs 2`.
        differences: String,
    },
    /// `campaign compare` of two backends' logs where one model's shape is unknown.
    #[error("cannot tell the shape of `{name}`'s model: its log records none and `{path}` cannot be read\n(hint: log it again with this rooftune (`bench --log DIR`, `tune`), or put the model file back)")]
    ShapeUnknown {
        /// The log's name.
        name: String,
        /// The model path it records.
        path: String,
    },
    /// `--resume` of a log whose trials are not comparable with this run's.
    #[error("cannot resume `{path}`: its trials are not comparable with this run's\n{differences}\n(hint: resuming would rank trials from different setups together; use a new --out DIR or restore what changed)")]
    Incomparable {
        /// Log path.
        path: PathBuf,
        /// One indented line per difference: `  space: was ..., now ...`.
        differences: String,
    },
}
