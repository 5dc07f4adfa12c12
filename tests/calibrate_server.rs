//! `rooftune calibrate --run` with the real llama-server: tiny generated
//! models of four shapes (one in q8_0 weights) are benched and fitted, a
//! fifth shape in q6_K (a type the fit never saw) and the real Gemma 3 270M
//! when it is fetched are predicted without being fitted,
//! and no measured rate may sit above its ceiling from a probed profile.
//! Kept small for CI (short prompts, shallow depths, one repeat); the full
//! goal run (depth 4096, prefill 512) is in docs/calibrate.md.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use server_support::*;
use std::time::Duration;

#[test]
fn calibrate_run_measures_fits_and_validates_held_out_models() {
    let bin = need_server!();
    let _g = server_lock();
    let cache = tempfile::tempdir().expect("tempdir");
    let cfg = tempfile::tempdir().expect("tempdir");
    let mut validate = "512x2:q6_K".to_string();
    let gemma = gemma_model();
    if let Some(g) = &gemma {
        validate.push(',');
        validate.push_str(&g.display().to_string());
    }
    let out = Command::cargo_bin("rooftune")
        .expect("binary")
        .timeout(Duration::from_secs(400))
        .env("ROOFTUNE_CACHE_DIR", cache.path())
        .env("ROOFTUNE_CONFIG_DIR", cfg.path())
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .args(["calibrate", "--run", "--server-bin"])
        .arg(&bin)
        .args([
            "--shapes",
            "256x2,384x2,256x4,256x2:q8_0",
            "--validate",
            &validate,
            "--depths",
            "0,128",
            "--prompt-tokens",
            "64",
            "--n-predict",
            "8",
            "--repeats",
            "1",
            "--starts",
            "2",
            "--save",
            "cal-test",
            "--json",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["calibration"]["models"], 4, "{v:#}");
    // Four fitted shapes at two depths, each predicted held out.
    assert_eq!(v["decode"]["held_out"].as_array().expect("held").len(), 8);
    // A factor per weight type fitted on (not the f32 norms: too few bytes), for decode and prefill.
    for phase in ["decode", "prefill"] {
        let types = v["calibration"][phase]["types"].as_array().expect("types");
        let names: Vec<&str> = types.iter().filter_map(|t| t["name"].as_str()).collect();
        assert!(names == ["q4_0", "q8_0"], "{phase}: {names:?}");
    }
    // The validation models were never fitted: 2 depths each, and a prefill.
    let n_validate = 1 + usize::from(gemma.is_some());
    let val = &v["validation"];
    assert_eq!(
        val["decode"].as_array().expect("decode").len(),
        2 * n_validate
    );
    assert_eq!(
        val["prefill"].as_array().expect("prefill").len(),
        n_validate
    );
    for h in val["decode"].as_array().expect("decode") {
        assert!(h["measured_tok_s"].as_f64().expect("rate") > 0.0, "{h}");
        assert!(h["error_pct"].as_f64().expect("err").is_finite(), "{h}");
    }
    // The saved band covers the validation error too.
    let band = v["calibration"]["decode_holdout_pct"]
        .as_f64()
        .expect("band");
    let worst = val["decode_max_pct"].as_f64().expect("max");
    assert!(band >= worst, "band {band} < validation error {worst}");
    // Every rate measured here sits at or under its ceiling (probed profile).
    // Two server starts per model, each start's rates next to their ceilings.
    assert_eq!(
        v["models"].as_array().expect("models").len(),
        2 * (4 + n_validate)
    );
    assert!(
        v.get("above_ceiling").is_none(),
        "above the ceiling: {}",
        v["above_ceiling"]
    );
    assert!(cfg.path().join("hardware/cal-test.toml").is_file());
    // The first model is measured again at the end: the machine's drift.
    assert_eq!(
        v["drift"]["model"], "calib-256x2-q4_0-c256.gguf",
        "{}",
        v["drift"]
    );
    assert!(v["drift"]["last_tok_s"].as_f64().expect("again") > 0.0);
    // Generated once, kept for the next run.
    assert!(std::fs::read_dir(cache.path().join("calibrate"))
        .expect("cache")
        .any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "gguf"))));
}
