//! The text of every user-facing error, snapshotted: one line that names the
//! flag or file and what is wrong, then a hint. A change to any of them shows
//! up in review. Also the exit code: 2 for what the user gave, 1 otherwise.

use assert_cmd::Command;
use std::path::Path;

/// Run rooftune in `dir` with `args`; (exit code, stderr).
fn run_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("rooftune")
        .unwrap()
        .current_dir(dir)
        .env_remove("ROOFTUNE_LLAMA_SERVER")
        .env_remove("ROOFTUNE_MLX_SERVER")
        .env("PATH", dir)
        .env("ROOFTUNE_CACHE_DIR", dir.join("cache"))
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(name: &str, args: &[&str], files: &[(&str, &[u8])], code: i32) {
    let dir = tempfile::tempdir().unwrap();
    for (f, body) in files {
        std::fs::write(dir.path().join(f), body).unwrap();
    }
    let (got, stderr) = run_in(dir.path(), args);
    assert_eq!(got, code, "{name}: exit code; stderr:\n{stderr}");
    let stderr = stderr.replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(name, stderr);
}

const SPEC_UNKNOWN_FLAG: &[u8] =
    b"model = \"m.gguf\"\n[space]\n\"--threadz\" = [1, 2]\n[objective]\nmetric = \"decode\"\n";

/// Hand-run log lines of two backends on shapes of 4 and 2 layers.
const LOG_LLAMA_4_LAYERS: &[u8] = br#"{"kind": "trial", "v": 1, "campaign": "llama", "id": 0, "session": 0, "role": "manual", "config": {}, "config_order": [], "lossy": [], "command": "server", "server": {"backend": "llama", "binary": "llama", "build": "b1"}, "hardware": {"profile": "probe", "cpu": "cpu", "physical_cores": 2, "memory_bytes": 1}, "model": {"path": "missing", "size_bytes": 1, "sha256": "", "shape": {"layers": 4, "hidden": 512, "vocab": 512, "experts": null, "kv_elements_per_token": 4096, "params_per_token": 12000000.0, "bytes_per_token": 48000000.0}}, "status": "ok", "reason": null, "measurements": {"decode_tok_s@0": {"n": 3, "mean": 50.0, "stddev": 1.0, "median": 50.0, "min": 49.0, "max": 51.0, "cv": 0.02, "sem_rel": 0.0115, "mad": 1.0, "noisy": false, "samples": [49.0, 50.0, 51.0]}}, "full": true, "ceilings": {"decode_tok_s@0": 100.0}, "objective": {"label": "", "value": null, "score": null, "pct_of_ceiling": null, "noise": 0.0}, "verdict": "KEEP", "verdict_reason": "", "supersedes": [], "slots": null, "quality": null, "started_at": "", "finished_at": "", "startup_s": 0.0, "measure_s": 0.0}"#;
const LOG_MLX_2_LAYERS: &[u8] = br#"{"kind": "trial", "v": 1, "campaign": "mlx", "id": 0, "session": 0, "role": "manual", "config": {}, "config_order": [], "lossy": [], "command": "server", "server": {"backend": "mlx", "binary": "mlx", "build": "b1"}, "hardware": {"profile": "probe", "cpu": "cpu", "physical_cores": 2, "memory_bytes": 1}, "model": {"path": "missing", "size_bytes": 1, "sha256": "", "shape": {"layers": 2, "hidden": 512, "vocab": 512, "experts": null, "kv_elements_per_token": 4096, "params_per_token": 12000000.0, "bytes_per_token": 48000000.0}}, "status": "ok", "reason": null, "measurements": {"decode_tok_s@0": {"n": 3, "mean": 50.0, "stddev": 1.0, "median": 50.0, "min": 49.0, "max": 51.0, "cv": 0.02, "sem_rel": 0.0115, "mad": 1.0, "noisy": false, "samples": [49.0, 50.0, 51.0]}}, "full": true, "ceilings": {"decode_tok_s@0": 100.0}, "objective": {"label": "", "value": null, "score": null, "pct_of_ceiling": null, "noise": 0.0}, "verdict": "KEEP", "verdict_reason": "", "supersedes": [], "slots": null, "quality": null, "started_at": "", "finished_at": "", "startup_s": 0.0, "measure_s": 0.0}"#;

/// (snapshot name, arguments, files to write first, exit code).
type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a [u8])], i32);

