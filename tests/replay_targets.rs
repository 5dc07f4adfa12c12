//! `rooftune replay` against several targets in one run (`--url` repeated):
//! every target gets its runs, each run names its target, and the text
//! report sets the targets side by side in one table. Uses the scripted fake
//! OpenAI-compatible server (two instances), so it needs no real server.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use serde_json::Value;
use server_support::*;

fn session(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("s.jsonl");
    Command::cargo_bin("rooftune")
        .unwrap()
        .args([
            "session",
            "synth",
            "--turns",
            "3",
            "--max-depth",
            "2k",
            "--prefix",
            "1k",
            "--output-tokens",
            "4",
            "-o",
        ])
        .arg(&p)
        .assert()
        .success();
    p
}

#[test]
fn several_targets_one_report() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path());
    let (a, b) = (fake_url("ok", None), fake_url("ok", None));
    let run = |extra: &[&str]| {
        Command::cargo_bin("rooftune")
            .unwrap()
            .arg("replay")
            .arg(&s)
            .args(["--url", &a.url, "--url", &b.url, "--reuse", "both"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    let got: Vec<(&str, bool)> = runs
        .iter()
        .map(|r| (r["target"].as_str().unwrap(), r["reuse"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (a.url.as_str(), true),
            (a.url.as_str(), false),
            (b.url.as_str(), true),
            (b.url.as_str(), false)
        ]
    );
    assert!(runs
        .iter()
        .all(|r| r["requests"].as_array().unwrap().len() == 3));
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("By target"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .collect();
    for url in [&a.url, &b.url] {
        assert_eq!(
            table.iter().filter(|l| l.contains(url.as_str())).count(),
            2,
            "one row per target and reuse:\n{text}"
        );
    }
}
