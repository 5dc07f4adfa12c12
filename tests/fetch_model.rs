//! `scripts/fetch-model.sh` without the network: what it answers from a
//! model folder (`ROOFTUNE_MODEL_DIR`) in each state. The download itself is
//! exercised by `scripts/test.sh` and `scripts/setup.sh`.

use std::path::Path;
use std::process::{Command, Output};

const NAME: &str = "gemma-3-270m-q4_k_m.gguf";
const SIZE: u64 = 253_113_024;
const SHA256: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

fn fetch(dir: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-model.sh"))
        .args(args)
        .env("ROOFTUNE_MODEL_DIR", dir)
        .output()
        .unwrap()
}

/// A file of the model's size (sparse: zeros) with a marker claiming it verified.
fn fake_model(dir: &Path, size: u64) {
    let f = std::fs::File::create(dir.join(NAME)).unwrap();
    f.set_len(size).unwrap();
    std::fs::write(dir.join(format!("{NAME}.ok")), format!("{SIZE} {SHA256}\n")).unwrap();
}

#[test]
fn print_path_never_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let out = fetch(dir.path(), &["--print-path"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_verified_model_answers_at_once_and_a_wrong_size_does_not() {
    let dir = tempfile::tempdir().unwrap();
    fake_model(dir.path(), SIZE);
    let out = fetch(dir.path(), &["--print-path"]);
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.trim(), dir.path().join(NAME).display().to_string());
    fake_model(dir.path(), SIZE - 1);
    assert_eq!(fetch(dir.path(), &["--print-path"]).status.code(), Some(1));
}

#[test]
fn verify_rehashes_and_drops_a_corrupt_cache() {
    let dir = tempfile::tempdir().unwrap();
    fake_model(dir.path(), SIZE);
    let out = fetch(dir.path(), &["--print-path", "--verify"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fails its sha256"), "{err}");
    assert!(!dir.path().join(format!("{NAME}.ok")).exists());
}

#[test]
fn an_unknown_option_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = fetch(dir.path(), &["--nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--help"), "{err}");
}
