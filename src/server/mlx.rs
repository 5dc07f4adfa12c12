//! mlx-lm's `mlx_lm.server` as a [`Backend`].
//!
//! rooftune sets the model directory, the loopback address and the port;
//! everything else is the user's. Requests go to the OpenAI-style
//! `/v1/chat/completions` with `stream_options.include_usage`, so timings
//! come from the client's clocks plus `usage` (prompt-cache reuse from
//! `usage.prompt_tokens_details.cached_tokens`); the server has no
//! `/tokenize`, so prompt lengths are fitted from `usage.prompt_tokens`.
//!
//! The environment is set for a fast, offline CPU run (measured in the
//! project's notes, `mlx-cpu.md`): on Linux, Debian's OpenBLAS is preloaded
//! when present (MLX's CPU wheel ships reference BLAS; prefill is about 10x
//! slower without it); `HF_HUB_CACHE` names an existing directory (without
//! one `/v1/models` answers an empty body) and the hub is offline. The
//! supervisor stops it with SIGTERM (a backgrounded server ignores SIGINT).
//! Its flags are the data in `backends/mlx-lm-server.toml`.

use super::backend::{nearest, Backend, LaunchConfig, QualityRequest, StartHints};
use super::client::Dialect;
use super::flags::FlagTable;
use super::logscan::StartupFacts;
use super::{BackendKind, ServerError};
use crate::trial::TokenStep;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The bundled flag table.
const TABLE: &str = include_str!("../../backends/mlx-lm-server.toml");

/// Where Debian puts OpenBLAS (the pthread variant first).
const OPENBLAS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
];

/// mlx-lm's server.
#[derive(Debug, Clone, Copy, Default)]
pub struct MlxServer;

impl Backend for MlxServer {
    fn kind(&self) -> BackendKind {
        BackendKind::Mlx
    }
    fn name(&self) -> &'static str {
        "mlx_lm.server"
    }
    fn binary_name(&self) -> &'static str {
        "mlx_lm.server"
    }
    fn env_var(&self) -> &'static str {
        "ROOFTUNE_MLX_SERVER"
    }
    fn install_hint(&self) -> &'static str {
        "run `scripts/install-mlx.sh` to install the pinned mlx-lm into rooftune's cache, or pass --server-bin PATH"
    }
    fn version(&self, bin: &Path) -> String {
        version_of(bin)
    }
    fn flags(&self) -> &'static FlagTable {
        static CELL: OnceLock<FlagTable> = OnceLock::new();
        CELL.get_or_init(|| FlagTable::bundled("backends/mlx-lm-server.toml", TABLE, "mlx"))
    }
    fn reserved_flags(&self) -> &'static [&'static str] {
        &["--model", "--host", "--port"]
    }
    fn model_flag(&self) -> &'static str {
        "--model"
    }
    fn args(&self, cfg: &LaunchConfig) -> Vec<String> {
        let mut a = vec![
            "--model".to_string(),
            cfg.model.display().to_string(),
            "--host".into(),
            cfg.host.clone(),
            "--port".into(),
            cfg.port.to_string(),
        ];
        a.extend(cfg.extra_args.iter().cloned());
        a
    }
    fn env(&self) -> Vec<(String, String)> {
        launch_env(
            OPENBLAS.iter().map(Path::new).find(|p| p.exists()),
            std::env::var("LD_PRELOAD").ok(),
            hub_cache(),
        )
    }
    fn check_model(&self, path: &Path) -> Result<(), ServerError> {
        check_dir(path)
    }
    fn reuse_off_flags(&self) -> Option<Vec<String>> {
        Some(vec!["--prompt-cache-size".into(), "0".into()])
    }
    fn health_path(&self) -> &'static str {
        "/health"
    }
    fn scan_log(&self, log: &str) -> StartupFacts {
        scan(log)
    }
    fn load_failed(&self, facts: &StartupFacts) -> bool {
        // The model loads in the generation thread; when that fails the HTTP
        // server lives on and /health answers 503 for ever.
        facts.error.is_some()
    }
    fn dialect(&self) -> Dialect {
        Dialect::OpenAiChat
    }
    fn quality_request(
        &self,
        prompt: &str,
        n_predict: u64,
        n_probs: u32,
    ) -> Option<QualityRequest> {
        Some(QualityRequest {
            path: "/v1/completions".into(),
            body: serde_json::json!({
                "prompt": prompt,
                "max_tokens": n_predict,
                "temperature": 0.0,
                "logprobs": true,
                "top_logprobs": n_probs.clamp(1, 11),
                "stream": false,
            }),
        })
    }
    fn parse_quality(&self, answer: &serde_json::Value) -> Vec<TokenStep> {
        parse_logprobs(answer)
    }
    fn start_value(&self, flag: &str, v: &[String], h: &StartHints) -> Option<usize> {
        match flag {
            "--prefill-step-size" => nearest(v, 2048.0, None),
            "--prompt-cache-size" => nearest(v, 10.0, None),
            "--decode-concurrency" => nearest(v, h.streams.map_or(32.0, f64::from), None),
            "--prompt-concurrency" => nearest(v, h.streams.map_or(8.0, f64::from), None),
            "--kv-group-size" => nearest(v, 64.0, None),
            _ => super::backend::word(v, &["default", "none"]),
        }
    }
}

