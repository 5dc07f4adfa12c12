//! `rooftune calibrate` through the real binary: results naming generated
//! models are fitted, each model is predicted held out, and the fit is saved
//! with the profile where `predict --calibration` finds it.

use assert_cmd::Command;
use std::path::Path;

fn rooftune() -> Command {
    Command::cargo_bin("rooftune").expect("binary")
}

fn synth(hidden: &str, layers: &str, out: &Path) {
    rooftune()
        .args([
            "synth", "--hidden", hidden, "--layers", layers, "--quant", "q8_0", "-o",
        ])
        .arg(out)
        .assert()
        .success();
}

/// A bench result in `bench --json`'s layout with the rates given.
fn result(dir: &Path, model: &Path, prefill: f64, decode: &[(u64, f64)]) -> std::path::PathBuf {
    let stat = |x: f64| serde_json::json!({ "median": x });
    let v = serde_json::json!({
        "target": { "model": model.display().to_string() },
        "measurement": {
            "prefill": { "prompt_tokens": 512, "server_tok_s": stat(prefill) },
            "decode": decode.iter().map(|(d, r)| serde_json::json!({ "depth": d, "server_tok_s": stat(*r) })).collect::<Vec<_>>(),
        }
    });
    let name = model
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .to_string();
    let p = dir.join(format!("bench-{name}.json"));
    std::fs::write(&p, v.to_string()).expect("write");
    p
}

#[test]
fn calibrate_fits_holds_out_and_saves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = [("256", "4"), ("512", "2"), ("384", "6")];
    let mut files = Vec::new();
    for (i, (h, l)) in models.iter().enumerate() {
        let m = dir.path().join(format!("m{i}.gguf"));
        synth(h, l, &m);
        let r = 200.0 / (i as f64 + 1.0);
        files.push(result(dir.path(), &m, 4.0 * r, &[(0, r), (1024, 0.8 * r)]));
    }
    let cfg = dir.path().join("cfg");
    let out = rooftune()
        .env("ROOFTUNE_CONFIG_DIR", &cfg)
        .args([
            "calibrate",
            "--hw",
            "ddr5-6000-2ch",
            "--save",
            "my-cal",
            "--json",
        ])
        .args(&files)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["decode"]["held_out"].as_array().expect("held out").len(),
        6
    );
    assert_eq!(v["calibration"]["models"], 3);
    assert!(
        v["calibration"]["decode_holdout_pct"]
            .as_f64()
            .expect("pct")
            >= 0.0
    );
    assert!(v["prefill"]["held_out"].as_array().is_some());
    assert!(cfg.join("hardware/my-cal.toml").is_file());
    // predict uses it: the band is the held-out error.
    let p = rooftune()
        .env("ROOFTUNE_CONFIG_DIR", &cfg)
        .args([
            "predict",
            "--hw",
            "ddr5-6000-2ch",
            "--calibration",
            "my-cal",
            "--model",
            "llama-2-7b",
            "--quant",
            "q4_0",
            "--json",
        ])
        .output()
        .expect("predict");
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
}

#[test]
fn one_model_is_too_few_to_hold_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("m.gguf");
    synth("256", "2", &m);
    let f = result(dir.path(), &m, 100.0, &[(0, 50.0)]);
    rooftune()
        .args(["calibrate", "--hw", "ddr5-6000-2ch"])
        .arg(&f)
        .assert()
        .failure()
        .stderr(predicates::str::contains("at least 2 models"));
}
