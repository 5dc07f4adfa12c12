//! The MLX backend against the real `mlx_lm.server` (mlx-lm 0.32.2 on MLX's
//! CPU build, installed by `scripts/install-mlx.sh`) on a tiny generated MLX
//! model: bench it with % of ceiling, tune two of its flags, replay a session
//! with prompt reuse on and off, and a model that crashes the server on load.
//! No server outlives a test. Skipped (with a note) when mlx_lm.server is not
//! installed; `scripts/test.sh` installs it. No timing is asserted.

#[macro_use]
mod server_support;

use serde_json::Value;
use server_support::*;
use std::path::Path;
use std::time::Duration;

/// `rooftune tune` on a campaign spec for the tiny MLX model (backend mlx,
/// the DDR5 profile, seed 1, decode of 8 tokens after a 32-token prompt) with
/// `rest` (its `[space]`, `[budget]` and so on) appended.
fn tune_mlx(server: &Path, dir: &Path, model: &Path, rest: &str) -> std::process::Output {
    let spec = dir.join("mlx.toml");
    std::fs::write(
        &spec,
        format!(
            "model = {:?}\nbackend = \"mlx\"\nhardware = \"ddr5-6000-2ch\"\nseed = 1\n\
             [objective]\nmetric = \"decode\"\nprompt_tokens = 32\ntokens = 8\n{rest}",
            model.display().to_string()
        ),
    )
    .unwrap();
    rooftune()
        .args(["tune", "--server-bin"])
        .arg(server)
        .arg(&spec)
        .output()
        .unwrap()
}

fn no_server_left(model: &Path) {
    let left = mlx_servers_for(&model.display().to_string());
    for pid in &left {
        assert!(
            gone_within(*pid, Duration::from_secs(5)),
            "mlx_lm.server {pid} outlived rooftune"
        );
    }
}

#[test]
fn bench_mlx_reports_prefill_and_decode_as_pct_of_the_ceiling() {
    let server = need_mlx!();
    let _lock = server_lock();
    let model = tiny_mlx_model();
    let out = rooftune()
        .args([
            "bench",
            "--json",
            "--backend",
            "mlx",
            "--hw",
            "ddr5-6000-2ch",
            "--server-bin",
        ])
        .arg(&server)
        .arg("--model")
        .arg(&model)
        .args([
            "--depths",
            "0,256",
            "--repeats",
            "1",
            "--n-predict",
            "8",
            "--prompt-tokens",
            "64",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    no_server_left(&model);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["target"]["backend"], "mlx_lm.server");
    assert!(
        v["target"]["version"]
            .as_str()
            .is_some_and(|s| s.starts_with("mlx-lm 0.")),
        "{}",
        v["target"]
    );
    let m = &v["measurement"];
    let decode = m["decode"].as_array().unwrap();
    assert_eq!(decode.len(), 2, "two depths");
    for vs in
        std::iter::once(&m["prefill"]["vs_ceiling"]).chain(decode.iter().map(|d| &d["vs_ceiling"]))
    {
        assert!(vs["ceiling"].as_f64().is_some_and(|c| c > 0.0), "{vs}");
        match vs["pct_of_ceiling"].as_f64() {
            Some(p) => assert!(p > 0.0 && p <= 100.0, "{vs}"),
            None => assert_eq!(vs["above_ceiling"], true, "{vs}"),
        }
    }
    // The chat dialect's usage chunk was read: the server counted the prompt.
    let notes = v["notes"].to_string() + &m["notes"].to_string();
    assert!(notes.contains("usage.prompt_tokens"), "{notes}");
}

#[test]
fn tune_mlx_two_flags() {
    let server = need_mlx!();
    let _lock = server_lock();
    let model = tiny_mlx_model();
    let dir = tempfile::tempdir().unwrap();
    let out = tune_mlx(
        &server,
        dir.path(),
        &model,
        "[space]\n\"--prefill-step-size\" = [64, 2048]\n\"--prompt-cache-size\" = [0, 10]\n\
         [budget]\ntrials = 3\nrepeats = 1\nscreen_repeats = 1\n[race]\nfinalists = 0\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    no_server_left(&model);
    let log = std::fs::read_to_string(dir.path().join("mlx/trials.jsonl")).unwrap();
    let trials: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "trial")
        .collect();
    assert!(trials.len() >= 2, "{log}");
    assert!(
        trials
            .iter()
            .all(|t| t.to_string().contains("mlx_lm.server")),
        "{log}"
    );
    assert!(
        trials
            .iter()
            .any(|t| t.to_string().contains("--prefill-step-size")
                || t.to_string().contains("--prompt-cache-size")),
        "a tuned flag was tried: {log}"
    );
}

#[test]
fn replay_mlx_with_prompt_reuse_on_and_off() {
    let server = need_mlx!();
    let _lock = server_lock();
    let model = tiny_mlx_model();
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("s.jsonl");
    rooftune()
        .args([
            "session",
            "synth",
            "--turns",
            "3",
            "--max-depth",
            "600",
            "--prefix",
            "200",
        ])
        .args(["--output-tokens", "4", "--chars-per-token", "2", "-o"])
        .arg(&session)
        .assert()
        .success();
    let reused = |reuse: &str| -> Vec<u64> {
        let out = rooftune()
            .arg("replay")
            .arg(&session)
            .args([
                "--backend",
                "mlx",
                "--no-predict",
                "--json",
                "--reuse",
                reuse,
                "--server-bin",
            ])
            .arg(&server)
            .arg("--model")
            .arg(&model)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["runs"][0]["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reused_tokens"].as_u64().unwrap_or(0))
            .collect()
    };
    let on = reused("on");
    assert_eq!(on.len(), 3);
    assert!(
        on[1..].iter().all(|&r| r > 100),
        "later turns reuse the shared prefix: {on:?}"
    );
    let off = reused("off");
    assert!(
        off.iter().all(|&r| r == 0),
        "--prompt-cache-size 0: nothing reused: {off:?}"
    );
    no_server_left(&model);
}

