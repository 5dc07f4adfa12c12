//! Running an inference server: find its binary, start it under supervision,
//! talk to it over HTTP.
//!
//! What differs between servers (how to start one, when it is ready, which
//! flags it knows, where its timings live) sits behind [`backend::Backend`];
//! [`llama`] and [`mlx`] implement it. Everything else (process groups,
//! logs, health polling, shutdown, the HTTP client) is shared, so a second
//! backend (`mlx_lm.server`, ik_llama.cpp) is a new file, not edits across
//! the crate.

pub mod backend;
pub mod client;
pub mod flags;
pub mod llama;
pub mod locate;
pub mod logscan;
pub mod mlx;
pub mod redact;
pub mod rpc;
pub mod session;
pub mod supervise;

pub use backend::{Backend, LaunchConfig};
pub use client::{Client, ClientError};
pub use session::{start_for_measurement, Session};
pub use supervise::{RunningServer, StartOptions};

use std::path::PathBuf;

/// The backends rooftune can start (`--backend`, `backend =` in a spec, and
/// the `backend` of every log line and JSON result).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// llama.cpp's `llama-server`.
    #[default]
    Llama,
    /// mlx-lm's `mlx_lm.server`.
    Mlx,
}

impl BackendKind {
    /// Every backend, for listings and the flag registry.
    pub const ALL: &'static [BackendKind] = &[BackendKind::Llama, BackendKind::Mlx];

    /// The backend itself.
    pub fn get(self) -> &'static dyn Backend {
        match self {
            BackendKind::Llama => &llama::LlamaServer,
            BackendKind::Mlx => &mlx::MlxServer,
        }
    }

    /// The word used on the command line, in specs and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Llama => "llama",
            BackendKind::Mlx => "mlx",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend name that rooftune does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown backend `{0}`\n  (hint: the backends are: llama, mlx)")]
pub struct UnknownBackend(pub String);

impl std::str::FromStr for BackendKind {
    type Err = UnknownBackend;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s || k.get().name() == s)
            .ok_or_else(|| UnknownBackend(s.to_string()))
    }
}

/// Whether any backend's table makes `flag` a switch (passed without a value).
pub fn is_switch_anywhere(flag: &str) -> bool {
    BackendKind::ALL
        .iter()
        .any(|k| k.get().flags().is_switch(flag))
}

/// Whether any backend's table says `value` of `flag` changes the numbers.
pub fn is_lossy_anywhere(flag: &str, value: &str) -> bool {
    BackendKind::ALL
        .iter()
        .any(|k| k.get().flags().is_lossy(flag, value))
}

/// When a server failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Between spawn and a healthy `/health`.
    Load,
    /// While serving requests.
    Request,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Load => "while loading the model",
            Phase::Request => "while serving a request",
        })
    }
}

/// How a server process ended, as a value (no guessing from strings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExitInfo {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal number, if a signal killed it.
    pub signal: Option<i32>,
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.signal, self.code) {
            (Some(s), _) => write!(f, "killed by signal {s} ({})", signal_name(s)),
            (None, Some(c)) => write!(f, "exit code {c}"),
            (None, None) => f.write_str("unknown exit status"),
        }
    }
}

/// `SIGSEGV` for 11 and so on (the signals a crashing server meets).
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGFPE => "SIGFPE",
        _ => "signal",
    }
}

