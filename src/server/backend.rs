//! The interface a server backend implements: everything server-specific.
//!
//! A backend knows how to find and version its binary, the flags it takes
//! (a data table with values, defaults, lossy values and rules), how to read
//! its `--help`, the command line it is launched with and the one a user
//! pastes, which model files it takes, when it is ready, what its startup log
//! says, where its timings live in a response (the request dialect), its
//! quality probe, and where the tuner should start. The supervisor, the
//! client, the benchmark and the tuner never name a backend; adding one is a
//! new file implementing this trait plus its flag table
//! (`docs/backends.md`).

use super::client::Dialect;
use super::flags::{parse_help_flags, FlagTable};
use super::locate::{self, Inputs, Located};
use super::logscan::StartupFacts;
use super::ServerError;
use crate::trial::TokenStep;
use std::path::{Path, PathBuf};

/// What one server launch needs from rooftune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchConfig {
    /// Model file.
    pub model: PathBuf,
    /// Interface to listen on (loopback).
    pub host: String,
    /// Port to listen on.
    pub port: u16,
    /// The user's extra flags, passed through verbatim.
    pub extra_args: Vec<String>,
}

/// What the tuner knows when it picks a starting value for a flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartHints {
    /// Physical CPU cores.
    pub physical_cores: u32,
    /// The objective measures prompt processing (prefill or TTFT).
    pub prompt_heavy: bool,
    /// Concurrent streams the objective measures, if any.
    pub streams: Option<u32>,
    /// The objective decodes at a depth above 0.
    pub deep: bool,
    /// The machine has a GPU or unified memory.
    pub accelerated: bool,
    /// The smallest context the campaign accepts, tokens.
    pub min_ctx: u64,
    /// The logical batch the guess chose (for the micro-batch).
    pub batch: f64,
}

/// Whether a backend can give top-k log-probabilities for the quality guard.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityRequest {
    /// HTTP path under the server's root (`/completion`).
    pub path: String,
    /// JSON body.
    pub body: serde_json::Value,
}

/// A server rooftune can start and measure.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Which backend this is (`--backend`, `backend =` in a spec, every log line).
    fn kind(&self) -> super::BackendKind;
    /// Short name for messages (`llama-server`).
    fn name(&self) -> &'static str;
    /// Executable name looked up on `PATH` and in the cache.
    fn binary_name(&self) -> &'static str;
    /// Environment variable that names the executable.
    fn env_var(&self) -> &'static str;
    /// What to run to install it (for the not-found hint).
    fn install_hint(&self) -> &'static str;

    /// Find the binary: `explicit` (`--server-bin` or a spec's `server`),
    /// the environment variable, `PATH`, then rooftune's cache.
    fn locate(&self, explicit: Option<PathBuf>) -> Result<Located, ServerError> {
        locate::locate(
            self.binary_name(),
            self.env_var(),
            &Inputs::from_env(explicit, self.env_var()),
        )
        .map_err(|e| match e {
            ServerError::NotFound {
                name,
                env_var,
                cache,
                ..
            } => ServerError::NotFound {
                hint: self.install_hint().into(),
                name,
                env_var,
                cache,
            },
            ServerError::BadBinary {
                origin,
                path,
                problem,
                ..
            } => ServerError::BadBinary {
                hint: locate::bad_binary_hint(self.binary_name(), self.install_hint()),
                origin,
                path,
                problem,
            },
            other => other,
        })
    }
    /// The binary's version as recorded with every result.
    fn version(&self, bin: &Path) -> String {
        locate::version(bin)
    }

    /// The tunable flags and their rules, as data.
    fn flags(&self) -> &'static FlagTable;
    /// Flags rooftune sets itself; users may not pass them as extras.
    fn reserved_flags(&self) -> &'static [&'static str];
    /// Flags the binary knows, from its `--help` text.
    fn known_flags(&self, help: &str) -> Vec<String> {
        parse_help_flags(help)
    }
    /// The binary's `--help`, when it lists flags (a binary that prints none
    /// tells us nothing, so nothing is rejected on it).
    fn help_text(&self, bin: &Path) -> Option<String> {
        let text =
            super::supervise::ask(bin, &["--help"], std::time::Duration::from_secs(10)).ok()?;
        let known = self.known_flags(&text);
        known.iter().any(|f| f == self.model_flag()).then_some(text)
    }

    /// The flag that names the model (`-m`).
    fn model_flag(&self) -> &'static str;
    /// Arguments for one launch (program excluded).
    fn args(&self, cfg: &LaunchConfig) -> Vec<String>;
    /// Environment variables the server needs (added to the run's own).
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The command line a user pastes to run this configuration themselves.
    fn paste_command(&self, bin: &str, model: &Path, flags: &[String]) -> String {
        let mut argv = vec![
            bin.to_string(),
            self.model_flag().to_string(),
            model.display().to_string(),
        ];
        argv.extend(flags.iter().cloned());
        shell_words::join(argv)
    }
    /// Check a model file before anything starts (the formats it takes).
    fn check_model(&self, path: &Path) -> Result<(), ServerError>;

    /// Server flags that turn cross-request prompt reuse off, for servers
    /// that cannot turn it off per request (None: `cache_prompt: false` does).
    fn reuse_off_flags(&self) -> Option<Vec<String>> {
        None
    }

    /// HTTP path that answers 200 once the model is loaded.
    fn health_path(&self) -> &'static str;
    /// Facts from the startup log.
    fn scan_log(&self, log: &str) -> StartupFacts;
    /// Whether the startup log shows the model failed to load while the
    /// process lives on (a server that loads in a thread and keeps serving
    /// errors); None of these for servers that exit on a failed load.
    fn load_failed(&self, _facts: &StartupFacts) -> bool {
        false
    }
    /// Request dialect, which also says where timings live in a response.
    fn dialect(&self) -> Dialect;

    /// The quality probe's request: greedy, `n_predict` tokens, top-`n_probs`
    /// log-probabilities; None when the server cannot give them.
    fn quality_request(&self, prompt: &str, n_predict: u64, n_probs: u32)
        -> Option<QualityRequest>;
    /// The generated tokens with their top-k log-probabilities, from the answer.
    fn parse_quality(&self, answer: &serde_json::Value) -> Vec<TokenStep>;

    /// The index of the starting value of `flag` among `values` (the
    /// tuner's roofline-informed guess), or None for "no opinion".
    fn start_value(&self, flag: &str, values: &[String], hints: &StartHints) -> Option<usize>;
    /// How reports name running without flags (`llama-server's defaults`).
    fn defaults_label(&self) -> String {
        format!("{}'s defaults", self.name())
    }
}

