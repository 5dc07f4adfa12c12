//! llama.cpp's `llama-server` as a [`Backend`].
//!
//! rooftune sets the model, the loopback address, the port and `-lv 4`
//! (so the log carries KV sizes); everything else is the user's. Requests go
//! to the native `/completion` endpoint, which takes token ids (exact prompt
//! lengths) and answers with a `timings` object.

use super::backend::{Backend, LaunchConfig};
use super::client::Dialect;
use super::logscan::{self, StartupFacts};

/// llama.cpp's server.
#[derive(Debug, Clone, Copy, Default)]
pub struct LlamaServer;

impl Backend for LlamaServer {
    fn name(&self) -> &'static str {
        "llama-server"
    }
    fn binary_name(&self) -> &'static str {
        "llama-server"
    }
    fn env_var(&self) -> &'static str {
        "ROOFTUNE_LLAMA_SERVER"
    }
    fn args(&self, cfg: &LaunchConfig) -> Vec<String> {
        let mut a = vec![
            "-m".to_string(),
            cfg.model.display().to_string(),
            "--host".into(),
            cfg.host.clone(),
            "--port".into(),
            cfg.port.to_string(),
            "-lv".into(),
            "4".into(),
            "--no-webui".into(),
        ];
        a.extend(cfg.extra_args.iter().cloned());
        a
    }
    fn reserved_flags(&self) -> &'static [&'static str] {
        &["-m", "--model", "--host", "--port", "--log-file"]
    }
    fn health_path(&self) -> &'static str {
        "/health"
    }
    fn scan_log(&self, log: &str) -> StartupFacts {
        logscan::scan(log)
    }
    fn dialect(&self) -> Dialect {
        Dialect::LlamaCompletion
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let a = LlamaServer.args(&LaunchConfig {
            model: "m.gguf".into(),
            host: "127.0.0.1".into(),
            port: 8081,
            extra_args: vec!["-t".into(), "2".into()],
        });
        assert_eq!(
            shell_words::join(&a),
            "-m m.gguf --host 127.0.0.1 --port 8081 -lv 4 --no-webui -t 2"
        );
    }
}