/// Errors finding, starting or supervising a server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No binary anywhere we looked.
    #[error("no `{name}` found (looked at --server-bin, ${env_var}, PATH and {cache})\n  (hint: {hint})")]
    NotFound {
        /// What to do (the backend's install hint).
        hint: String,
        /// Binary name.
        name: String,
        /// Environment variable consulted.
        env_var: String,
        /// Cache location consulted.
        cache: String,
    },
    /// A binary named explicitly does not exist or cannot run.
    #[error("{origin} points to `{path}`, which {problem}\n  (hint: {hint})")]
    BadBinary {
        /// `--server-bin` or the backend's variable (`$ROOFTUNE_LLAMA_SERVER`).
        origin: String,
        /// Path given.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
        /// What to do: name the backend's binary, then its install hint.
        hint: String,
    },
    /// The model file is missing or not a GGUF.
    #[error("model file `{path}` {problem}\n  (hint: {hint})")]
    BadModel {
        /// Path given with --model.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// What to do.
        hint: String,
    },
    /// Extra flags clash with what rooftune sets itself.
    #[error("extra server flag `{flag}` is set by rooftune itself\n  (hint: {hint})")]
    ReservedFlag {
        /// Offending flag.
        flag: String,
        /// What to use instead.
        hint: String,
    },
    /// Could not start the process or create its log.
    #[error("could not start `{program}`: {source}")]
    Spawn {
        /// Program path.
        program: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Could not create the per-run log file.
    #[error("could not create server log `{path}`: {source}\n  (hint: set ROOFTUNE_LOG_DIR to a writable directory)")]
    Log {
        /// Log path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The server died (signal or exit code).
    #[error("{name} died {phase}: {exit}{diagnosis}\n  last lines of {log}:\n{tail}")]
    Crashed {
        /// Backend name.
        name: String,
        /// When.
        phase: Phase,
        /// How.
        exit: ExitInfo,
        /// What the log says went wrong (`; failed to load model ...`), or empty.
        diagnosis: String,
        /// Log file.
        log: String,
        /// Last lines of the log, indented.
        tail: String,
        /// The log says an allocation failed (so this is an out-of-memory).
        alloc_failed: bool,
    },
    /// The log says the model failed to load, while the process lived on.
    #[error("{name} failed to load the model: {diagnosis}; rooftune stopped it\n  (hint: check the model directory or file; the full log is {log})\n  last lines of {log}:\n{tail}")]
    LoadFailed {
        /// Backend name.
        name: String,
        /// The telling log line.
        diagnosis: String,
        /// Log file.
        log: String,
        /// Last lines of the log, indented.
        tail: String,
    },
    /// `/health` did not turn ready in time.
    #[error("{name} was not ready after {timeout_s:.0} s (no healthy /health); it was stopped\n  (hint: a large model may need a longer --timeout)\n  last lines of {log}:\n{tail}")]
    NotReady {
        /// Backend name.
        name: String,
        /// Timeout, seconds.
        timeout_s: f64,
        /// Log file.
        log: String,
        /// Last lines of the log, indented.
        tail: String,
    },
    /// Could not find a free port.
    #[error("no free loopback port after {attempts} attempts (last tried {last})")]
    NoPort {
        /// Attempts.
        attempts: u32,
        /// Last port tried.
        last: u16,
    },
    /// Interrupted by Ctrl-C or SIGTERM (exit 130 or 143).
    #[error("interrupted by {}; {}", crate::cancel::Cancel::describe(*signal), if *had_server { "the server was stopped" } else { "nothing was left running" })]
    Interrupted {
        /// The signal (SIGINT or SIGTERM).
        signal: i32,
        /// Whether rooftune had started a server (and stopped it).
        had_server: bool,
    },
    /// A client for the started server could not be made.
    #[error(transparent)]
    Client(ClientError),
}

impl ServerError {
    /// How a trial that met this error ended: from the variant and the
    /// exit signal, never from the message. SIGKILL (the kernel's OOM killer)
    /// or an allocation failure in the log is `oom`; not ready in time is
    /// `timeout`; Ctrl-C is `interrupted`; any other death keeps its signal
    /// in the reason and is `crashed`.
    pub fn trial_status(&self) -> crate::trial::Status {
        use crate::trial::Status;
        match self {
            ServerError::NotReady { .. } => Status::Timeout,
            ServerError::Interrupted { .. } => Status::Interrupted,
            ServerError::Crashed {
                exit, alloc_failed, ..
            } if *alloc_failed || exit.signal == Some(libc::SIGKILL) => Status::Oom,
            ServerError::Client(c) => c.trial_status(),
            _ => Status::Crashed,
        }
    }

    /// True for errors in what the user gave (a missing or bad binary or
    /// model, a reserved flag): exit code 2.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ServerError::NotFound { .. }
                | ServerError::BadBinary { .. }
                | ServerError::BadModel { .. }
                | ServerError::ReservedFlag { .. }
        )
    }
}

impl ClientError {
    /// How a trial whose request met this error ended: a request that got
    /// no answer in time is `timeout`, anything else `crashed`.
    pub fn trial_status(&self) -> crate::trial::Status {
        match self {
            ClientError::Timeout { .. } => crate::trial::Status::Timeout,
            _ => crate::trial::Status::Crashed,
        }
    }
}

/// Indent log lines for an error message.
pub(crate) fn indent(lines: &[String]) -> String {
    if lines.is_empty() {
        return "    (the log is empty)".into();
    }
    lines
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