// Helpers for `Backend::start_value`: pick among a flag's values.
/// Index of the numeric value nearest `want`, not above `at_most`.
pub fn nearest(values: &[String], want: f64, at_most: Option<f64>) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.parse::<f64>().ok().map(|x| (i, x)))
        .filter(|(_, x)| at_most.is_none_or(|m| *x <= m))
        .min_by(|a, b| (a.1 - want).abs().total_cmp(&(b.1 - want).abs()))
        .map(|(i, _)| i)
}

/// Index of the first of `prefs` among `values`.
pub fn word(values: &[String], prefs: &[&str]) -> Option<usize> {
    prefs
        .iter()
        .find_map(|p| values.iter().position(|v| v == p))
}

/// The first extra argument that is one of `reserved` (`--port` or `--port=1`).
pub fn reserved_in<'a>(extra: &'a [String], reserved: &[&str]) -> Option<&'a str> {
    extra.iter().map(String::as_str).find(|a| {
        reserved
            .iter()
            .any(|r| a == r || a.starts_with(&format!("{r}=")))
    })
}

/// Check that a file exists, is a file, and starts with `magic`.
pub fn check_magic(path: &Path, magic: &[u8], what: &str, hint: &str) -> Result<(), ServerError> {
    if !path.is_file() {
        return Err(ServerError::BadModel {
            path: path.into(),
            problem: match std::fs::metadata(path) {
                Ok(_) => "is not a file",
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => "is a loop of symbolic links",
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist",
                Err(_) => "cannot be read",
            }
            .into(),
            hint: hint.into(),
        });
    }
    let mut head = vec![0u8; magic.len()];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok();
    if !ok || head != magic {
        return Err(ServerError::BadModel {
            path: path.into(),
            problem: format!(
                "is not a {what} file (it does not start with `{}`)",
                String::from_utf8_lossy(magic)
            ),
            hint: hint.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved() {
        let r = ["--port", "-m"];
        assert_eq!(reserved_in(&["-t".into(), "2".into()], &r), None);
        assert_eq!(reserved_in(&["--port=9".into()], &r), Some("--port=9"));
        assert_eq!(reserved_in(&["-m".into(), "x".into()], &r), Some("-m"));
    }
}