/// The environment of one launch: OpenBLAS preloaded (ahead of any
/// `LD_PRELOAD` the user has), an existing hub cache, the hub offline.
pub fn launch_env(
    openblas: Option<&Path>,
    user_preload: Option<String>,
    hub: Option<PathBuf>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("HF_HUB_OFFLINE".to_string(), "1".to_string()),
        ("TRANSFORMERS_OFFLINE".into(), "1".into()),
    ];
    if let Some(dir) = hub {
        env.push(("HF_HUB_CACHE".into(), dir.display().to_string()));
    }
    if cfg!(target_os = "linux") {
        if let Some(lib) = openblas {
            let preload = match user_preload.filter(|s| !s.trim().is_empty()) {
                Some(u) => format!("{}:{u}", lib.display()),
                None => lib.display().to_string(),
            };
            env.push(("LD_PRELOAD".into(), preload));
        }
    }
    env
}

/// An existing directory for `HF_HUB_CACHE`: the user's, else one under
/// rooftune's cache (created; the server only scans it).
fn hub_cache() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("HF_HUB_CACHE").filter(|v| !v.is_empty()) {
        let d = PathBuf::from(d);
        if d.is_dir() {
            return Some(d);
        }
    }
    let d = super::locate::cache_dir()?.join("hf-hub");
    std::fs::create_dir_all(&d).ok()?;
    Some(d)
}

/// Check an MLX model directory: it exists and holds `config.json`.
pub fn check_dir(path: &Path) -> Result<(), ServerError> {
    let bad = |problem: &str, hint: &str| ServerError::BadModel {
        path: path.into(),
        problem: problem.into(),
        hint: hint.into(),
    };
    let hint = "mlx_lm.server takes an MLX model directory (config.json, *.safetensors, tokenizer); `rooftune synth --format mlx -o DIR` writes a small one";
    match std::fs::metadata(path) {
        Err(_) => Err(bad("does not exist", hint)),
        Ok(m) if m.is_file() => Err(bad(
            "is a file, not an MLX model directory",
            "for a .gguf file use --backend llama; mlx_lm.server takes a directory with config.json",
        )),
        Ok(_) if !path.join("config.json").is_file() => {
            Err(bad("has no config.json (not an MLX model directory)", hint))
        }
        Ok(_) => Ok(()),
    }
}

/// The mlx and mlx-lm versions, asked of the venv's Python beside the
/// server script; `unknown (...)` when it does not answer.
fn version_of(bin: &Path) -> String {
    let python = bin.with_file_name("python");
    if !python.exists() {
        return format!("unknown (no python beside {})", bin.display());
    }
    let code = "import importlib.metadata as m; print('mlx-lm', m.version('mlx-lm'), 'mlx', m.version('mlx'))";
    match super::supervise::ask(&python, &["-c", code], std::time::Duration::from_secs(20)) {
        Ok(t) => t
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("mlx-lm"))
            .map_or_else(|| "unknown (no version line)".into(), str::to_string),
        Err(e) => format!("unknown ({e})"),
    }
}

/// Facts from an mlx_lm.server log: a model that failed to load, a port in
/// use, an allocation failure. It prints no slot or KV sizes.
pub fn scan(log: &str) -> StartupFacts {
    let mut f = StartupFacts::default();
    for l in log.lines().map(str::trim) {
        if l.contains("Address already in use") {
            f.bind_failed = true;
        }
        if l.contains("std::bad_alloc") || l.contains("MemoryError") || l.contains("[malloc") {
            f.alloc_failed = true;
        }
        if l.starts_with("Starting httpd") {
            f.model_loaded = true;
        }
        let telling = [
            "FileNotFoundError",
            "ValueError",
            "KeyError",
            "RuntimeError",
            "OSError",
            "json.decoder.JSONDecodeError",
            "safetensors_rust.SafetensorError",
            "ModuleNotFoundError",
            "MemoryError",
        ];
        if telling.iter().any(|t| l.starts_with(t)) {
            f.error = Some(l.to_string());
        }
    }
    f
}

