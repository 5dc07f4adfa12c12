//! One architecture in both formats (`rooftune synth --format both`) served
//! by both backends for real: llama-server loads the GGUF, mlx_lm.server the
//! MLX directory, and for the same chat requests both count the same prompt
//! tokens and reuse the same prefix (same vocabulary, ids, merges and chat
//! template). That the weights are identical is proven without servers, in
//! `twin`'s unit tests. Skipped with a note when either server is missing;
//! `scripts/test.sh` installs both. No timing is asserted.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use serde_json::Value;
use server_support::*;
use std::path::Path;
use std::time::Duration;

fn rooftune() -> Command {
    let mut c = Command::cargo_bin("rooftune").unwrap();
    c.timeout(Duration::from_secs(240)).env(
        "ROOFTUNE_LOG_DIR",
        std::env::temp_dir().join("rooftune-test-logs"),
    );
    c
}

/// A three-turn session whose turns share a growing prefix.
fn session(dir: &Path) -> std::path::PathBuf {
    let s = dir.join("s.jsonl");
    rooftune()
        .args(["session", "synth", "--turns", "3", "--max-depth", "500"])
        .args([
            "--prefix",
            "150",
            "--output-tokens",
            "4",
            "--chars-per-token",
            "2",
            "-o",
        ])
        .arg(&s)
        .assert()
        .success();
    s
}

/// (prompt tokens, reused tokens) of each request of a replay, cache on.
fn replay(session: &Path, backend: &str, server: &Path, model: &Path) -> Vec<(u64, u64)> {
    let out = rooftune()
        .arg("replay")
        .arg(session)
        .args([
            "--backend",
            backend,
            "--no-predict",
            "--json",
            "--reuse",
            "on",
        ])
        .arg("--server-bin")
        .arg(server)
        .arg("--model")
        .arg(model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{backend}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["runs"][0]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(
                r["ttft_s"].as_f64().is_some(),
                "{backend} streamed text: {r}"
            );
            (
                r["prompt_tokens"].as_u64().unwrap_or(0),
                r["reused_tokens"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn both_servers_load_the_twin_and_count_the_same_tokens() {
    let llama = need_server!();
    let mlx = need_mlx!();
    let _lock = server_lock();
    let twin = tiny_twin();
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path());
    let on_llama = replay(&s, "llama", &llama, &twin.join("model.gguf"));
    let on_mlx = replay(&s, "mlx", &mlx, &twin.join("mlx"));
    assert_eq!(on_llama.len(), 3);
    assert!(on_llama.iter().all(|&(p, _)| p > 100), "{on_llama:?}");
    assert_eq!(
        on_llama, on_mlx,
        "the same prompts are the same tokens on both servers"
    );
    assert!(
        on_llama[1].1 > 0,
        "the second turn reuses the first's prefix"
    );
    assert!(mlx_servers_for(&twin.display().to_string())
        .iter()
        .all(|p| gone_within(*p, Duration::from_secs(5))));
}