#[test]
fn a_model_that_crashes_the_server_is_a_clear_error() {
    let server = need_mlx!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken");
    std::fs::create_dir(&model).unwrap();
    // A valid config, weights that are not safetensors: loading fails in the
    // server's generation thread while its HTTP side lives on (503 for ever).
    std::fs::copy(
        tiny_mlx_model().join("config.json"),
        model.join("config.json"),
    )
    .unwrap();
    std::fs::write(model.join("model.safetensors"), b"not safetensors").unwrap();
    let out = rooftune()
        .args([
            "bench",
            "--backend",
            "mlx",
            "--hw",
            "ddr5-6000-2ch",
            "--server-bin",
        ])
        .arg(&server)
        .arg("--model")
        .arg(&model)
        .args(QUICK_ARGS)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let first = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    assert!(
        first.contains("mlx_lm.server failed to load the model: RuntimeError: [load_safetensors]"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    no_server_left(&model);
}

#[test]
fn the_quality_probe_gives_the_top1_agreement_of_a_lossy_kv_config() {
    let server = need_mlx!();
    let _lock = server_lock();
    let model = tiny_mlx_model();
    let dir = tempfile::tempdir().unwrap();
    // 4-bit KV from the first token (the default start is 5000 tokens).
    let out = tune_mlx(
        &server,
        dir.path(),
        &model,
        "[space]\n\"--kv-bits\" = [4]\n\"--quantized-kv-start\" = [0]\n\
         [budget]\ntrials = 2\nrepeats = 1\nscreen_repeats = 1\n[race]\nfinalists = 0\n\
         [quality]\nn_predict = 8\nn_probs = 5\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    no_server_left(&model);
    let log = std::fs::read_to_string(dir.path().join("mlx/trials.jsonl")).unwrap();
    let trial = |role: &str| -> Value {
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["kind"] == "trial" && v["role"] == role)
            .unwrap_or_else(|| panic!("a {role} trial in {log}"))
    };
    let (defaults, lossy) = (trial("default"), trial("search"));
    assert_eq!(lossy["config"]["--kv-bits"], "4", "{lossy}");
    // mlx_lm.server serves logprobs/top_logprobs: the probe is available, and
    // every position is a real distribution, not a placeholder.
    let sample = |t: &Value| -> rooftune::trial::QualitySample {
        serde_json::from_value(t["quality"].clone())
            .unwrap_or_else(|e| panic!("quality sample ({e}): {t}"))
    };
    let (d, q) = (sample(&defaults), sample(&lossy));
    for s in [&d, &q] {
        assert_eq!(s.len(), 3, "one answer per default prompt");
        for step in s.iter().flatten() {
            assert!(!step.top.is_empty() && step.top.len() <= 5, "{step:?}");
            assert_eq!(step.id, step.top[0].0, "greedy: the chosen token leads");
            assert!(
                step.top.iter().all(|(_, lp)| lp.is_finite() && *lp <= 0.0),
                "{step:?}"
            );
        }
        assert!(s.iter().all(|p| p.len() == 8), "8 positions per prompt");
    }
    // The lossy configuration really ran: its probabilities moved.
    let moved = d
        .iter()
        .flatten()
        .zip(q.iter().flatten())
        .flat_map(|(a, b)| a.top.iter().zip(&b.top))
        .any(|(a, b)| a.0 != b.0 || (a.1 - b.1).abs() > 1e-6);
    assert!(moved, "4-bit KV changed nothing");
    let div = rooftune::tune::quality::compare(&d, &q).expect("positions to compare");
    assert!(div.positions > 0);
    assert!(
        (0.0..=1.0).contains(&div.top1_agreement),
        "{}",
        div.top1_agreement
    );
}
