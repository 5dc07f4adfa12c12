//! Running an inference server: find its binary, start it under supervision,
//! talk to it over HTTP.
//!
//! What differs between servers (how to start one, when it is ready, which
//! flags it knows, where its timings live) sits behind [`backend::Backend`];
//! [`llama`] is the first implementation. Everything else (process groups,
//! logs, health polling, shutdown, the HTTP client) is shared, so a second
//! backend (`mlx_lm.server`, ik_llama.cpp) is a new file, not edits across
//! the crate.

pub mod backend;
pub mod client;
pub mod llama;
pub mod locate;
pub mod logscan;
pub mod redact;
pub mod supervise;

pub use backend::{Backend, LaunchConfig};
pub use client::{Client, ClientError};
pub use supervise::{RunningServer, StartOptions};

use std::path::PathBuf;

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
    #[error("no `{name}` found (looked at --server-bin, ${env_var}, PATH and {cache})\n  (hint: run `scripts/install-llama-server.sh` to build the pinned one, or pass --server-bin PATH)")]
    NotFound {
        /// Binary name.
        name: String,
        /// Environment variable consulted.
        env_var: String,
        /// Cache location consulted.
        cache: String,
    },
    /// A binary named explicitly does not exist or cannot run.
    #[error("{origin} points to `{path}`, which {problem}\n  (hint: pass the path of an executable `llama-server`, or run `scripts/install-llama-server.sh`)")]
    BadBinary {
        /// `--server-bin` or `$ROOFTUNE_LLAMA_SERVER`.
        origin: String,
        /// Path given.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
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
