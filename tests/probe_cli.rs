//! `rooftune hw probe` through the real binary: saving, loading with `--hw`,
//! refusing bundled names. Tiny arrays keep it fast; no timing is asserted.

use assert_cmd::Command;
use predicates::prelude::*;

fn rooftune(config: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("rooftune").expect("binary");
    c.env("ROOFTUNE_CONFIG_DIR", config);
    c
}

#[test]
fn save_json_then_predict_with_the_saved_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = rooftune(dir.path())
        .args([
            "hw",
            "probe",
            "--quick",
            "--array-mib",
            "4",
            "--save",
            "x",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let triad = v["probe"]["bandwidth"]["triad"]["best_gb_s"]
        .as_f64()
        .expect("triad");
    assert!(triad.is_finite() && triad > 0.0);
    assert_eq!(v["profile"]["name"], "x");
    assert_eq!(v["profile"]["memory_kind"], "host");
    let path = dir.path().join("hardware/x.toml");
    assert_eq!(
        v["saved"].as_str().map(std::path::PathBuf::from),
        Some(path.clone())
    );

    let text = std::fs::read_to_string(&path).expect("saved file");
    let p: rooftune::catalog::hardware::HardwareProfile =
        rooftune::catalog::parse_toml("x.toml", &text).expect("parses");
    assert!(p
        .bandwidth_gb_s
        .source
        .contains("measured by rooftune hw probe on"));
    assert_eq!(
        p.origin.as_deref().map(|o| o.starts_with("hw probe")),
        Some(true)
    );

    rooftune(dir.path())
        .args(["predict", "--hw", "x", "--model", "llama-3.1-8b"])
        .assert()
        .success()
        .stdout(predicate::str::contains("on x"));
    rooftune(dir.path())
        .args(["hw", "show", "x"])
        .assert()
        .success()
        .stdout(predicate::str::contains("measured by rooftune hw probe"));
}

#[test]
fn refuses_to_overwrite_a_bundled_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["rtx-4090", "m3-ultra"] {
        rooftune(dir.path())
            .args(["hw", "probe", "--quick", "--save", name])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("bundled hardware profile"));
    }
    assert!(!dir.path().join("hardware").exists());
}

#[test]
fn rejects_names_hw_cannot_select() {
    let dir = tempfile::tempdir().expect("tempdir");
    rooftune(dir.path())
        .args(["hw", "probe", "--save", "My Box"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a usable profile name"));
}

#[test]
fn text_report_names_the_kernels() {
    let dir = tempfile::tempdir().expect("tempdir");
    rooftune(dir.path())
        .args(["hw", "probe", "--quick", "--array-mib", "4"])
        .assert()
        .success()
        .stdout(predicate::str::contains("triad"))
        .stdout(predicate::str::contains("not saved"));
    assert!(!dir.path().join("hardware").exists());
}

#[test]
fn arrays_larger_than_half_the_memory_are_refused_before_allocating() {
    let dir = tempfile::tempdir().expect("tempdir");
    rooftune(dir.path())
        .args(["hw", "probe", "--array-mib", "1048576"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--array-mib"));
}
