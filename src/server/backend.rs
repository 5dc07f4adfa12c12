//! The one small interface a server backend implements.
//!
//! A backend knows how to start its server (command line for a config), how
//! to tell it is ready, which flags it accepts (from its `--help`), what its
//! startup log says, and which request dialect carries its timings. The
//! supervisor, the client and the benchmark never name a backend.

use super::client::Dialect;
use super::logscan::StartupFacts;
use std::path::PathBuf;

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

/// A server rooftune can start and measure.
pub trait Backend: Send + Sync {
    /// Short name for messages (`llama-server`).
    fn name(&self) -> &'static str;
    /// Executable name looked up on `PATH` and in the cache.
    fn binary_name(&self) -> &'static str;
    /// Environment variable that names the executable.
    fn env_var(&self) -> &'static str;
    /// Arguments for one launch (program excluded).
    fn args(&self, cfg: &LaunchConfig) -> Vec<String>;
    /// Flags rooftune sets itself; users may not pass them as extras.
    fn reserved_flags(&self) -> &'static [&'static str];
    /// HTTP path that answers 200 once the model is loaded.
    fn health_path(&self) -> &'static str;
    /// Facts from the startup log.
    fn scan_log(&self, log: &str) -> StartupFacts;
    /// Request dialect, which also says where timings live in a response.
    fn dialect(&self) -> Dialect;
    /// Flags the binary knows, from its `--help` text.
    fn known_flags(&self, help: &str) -> Vec<String> {
        parse_help_flags(help)
    }
}

/// Flags in a `--help` text: every `-x`/`--long` token at the start of a line
/// or after `, ` in the option column.
pub fn parse_help_flags(help: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        for tok in t.split_whitespace() {
            let tok = tok.trim_end_matches(',');
            let valid = tok.len() > 1
                && tok.starts_with('-')
                && tok
                    .trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            let is_arg = tok.contains(['[', '|', '<', '{'])
                || tok
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
            if valid {
                if !out.iter().any(|x| x == tok) {
                    out.push(tok.to_string());
                }
            } else if !is_arg {
                break;
            }
        }
    }
    out
}

/// The first extra argument that is one of `reserved` (`--port` or `--port=1`).
pub fn reserved_in<'a>(extra: &'a [String], reserved: &[&str]) -> Option<&'a str> {
    extra.iter().map(String::as_str).find(|a| {
        reserved
            .iter()
            .any(|r| a == r || a.starts_with(&format!("{r}=")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_flags() {
        let help = "\
-h,    --help, --usage                  print usage and exit
-t,    --threads N                      number of CPU threads
-fa,   --flash-attn [on|off|auto]       set Flash Attention use
       --port PORT                      port to listen (default: 8080)
not a flag line
";
        let f = parse_help_flags(help);
        for x in [
            "-h",
            "--help",
            "--usage",
            "-t",
            "--threads",
            "-fa",
            "--flash-attn",
            "--port",
        ] {
            assert!(f.contains(&x.to_string()), "{x} in {f:?}");
        }
        assert!(!f.iter().any(|x| x == "N" || x.contains('[')));
    }

    #[test]
    fn reserved() {
        let r = ["--port", "-m"];
        assert_eq!(reserved_in(&["-t".into(), "2".into()], &r), None);
        assert_eq!(reserved_in(&["--port=9".into()], &r), Some("--port=9"));
        assert_eq!(reserved_in(&["-m".into(), "x".into()], &r), Some("-m"));
    }
}
