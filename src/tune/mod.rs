//! The autotuner: search a backend's start-up flags for a campaign's
//! objective, one server start per configuration. The campaign loop that
//! drives it and logs every trial is `crate::campaign::runner`.
//!
//! - [`spec`]: the campaign file, validated before anything starts;
//! - [`cluster`]: `[cluster]` (RPC workers) and which splits fit their memory;
//! - [`space`]: the backend's flags, values, interactions and lossy tags, as data;
//! - [`lattice`]: the searched flags as a lattice of indices;
//! - [`objective`]: what "better" means (a score relative to the defaults);
//! - [`trial`]: the [`trial::Evaluator`] trait between the tuner and a server;
//! - [`solver`]: simulated annealing (argmin) over the lattice;
//! - [`plan`]: `--dry-run`: what the budget allows and what it would cost;
//! - [`quality`]: the quality guard (top-k divergence from the defaults);
//! - [`stats`]: intervals on paired log ratios, measured noise, drift, the race;
//! - [`replay`]: an evaluator that replays a recorded grid (solver benchmarks);
//! - [`fake`]: a scripted evaluator for fast, deterministic tests.

pub mod agentic;
pub mod cluster;
pub mod fake;
pub mod lattice;
pub mod objective;
pub mod overrides;
pub mod plan;
pub mod quality;
pub mod replay;
pub mod schedule;
pub mod server_eval;
pub mod solver;
pub mod space;
pub mod spec;
pub mod stats;
pub mod trial;

impl TuneError {
    /// True for errors in what the user wrote (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            TuneError::Spec { .. }
            | TuneError::UnknownToBinary { .. }
            | TuneError::BadOverride { .. }
            | TuneError::Preflight { .. }
            | TuneError::SpecRead { .. } => true,
            TuneError::Server(e) => e.is_usage(),
            TuneError::Rpc(e) => e.is_usage(),
            _ => false,
        }
    }
}

/// Errors that stop a campaign before or between trials (a failed trial is
/// a logged outcome, not an error).
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The spec does not parse or validate.
    #[error("{file}:{line}: {message}\n(hint: see docs/tuning.md for the campaign spec)")]
    Spec {
        /// Spec file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The agentic objective's session file cannot be read.
    #[error("objective.session: {0}")]
    Agentic(String),
    /// The spec cannot be read.
    #[error("cannot read campaign spec `{file}`\n(hint: check the path; `experiments/example.toml` is a spec to start from)")]
    SpecRead {
        /// Spec file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server binary does not know a flag of the space.
    #[error("{server} `{binary}` does not know flag `{flag}`: {hint}")]
    UnknownToBinary {
        /// The backend's server name.
        server: String,
        /// Binary path.
        binary: String,
        /// The flag.
        flag: String,
        /// What to do.
        hint: String,
    },
    /// A command-line override breaks the rule the spec's key follows.
    #[error("{flag} {problem}")]
    BadOverride {
        /// The flag (`--minutes`).
        flag: &'static str,
        /// What is wrong, as for the spec's key.
        problem: String,
    },
    /// The model or the space cannot run (found before any trial, or by `--dry-run`).
    #[error("this campaign cannot run:\n{problems}\n(hint: fix the spec or the files it names; `tune --dry-run` checks this without starting anything)")]
    Preflight {
        /// One indented line per problem.
        problems: String,
    },
    /// The server cannot be found or prepared.
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
    /// The `[cluster]`'s workers cannot be found or started.
    #[error(transparent)]
    Rpc(Box<crate::server::rpc::RpcError>),
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The solver failed for a reason of its own.
    #[error("solver: {0}")]
    Solver(String),
}

impl From<crate::server::rpc::RpcError> for TuneError {
    fn from(e: crate::server::rpc::RpcError) -> Self {
        TuneError::Rpc(Box::new(e))
    }
}