/// The generated tokens with their top log-probabilities from a
/// non-streamed answer (mlx-lm 0.32 shape: `choices[0].logprobs.content =
/// [{id, logprob, top_logprobs: [{id, token, logprob}, ...]}, ...]`). The
/// top list comes from `argpartition`, unsorted, and the entry's own `id` is
/// its first element, not the chosen token: the request is greedy, so the
/// chosen token is the most probable one of the list.
pub fn parse_logprobs(v: &serde_json::Value) -> Vec<TokenStep> {
    let steps = v
        .pointer("/choices/0/logprobs/content")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    steps
        .iter()
        .filter_map(|s| {
            let mut top: Vec<(i64, f64)> = s
                .get("top_logprobs")?
                .as_array()?
                .iter()
                .filter_map(|t| Some((t.get("id")?.as_i64()?, t.get("logprob")?.as_f64()?)))
                .collect();
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            Some(TokenStep {
                id: top.first()?.0,
                top,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let a = MlxServer.args(&LaunchConfig {
            model: "/m/tiny".into(),
            host: "127.0.0.1".into(),
            port: 8090,
            extra_args: vec!["--prompt-cache-size".into(), "0".into()],
        });
        assert_eq!(
            shell_words::join(&a),
            "--model /m/tiny --host 127.0.0.1 --port 8090 --prompt-cache-size 0"
        );
        assert_eq!(
            MlxServer.paste_command("/v/bin/mlx_lm.server", Path::new("/m/tiny"), &[]),
            "/v/bin/mlx_lm.server --model /m/tiny"
        );
    }

    #[test]
    fn the_bundled_flag_table_parses() {
        let t = FlagTable::parse("backends/mlx-lm-server.toml", TABLE).expect("bundled table");
        assert_eq!(t.backend, "mlx");
        for f in [
            "--prefill-step-size",
            "--prompt-cache-size",
            "--prompt-cache-bytes",
            "--kv-bits",
            "--kv-group-size",
            "--quantized-kv-start",
            "--decode-concurrency",
            "--prompt-concurrency",
            "--draft-model",
            "--num-draft-tokens",
        ] {
            assert!(t.flag(f).is_some(), "{f} missing");
        }
        assert!(t.is_lossy("--kv-bits", "4") && t.is_lossy("--kv-bits", "8"));
        assert!(!t.is_lossy("--prompt-cache-size", "0"));
        assert!(t.is_lossy("--draft-model", "/m/draft") && !t.is_lossy("--draft-model", "none"));
    }

    #[test]
    fn environment() {
        let lib = Path::new("/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0");
        let env = launch_env(Some(lib), Some("/x/y.so".into()), Some("/c/hf".into()));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HF_HUB_CACHE"), Some("/c/hf"));
        assert_eq!(get("HF_HUB_OFFLINE"), Some("1"));
        if cfg!(target_os = "linux") {
            assert_eq!(
                get("LD_PRELOAD"),
                Some(&*format!("{}:/x/y.so", lib.display()))
            );
        }
        let env = launch_env(None, None, None);
        assert!(env
            .iter()
            .all(|(k, _)| k != "LD_PRELOAD" && k != "HF_HUB_CACHE"));
    }

    #[test]
    fn model_directory_checks() {
        let t = tempfile::tempdir().unwrap();
        let e = check_dir(t.path()).unwrap_err().to_string();
        assert!(e.contains("has no config.json"), "{e}");
        assert_eq!(e.lines().count(), 2, "{e}");
        std::fs::write(t.path().join("config.json"), "{}").unwrap();
        assert!(check_dir(t.path()).is_ok());
        let e = check_dir(&t.path().join("config.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a file"), "{e}");
        let e = check_dir(&t.path().join("nope")).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn logprobs_parse() {
        let v = serde_json::json!({"choices": [{"index": 0, "logprobs": {"content": [
            {"id": 9, "token": "b", "logprob": -2.5, "top_logprobs": [
                {"id": 9, "token": "b", "logprob": -2.5}, {"id": 5, "token": "a", "logprob": -0.1}]}
        ]}}]});
        let s = parse_logprobs(&v);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].id, 5);
        assert_eq!(s[0].top, vec![(5, -0.1), (9, -2.5)]);
        assert!(parse_logprobs(&serde_json::json!({"choices": []})).is_empty());
    }

    #[test]
    fn log_facts() {
        let f = scan("Traceback (most recent call last):\n  File \"x\"\nFileNotFoundError: No safetensors found in /m\n");
        assert_eq!(
            f.error.as_deref(),
            Some("FileNotFoundError: No safetensors found in /m")
        );
        assert!(scan("OSError: [Errno 98] Address already in use").bind_failed);
        assert!(
            scan("2026 - INFO - Starting httpd at 127.0.0.1 on port 8090...")
                .error
                .is_none()
        );
    }
}
