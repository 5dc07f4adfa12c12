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

/// `session import` on the fixtures (Codex CLI 0.58 rollout; Claude Code
/// 2.1.5 transcript with a subagent file): a session file that reads back,
/// with the stand-ins it filled in named in the header and on stderr, and
/// none of the log's text on stderr.
#[test]
fn import_writes_a_session_and_says_what_it_filled_in() {
    let d = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sessions");
    for (flag, file, requests, convs) in [
        ("--codex", data.join("codex-rollout.jsonl"), 4, 1),
        (
            "--claude-code",
            data.join("claude/7c1d0e2f-0000-4000-8000-00000000beef.jsonl"),
            6,
            2,
        ),
    ] {
        let out = d.path().join("s.jsonl");
        let a = Command::cargo_bin("rooftune")
            .unwrap()
            .args(["session", "import", flag])
            .arg(&file)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&a.stderr);
        assert!(a.status.success(), "{stderr}");
        assert!(
            stderr.contains("tool definitions not in the log: stand-in"),
            "{stderr}"
        );
        assert!(!stderr.contains("parse"), "log text on stderr: {stderr}");
        let text = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["kind"], "header");
        assert!(lines[0]["filled_in"]
            .as_array()
            .is_some_and(|f| !f.is_empty()));
        assert_eq!(lines.len() - 1, requests, "{flag}");
        let mut c: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l["conversation"].as_str().unwrap())
            .collect();
        c.sort_unstable();
        c.dedup();
        assert_eq!(c.len(), convs, "{flag}");
        // later requests of a conversation only append
        assert!(
            lines[1..]
                .iter()
                .filter(|l| l.get("append").is_some())
                .count()
                >= requests - convs
        );
    }
}
