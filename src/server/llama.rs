//! llama.cpp's `llama-server` as a [`Backend`].
//!
//! rooftune sets the model, the loopback address, the port and `-lv 4`
//! (so the log carries KV sizes); everything else is the user's. Requests go
//! to the native `/completion` endpoint, which takes token ids (exact prompt
//! lengths) and answers with a `timings` object; the quality probe asks the
//! same endpoint for `n_probs` top-k log-probabilities. Its flags are the
//! data in `backends/llama-server.toml`.

use super::backend::{self, nearest, word, Backend, LaunchConfig, QualityRequest, StartHints};
use super::client::Dialect;
use super::flags::FlagTable;
use super::logscan::{self, StartupFacts};
use super::{BackendKind, ServerError};
use crate::trial::TokenStep;
use std::path::Path;
use std::sync::OnceLock;

/// The bundled flag table.
const TABLE: &str = include_str!("../../backends/llama-server.toml");

/// llama.cpp's server.
#[derive(Debug, Clone, Copy, Default)]
pub struct LlamaServer;

impl Backend for LlamaServer {
    fn kind(&self) -> BackendKind {
        BackendKind::Llama
    }
    fn name(&self) -> &'static str {
        "llama-server"
    }
    fn binary_name(&self) -> &'static str {
        "llama-server"
    }
    fn env_var(&self) -> &'static str {
        "ROOFTUNE_LLAMA_SERVER"
    }
    fn install_hint(&self) -> &'static str {
        "run `scripts/install-llama-server.sh` to build the pinned one, or pass --server-bin PATH"
    }
    fn flags(&self) -> &'static FlagTable {
        static CELL: OnceLock<FlagTable> = OnceLock::new();
        CELL.get_or_init(|| FlagTable::bundled("backends/llama-server.toml", TABLE, "llama"))
    }
    fn reserved_flags(&self) -> &'static [&'static str] {
        &["-m", "--model", "--host", "--port", "--log-file"]
    }
    fn model_flag(&self) -> &'static str {
        "-m"
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
    fn check_model(&self, path: &Path) -> Result<(), ServerError> {
        backend::check_magic(
            path,
            b"GGUF",
            "GGUF",
            "llama-server needs a .gguf model; `rooftune synth` writes small test models, llama.cpp's convert_hf_to_gguf.py converts others",
        )
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
    fn quality_request(
        &self,
        prompt: &str,
        n_predict: u64,
        n_probs: u32,
    ) -> Option<QualityRequest> {
        Some(QualityRequest {
            path: "/completion".into(),
            body: serde_json::json!({
                "prompt": prompt,
                "n_predict": n_predict,
                "n_probs": n_probs,
                "temperature": -1.0,
                "cache_prompt": false,
                "ignore_eos": true,
            }),
        })
    }
    fn parse_quality(&self, answer: &serde_json::Value) -> Vec<TokenStep> {
        parse_probs(answer)
    }
    fn start_value(&self, flag: &str, v: &[String], h: &StartHints) -> Option<usize> {
        let cores = h.physical_cores.max(1) as f64;
        match flag {
            "-t" | "-tb" => nearest(v, cores, Some(cores)),
            "-b" => nearest(v, 2048.0, None),
            "-ub" if h.prompt_heavy => nearest(v, h.batch, Some(h.batch)),
            "-ub" => nearest(v, 512.0, Some(h.batch)),
            "-np" => nearest(v, h.streams.map_or(1.0, f64::from), None),
            "-fa" if h.accelerated => word(v, &["on", "auto"]),
            "-fa" if h.deep => word(v, &["off", "auto"]),
            "-fa" => word(v, &["auto", "on"]),
            "-ctk" | "-ctv" => word(v, &["f16", "default"]),
            "-c" => v
                .iter()
                .enumerate()
                .filter_map(|(i, x)| x.parse::<u64>().ok().map(|n| (i, n)))
                .filter(|(_, n)| *n >= h.min_ctx || *n == 0)
                .min_by_key(|(_, n)| *n)
                .map(|(i, _)| i),
            "-ngl" => nearest(v, 1e9, None),
            "--spec-type" => word(v, &["none", "default"]),
            _ => word(v, &["default", "auto", "false"]),
        }
    }
}

/// `completion_probabilities` of a `/completion` answer (b11434 shape:
/// `[{id, logprob, top_logprobs: [{id, logprob}, ...]}, ...]`).
pub fn parse_probs(v: &serde_json::Value) -> Vec<TokenStep> {
    let steps = v
        .get("completion_probabilities")
        .and_then(|x| x.as_array())
        .cloned()
        .unwrap_or_default();
    steps
        .iter()
        .filter_map(|s| {
            let id = s.get("id")?.as_i64()?;
            let top = s
                .get("top_logprobs")?
                .as_array()?
                .iter()
                .filter_map(|t| Some((t.get("id")?.as_i64()?, t.get("logprob")?.as_f64()?)))
                .collect();
            Some(TokenStep { id, top })
        })
        .collect()
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
        assert_eq!(
            LlamaServer.paste_command(
                "/x/llama-server",
                Path::new("m.gguf"),
                &["-fa".into(), "on".into()]
            ),
            "/x/llama-server -m m.gguf -fa on"
        );
    }

    #[test]
    fn the_bundled_flag_table_parses() {
        let t = FlagTable::parse("backends/llama-server.toml", TABLE).expect("bundled table");
        assert_eq!(t.backend, "llama");
        assert!(t.flags.len() >= 15, "{} flags", t.flags.len());
        assert!(t.flag("--ubatch-size").is_some_and(|f| f.name == "-ub"));
        assert!(t.is_lossy("-ctk", "q4_0") && !t.is_lossy("-ctk", "f16"));
        assert_eq!(t.rules.len(), 4);
    }

    #[test]
    fn completion_probabilities_parse() {
        let v = serde_json::json!({"completion_probabilities": [
            {"id": 5, "logprob": -0.1, "token": "a", "bytes": [97],
             "top_logprobs": [{"id": 5, "logprob": -0.1, "token": "a"}, {"id": 9, "logprob": -2.5, "token": "b"}]}
        ]});
        let s = parse_probs(&v);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].id, 5);
        assert_eq!(s[0].top, vec![(5, -0.1), (9, -2.5)]);
    }
}
