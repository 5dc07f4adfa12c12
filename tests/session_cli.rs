//! `rooftune session synth` through the real binary: the same seed writes
//! the same bytes, another seed another session, and the file is the
//! documented JSONL (a header, then requests that append or carry the full
//! list where a breaker edited history).

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn synth(out: &Path, extra: &[&str]) -> String {
    Command::cargo_bin("rooftune")
        .unwrap()
        .args([
            "session",
            "synth",
            "--turns",
            "6",
            "--max-depth",
            "20k",
            "--prefix",
            "4k",
        ])
        .args(extra)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn synth_is_deterministic_and_documented() {
    let d = tempfile::tempdir().unwrap();
    let a = synth(
        &d.path().join("a.jsonl"),
        &["--seed", "9", "--break", "compaction"],
    );
    let b = synth(
        &d.path().join("b.jsonl"),
        &["--seed", "9", "--break", "compaction"],
    );
    let c = synth(
        &d.path().join("c.jsonl"),
        &["--seed", "10", "--break", "compaction"],
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    let lines: Vec<Value> = a
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["kind"], "header");
    assert_eq!(lines[0]["breakers"], serde_json::json!(["compaction"]));
    assert_eq!(lines.len(), 7);
    let full: Vec<usize> = (1..lines.len())
        .filter(|&i| lines[i].get("messages").is_some())
        .collect();
    // the first request, and the compaction turn (the middle one), carry the full list
    assert_eq!(full, [1, 4]);
    assert!(lines[4]["injected"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "compaction"));
}
