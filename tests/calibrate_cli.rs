//! `rooftune calibrate` through the real binary: results naming generated
//! models are fitted, each model is predicted held out, and the fit is saved
//! with the profile where `predict --calibration` finds it.

mod campaign_support;

use assert_cmd::Command;
use campaign_support::{run_fake_campaign, Paths};
use rooftune::tune::fake::Script;
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
    let predict = |extra: &[&str]| {
        rooftune()
            .env("ROOFTUNE_CONFIG_DIR", &cfg)
            .args([
                "predict",
                "--hw",
                "ddr5-6000-2ch",
                "--calibration",
                "my-cal",
            ])
            .args(["--model", "llama-2-7b", "--quant", "q4_0"])
            .args(extra)
            .output()
            .expect("predict")
    };
    let p = predict(&["--json"]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    // In text it says where the estimate comes from (not the profile's eta and c).
    let t = predict(&[]);
    let text = String::from_utf8_lossy(&t.stdout);
    assert!(
        text.contains("estimate = the calibrated terms") && !text.contains("eta 0."),
        "{text}"
    );
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

/// A campaign whose defaults measure decode and prefill, over the fake.
const MIX_SPEC: &str = r#"
model = "m.gguf"
seed = 1
[space]
"-t" = [1, 2]
[objective]
metric = "mix"
mix = { decode = 0.7, prefill = 0.3 }
[budget]
trials = 2
"#;

#[test]
fn calibrate_reads_campaign_logs_beside_bench_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs = Vec::new();
    for (i, (h, l)) in [("256", "4"), ("512", "2")].iter().enumerate() {
        let m = dir.path().join(format!("c{i}.gguf"));
        synth(h, l, &m);
        let model = m.display().to_string();
        let script = Script {
            base: 150.0 / (i as f64 + 1.0),
            ..Script::default()
        };
        let paths = Paths {
            model: &model,
            server_bin: "llama-server",
        };
        let folder = run_fake_campaign(dir.path(), &format!("c{i}"), MIX_SPEC, script, 1e4, paths);
        // One as the folder, one as its trials.jsonl.
        inputs.push(if i == 0 {
            folder
        } else {
            folder.join("trials.jsonl")
        });
    }
    let m = dir.path().join("b.gguf");
    synth("384", "6", &m);
    inputs.push(result(dir.path(), &m, 300.0, &[(0, 60.0)]));
    let out = rooftune()
        .args(["calibrate", "--hw", "ddr5-6000-2ch", "--json"])
        .args(&inputs)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["calibration"]["models"], 3);
    let held = v["decode"]["held_out"].as_array().expect("held out");
    let models: std::collections::BTreeSet<&str> =
        held.iter().filter_map(|h| h["group"].as_str()).collect();
    assert_eq!(
        models.into_iter().collect::<Vec<_>>(),
        ["b.gguf", "c0.gguf", "c1.gguf"]
    );
    // The campaign's defaults measured 150 and 75 tok/s (the fake's base rate).
    let measured = |g: &str| {
        held.iter()
            .find(|h| h["group"] == g)
            .and_then(|h| h["measured_tok_s"].as_f64())
    };
    assert_eq!(measured("c0.gguf"), Some(150.0));
    assert_eq!(measured("c1.gguf"), Some(75.0));
    assert_eq!(
        v["prefill"]["held_out"].as_array().expect("prefill").len(),
        3
    );
}