#[test]
fn user_facing_errors() {
    let cases: &[Case] = &[
        (
            "calibrate_not_a_result",
            &["calibrate", "x.json", "y.json"],
            &[("x.json", b"{}"), ("y.json", b"{}")],
            2,
        ),
        (
            "calibrate_run_bad_shape",
            &["calibrate", "--run", "--hw", "ddr5-6000-2ch", "--shapes", "500x8"],
            &[],
            2,
        ),
        (
            // 14 heads cannot share 3 KV heads: refused before any model is measured.
            "calibrate_run_shape_synth_refuses",
            &["calibrate", "--run", "--hw", "ddr5-6000-2ch", "--shapes", "896x16,512x2"],
            &[],
            2,
        ),
        (
            "calibrate_run_vocab_shape_without_vocab",
            &["calibrate", "--run", "--hw", "ddr5-6000-2ch", "--shapes", "256x2v,256x4"],
            &[],
            2,
        ),
        (
            "session_bad_line",
            &["replay", "s.jsonl", "--url", "http://127.0.0.1:9/v1"],
            &[(
                "s.jsonl",
                b"{\"kind\":\"header\",\"format\":1,\"name\":\"n\",\"source\":\"hand\"}\n{\"kind\":\"request\",\"append\":[]}\n",
            )],
            2,
        ),
        (
            "session_missing",
            &["replay", "none.jsonl", "--url", "http://127.0.0.1:9/v1"],
            &[],
            2,
        ),
        (
            "synth_unknown_breaker",
            &["session", "synth", "--break", "clock", "-o", "s.jsonl"],
            &[],
            2,
        ),
        (
            "synth_too_few_turns",
            &["session", "synth", "--turns", "3", "--conversations", "2", "-o", "s.jsonl"],
            &[],
            2,
        ),
        (
            "import_missing",
            &["session", "import", "--codex", "none.jsonl", "-o", "s.jsonl"],
            &[],
            2,
        ),
        (
            "import_not_json",
            &["session", "import", "--claude-code", "t.jsonl", "-o", "s.jsonl"],
            &[("t.jsonl", b"# not a transcript\n{}\n")],
            2,
        ),
        (
            "import_no_calls",
            &["session", "import", "--codex", "r.jsonl", "-o", "s.jsonl"],
            &[("r.jsonl", b"{\"timestamp\":\"2026-01-10T09:00:00.000Z\",\"type\":\"session_meta\",\"payload\":{}}\n")],
            2,
        ),
        (
            "import_chars_per_token",
            &["session", "import", "--codex", "r.jsonl", "--chars-per-token", "0", "-o", "s.jsonl"],
            &[("r.jsonl", b"{}\n")],
            2,
        ),
        (
            "unknown_model",
            &["predict", "--hw", "m3-ultra-512", "--model", "glm-5.9"],
            &[],
            2,
        ),
        (
            "unknown_hardware",
            &["predict", "--hw", "m9-ultra", "--model", "glm-5.1"],
            &[],
            2,
        ),
        (
            "bad_bandwidth",
            &["predict", "--bandwidth", "fast", "--model", "glm-5.1"],
            &[],
            2,
        ),
        ("no_machine", &["predict", "--model", "glm-5.1"], &[], 2),
        (
            "bad_format",
            &[
                "predict",
                "--bandwidth",
                "800",
                "--model",
                "glm-5.1",
                "--format",
                "yaml",
            ],
            &[],
            2,
        ),
        (
            "output_in_missing_folder",
            &[
                "predict",
                "--bandwidth",
                "800",
                "--model",
                "glm-5.1",
                "--output",
                "no/such/dir/p.json",
            ],
            &[],
            1,
        ),
        (
            "bench_model_missing",
            &["bench", "--model", "missing.gguf"],
            &[],
            2,
        ),
        (
            "bench_not_gguf",
            &["bench", "--model", "m.gguf"],
            &[("m.gguf", b"not a model")],
            2,
        ),
        (
            "bench_truncated_model",
            &[
                "bench",
                "--model",
                "m.gguf",
                "--server-bin",
                "/nonexistent/llama-server",
            ],
            &[("m.gguf", b"GGUF")],
            2,
        ),
        (
            "bench_unknown_backend",
            &["bench", "--model", "m.gguf", "--backend", "vllm"],
            &[],
            2,
        ),
        (
            "bench_bad_timeout",
            &["bench", "--model", "m.gguf", "--timeout", "soon"],
            &[],
            2,
        ),
        ("tune_spec_missing", &["tune", "missing.toml"], &[], 2),
        (
            "tune_cluster_no_workers",
            &["tune", "s.toml"],
            &[(
                "s.toml",
                b"model = \"m.gguf\"\n[space]\n\"-t\" = [1]\n[objective]\nmetric = \"decode\"\n[cluster]\nmemory = \"8GiB\"\n",
            )],
            2,
        ),
        (
            "tune_cluster_memory_count",
            &["tune", "s.toml"],
            &[(
                "s.toml",
                b"model = \"m.gguf\"\n[space]\n\"-t\" = [1]\n[objective]\nmetric = \"decode\"\n[cluster]\nworkers = 2\nmemory = [\"8GiB\"]\n",
            )],
            2,
        ),
        (
            "tune_cluster_too_many_shares",
            &["tune", "s.toml"],
            &[(
                "s.toml",
                b"model = \"m.gguf\"\n[space]\n\"-ts\" = [\"1,1,1\"]\n[objective]\nmetric = \"decode\"\n[cluster]\nworkers = 2\n",
            )],
            2,
        ),
        (
            "tune_bad_tensor_split",
            &["tune", "s.toml"],
            &[(
                "s.toml",
                b"model = \"m.gguf\"\n[space]\n\"-ts\" = [\"3:1\"]\n[objective]\nmetric = \"decode\"\n",
            )],
            2,
        ),
        (
            "tune_unknown_flag",
            &["tune", "s.toml"],
            &[("s.toml", SPEC_UNKNOWN_FLAG)],
            2,
        ),
        (
            "tune_bad_toml",
            &["tune", "s.toml"],
            &[("s.toml", b"model = \n")],
            2,
        ),
        (
            "tune_zero_tokens",
            &["tune", "s.toml"],
            &[(
                "s.toml",
                b"model = \"m.gguf\"\n[space]\n\"-t\" = [1, 2]\n[objective]\nmetric = \"decode\"\ntokens = 0\n",
            )],
            2,
        ),
        (
            "tune_bad_race",
            &["tune", "s.toml"],
            &[(
                "s.toml",
                b"model = \"m.gguf\"\n[space]\n\"-t\" = [1, 2]\n[objective]\nmetric = \"decode\"\n[race]\nconfidence = 1.5\n",
            )],
            2,
        ),
        (
            "tune_bad_min_top1",
            &["tune", "s.toml"],
            &[(
                "s.toml",
                b"model = \"m.gguf\"\n[space]\n\"-t\" = [1, 2]\n[objective]\nmetric = \"decode\"\n[quality]\nmin_top1 = 2\n",
            )],
            2,
        ),
        ("campaign_missing", &["campaign", "show", "nothing"], &[], 2),
        (
            "inspect_not_gguf",
            &["model", "inspect", "m.gguf"],
            &[("m.gguf", b"GGUF\x09\x00\x00\x00")],
            2,
        ),
        ("hw_show_unknown", &["hw", "show", "rtx-9090"], &[], 2),
        (
            "mlx_model_without_config",
            &["bench", "--backend", "mlx", "--model", ".", "--hw", "ddr5-6000-2ch"],
            &[("model.safetensors", b"")],
            2,
        ),
        (
            "mlx_not_installed",
            &["bench", "--backend", "mlx", "--model", ".", "--hw", "ddr5-6000-2ch"],
            &[("config.json", b"{}")],
            2,
        ),
        (
            "mlx_gguf_given",
            &["bench", "--backend", "mlx", "--model", "m.gguf", "--hw", "ddr5-6000-2ch"],
            &[("m.gguf", b"GGUF")],
            2,
        ),
        ("inspect_mlx_no_config", &["model", "inspect", "."], &[], 2),
        (
            "synth_mlx_quant",
            &["synth", "--format", "mlx", "--layers", "2", "--hidden", "64", "--quant", "f16", "-o", "d"],
            &[],
            2,
        ),
        (
            "synth_both_quant",
            &["synth", "--format", "both", "--layers", "2", "--hidden", "64", "--quant", "q8_0", "-o", "d"],
            &[],
            2,
        ),
        (
            "mlx_bad_binary",
            &["bench", "--backend", "mlx", "--model", ".", "--hw", "ddr5-6000-2ch", "--server-bin", "/nonexistent/mlx_lm.server"],
            &[("config.json", b"{}")],
            2,
        ),
        (
            "compare_backends_on_different_shapes",
            &["campaign", "compare", "a.jsonl", "b.jsonl"],
            &[("a.jsonl", LOG_LLAMA_4_LAYERS), ("b.jsonl", LOG_MLX_2_LAYERS)],
            2,
        ),
        (
            "report_not_a_result",
            &["report", "x.json", "-o", "r.html"],
            &[("x.json", b"{\"runs\": 3}")],
            1,
        ),
        ("svg_without_charts", &["hw", "list", "--format", "svg"], &[], 1),
        (
            "cluster_one_host",
            &["predict", "--model", "glm-5.1", "--cluster", "m3-ultra-512"],
            &[],
            2,
        ),
        (
            "cluster_unknown_link",
            &["predict", "--model", "glm-5.1", "--cluster", "2x m3-ultra-512", "--link", "tb6"],
            &[],
            2,
        ),
        (
            "cluster_bad_tensor_split",
            &["predict", "--model", "glm-5.1", "--cluster", "2x m3-ultra-512", "--tensor-split", "1,1,1"],
            &[],
            2,
        ),
        (
            "cluster_bad_link_latency",
            &["predict", "--model", "glm-5.1", "--cluster", "2x m3-ultra-512", "--link-latency-ms=-1"],
            &[],
            2,
        ),
        (
            "bench_bad_rpc_address",
            &["bench", "--model", "m.gguf", "--rpc", "10.0.0.2"],
            &[("m.gguf", b"GGUF")],
            2,
        ),
    ];
    for (name, args, files, code) in cases {
        check(name, args, files, *code);
    }
}
