//! One architecture in both formats (`rooftune synth --format both`) served
//! by both backends for real: llama-server loads the GGUF, mlx_lm.server the
//! MLX directory, and for the same chat requests both count the same prompt
//! tokens and reuse the same prefix (same vocabulary, ids, merges and chat
//! template). That the weights are identical is proven without servers, in
//! `twin`'s unit tests. Skipped with a note when either server is missing;
//! `scripts/test.sh` installs both. No timing is asserted.

#[macro_use]
mod server_support;

use serde_json::Value;
use server_support::*;
use std::path::Path;
use std::time::Duration;

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

/// `bench --log` of each backend on the twin, then `campaign compare`: every
/// rate of both logs is a share of one ceiling.
#[test]
fn campaign_compare_puts_both_backends_against_one_ceiling() {
    let llama = need_server!();
    let mlx = need_mlx!();
    let _lock = server_lock();
    let twin = tiny_twin();
    let dir = tempfile::tempdir().unwrap();
    for (backend, server, model) in [
        ("llama", &llama, twin.join("model.gguf")),
        ("mlx", &mlx, twin.join("mlx")),
    ] {
        let out = rooftune()
            .args([
                "bench",
                "--backend",
                backend,
                "--hw",
                "ddr5-6000-2ch",
                "--json",
            ])
            .arg("--server-bin")
            .arg(server)
            .arg("--model")
            .arg(&model)
            .args(QUICK_ARGS)
            .arg("--log")
            .arg(dir.path().join(backend))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = rooftune()
        .args(["campaign", "compare", "llama", "mlx", "--json", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["side_by_side"];
    assert_eq!(s["a_server"], "llama-server");
    assert_eq!(s["b_server"], "mlx_lm.server");
    let rows = s["rows"].as_array().unwrap();
    for key in ["prefill_tok_s@16", "decode_tok_s@0"] {
        let r = rows
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {s}"));
        assert!(r["ceiling"].as_f64().is_some_and(|c| c > 0.0), "{r}");
        for side in ["a", "b"] {
            let c = &r[side];
            assert!(
                c["value"].as_f64().is_some_and(|x| x > 0.0),
                "{key} {side}: {r}"
            );
            match c["pct_of_ceiling"].as_f64() {
                Some(p) => {
                    let expect =
                        100.0 * c["value"].as_f64().unwrap() / r["ceiling"].as_f64().unwrap();
                    assert!((p - expect).abs() < 1e-6 * expect.max(1.0), "{r}");
                }
                None => assert_eq!(c["above_ceiling"], true, "{r}"),
            }
        }
    }
}
