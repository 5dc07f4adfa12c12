//! `rooftune replay` against the real llama-server on a tiny generated model
//! (a byte vocabulary where a space costs three tokens: sizes given to
//! `session synth` at 1 char/token come out about 1.9x as many tokens):
//! with reuse on the server keeps what a request shares with the previous
//! one; the deepest turn starts sooner with reuse on than off; each injected
//! cache-breaker is found at its message and field, with the first differing
//! token at the change; and two conversations on one slot are told apart from
//! two conversations on two slots.

mod browser_support;
#[macro_use]
mod server_support;

use assert_cmd::Command;
use serde_json::Value;
use server_support::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/templates/chatml-tools.jinja")
}

fn synth(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let p = dir.join(format!("{name}.jsonl"));
    Command::cargo_bin("rooftune")
        .unwrap()
        .args([
            "session",
            "synth",
            "--chars-per-token",
            "1",
            "--output-tokens",
            "4",
        ])
        .args(args)
        .arg("-o")
        .arg(&p)
        .assert()
        .success();
    p
}

fn replay(server: &Path, session: &Path, args: &[&str], server_flags: &[&str]) -> Value {
    replay_predicting(
        server,
        session,
        &[&["--no-predict"], args].concat(),
        server_flags,
    )
}

/// `replay` that predicts TTFT when `args` asks (`--hw`), else probes.
fn replay_predicting(server: &Path, session: &Path, args: &[&str], server_flags: &[&str]) -> Value {
    let out = Command::cargo_bin("rooftune")
        .unwrap()
        .timeout(Duration::from_secs(300))
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .arg("replay")
        .arg(session)
        .arg("--server-bin")
        .arg(server)
        .arg("--model")
        .arg(tiny_model())
        .arg("--json")
        .args(args)
        .args(["--", "-t", "2", "--chat-template-file"])
        .arg(template())
        .args(server_flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn reuse_keeps_the_shared_prefix_and_the_deepest_turn_starts_sooner() {
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let s = synth(
        dir.path(),
        "reuse",
        &[
            "--turns",
            "4",
            "--max-depth",
            "1600",
            "--prefix",
            "1200",
            "--seed",
            "3",
        ],
    );
    let r = replay(
        &server,
        &s,
        &["--reuse", "both"],
        &["-c", "4096", "-np", "1"],
    );
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(
        (runs[0]["reuse"].as_bool(), runs[1]["reuse"].as_bool()),
        (Some(true), Some(false))
    );
    let on = runs[0]["requests"].as_array().unwrap();
    let off = runs[1]["requests"].as_array().unwrap();
    for q in &on[1..] {
        let e = &q["explanation"];
        let shared = u(&e["shared_prefix_tokens"]);
        assert!(
            shared + 8 >= u(&e["previous_tokens"]),
            "the session only appends: {e}"
        );
        assert!(u(&q["reused_tokens"]) as f64 >= 0.95 * shared as f64, "{q}");
        assert_eq!(e["verdict"], "reused", "{e}");
    }
    for q in off {
        assert_eq!(u(&q["reused_tokens"]), 0, "{q}");
    }
    let (a, b) = (on.last().unwrap(), off.last().unwrap());
    assert!(
        u(&a["new_tokens"]) * 4 < u(&b["new_tokens"]),
        "the deepest turn must differ several-fold in new tokens: {a} {b}"
    );
    let (t_on, t_off) = (a["ttft_s"].as_f64().unwrap(), b["ttft_s"].as_f64().unwrap());
    assert!(
        t_on < t_off,
        "TTFT at the deepest turn: on {t_on} s, off {t_off} s"
    );
    let buckets = runs[0]["buckets"].as_array().unwrap();
    assert_eq!(buckets[0]["label"], "0-10k");
    assert_eq!(u(&buckets[0]["requests"]), 4);
    report_of(dir.path(), &r, t_on, t_off);
}

/// `rooftune report REPLAY.json` on that replay: the TTFT and decode charts
/// with one line per run, the wall-time bars, the buckets; the deepest
/// turn's TTFT on each line is the one measured; nothing fetched; and the
/// page renders in a browser.
fn report_of(dir: &Path, r: &Value, t_on: f64, t_off: f64) {
    let json = dir.join("replay.json");
    std::fs::write(&json, serde_json::to_string(r).unwrap()).unwrap();
    let html = dir.join("replay.html");
    Command::cargo_bin("rooftune")
        .unwrap()
        .arg("report")
        .arg(&json)
        .arg("-o")
        .arg(&html)
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 3, "TTFT, decode, wall time");
    for want in [
        "time to first token (s)",
        "prompt depth (tokens)",
        "decode (tok/s)",
        "data-name=\"cache on\"",
        "data-name=\"cache off\"",
        "Where the time went",
        "<td>0-10k</td>",
    ] {
        assert!(page.contains(want), "{want}");
    }
    for t in [t_on, t_off] {
        assert!(page.contains(&format!(": {t:.2} s</title>")), "TTFT {t}");
    }
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    browser_support::browser_check(&html, 3);
}

/// Where each breaker must be found: field, and message or tool index
/// (`last` = the previous request's newest message).
fn expected(b: &str) -> (&'static str, &'static str, Option<u64>) {
    match b {
        "timestamp" | "nonce" => ("system_text", "message", Some(0)),
        "reminder" => ("message_content", "message", None),
        "tool-order" => ("tool_order", "tool", Some(1)),
        "compaction" => ("message_content", "message", Some(3)),
        _ => unreachable!(),
    }
}

#[test]
fn each_injected_breaker_is_found_at_its_field_and_token() {
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    for b in ["timestamp", "nonce", "reminder", "tool-order", "compaction"] {
        let s = synth(
            dir.path(),
            b,
            &[
                "--turns",
                "3",
                "--max-depth",
                "1600",
                "--prefix",
                "1000",
                "--seed",
                "5",
                "--break",
                b,
            ],
        );
        let show: &[&str] = if b == "nonce" { &["--show-text"] } else { &[] };
        let r = replay(&server, &s, show, &["-c", "4096", "-np", "1"]);
        let reqs = r["runs"][0]["requests"].as_array().unwrap();
        let q = reqs
            .iter()
            .find(|q| q["injected"].as_array().unwrap().iter().any(|x| x == b))
            .unwrap_or_else(|| panic!("{b}: no request lists it"));
        let e = &q["explanation"];
        assert_eq!(e["verdict"], "client_changed", "{b}: {e}");
        let (field, key, index) = expected(b);
        let c = &e["client_change"];
        assert_eq!(c["field"], field, "{b}: {e}");
        let want = index.unwrap_or_else(|| {
            // the reminder sat on the previous request's newest message
            let prev = &reqs[u(&e["previous"]) as usize];
            u(&prev["turn"]) * 2 + 1
        });
        assert_eq!(u(&c[key]), want, "{b}: {e}");
        let d = &e["divergence"];
        let dist = u(&d["tokens_from_change"]);
        assert!(
            dist <= 3,
            "{b}: first differing token {dist} tokens from the change: {e}"
        );
        assert!(
            u(&e["shared_prefix_tokens"]) < u(&e["previous_tokens"]),
            "{b}: {e}"
        );
        assert!(
            u(&q["reused_tokens"]) <= u(&e["shared_prefix_tokens"]) + 1,
            "{b}: {q}"
        );
        if b == "nonce" {
            let ctx = d["context"].as_str().unwrap();
            assert!(ctx.contains("[old: ") && ctx.contains(" | new: "), "{ctx}");
        } else {
            assert!(
                d.get("context").is_none(),
                "prompt text in JSON without --show-text: {d}"
            );
        }
    }
}

#[test]
fn a_catalog_profile_estimates_ttft_with_its_family_s_prefill_factors() {
    // An M2 Ultra profile: Apple's llama.cpp rows give prefill factors, so
    // every request gets an estimated TTFT, never under the roofline's bound.
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let s = synth(
        dir.path(),
        "est",
        &[
            "--turns",
            "2",
            "--max-depth",
            "900",
            "--prefix",
            "300",
            "--seed",
            "5",
        ],
    );
    let r = replay_predicting(
        &server,
        &s,
        &["--hw", "m2-ultra-192"],
        &["-c", "8192", "-np", "1"],
    );
    let reqs = r["runs"][0]["requests"].as_array().expect("requests");
    assert!(!reqs.is_empty(), "{r}");
    for q in reqs {
        let bound = q["predicted_ttft_s"].as_f64().expect("bound");
        let est = q["estimated_ttft_s"].as_f64().expect("estimate");
        assert!(est >= bound, "{q}");
    }
}

#[test]
fn two_conversations_on_one_slot_are_slot_contention() {
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let s = synth(
        dir.path(),
        "two",
        &[
            "--turns",
            "4",
            "--conversations",
            "2",
            "--max-depth",
            "1600",
            "--prefix",
            "1000",
            "--seed",
            "7",
        ],
    );
    let verdicts = |np: &str, ctx: &str| -> Vec<(String, Option<String>)> {
        let r = replay(&server, &s, &[], &["-c", ctx, "-np", np, "-cram", "0"]);
        r["runs"][0]["requests"].as_array().unwrap()[2..]
            .iter()
            .map(|q| {
                let e = &q["explanation"];
                (
                    e["verdict"].as_str().unwrap().to_string(),
                    e["server_cause"].as_str().map(str::to_string),
                )
            })
            .collect()
    };
    let one = verdicts("1", "4096");
    assert!(
        one.iter()
            .all(|(v, c)| v == "server_dropped" && c.as_deref() == Some("slot_contention")),
        "-np 1: {one:?}"
    );
    let two = verdicts("2", "8192");
    assert!(two.iter().all(|(v, _)| v == "reused"), "-np 2: {two:?}");
}

fn import(dir: &Path, flag: &str, log: &str) -> PathBuf {
    let p = dir.join(format!("{}.jsonl", flag.trim_start_matches('-')));
    Command::cargo_bin("rooftune")
        .unwrap()
        .args(["session", "import", flag])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/sessions")
                .join(log),
        )
        .args(["--system-tokens", "500", "--chars-per-token", "1", "-o"])
        .arg(&p)
        .assert()
        .success();
    p
}

/// Sessions imported from the Codex and Claude Code fixtures (tool calls,
/// tool results, a subagent interleaved with the main agent) replay on the
/// real server. A request whose conversation's previous request came just
/// before reuses what the two share; one that follows another conversation's
/// request reuses it too, or the log shows the other conversation took its
/// slot (the stand-in prefixes of main agent and subagent start alike, and
/// llama-server's slot similarity then picks the main agent's slot over a
/// free one).
#[test]
fn imported_sessions_replay_and_reuse_their_prefix() {
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    for (flag, log, np) in [
        ("--codex", "codex-rollout.jsonl", "1"),
        (
            "--claude-code",
            "claude/7c1d0e2f-0000-4000-8000-00000000beef.jsonl",
            "2",
        ),
    ] {
        let s = import(dir.path(), flag, log);
        let r = replay(&server, &s, &[], &["-c", "12288", "-np", np]);
        let reqs = r["runs"][0]["requests"].as_array().unwrap();
        assert_eq!(reqs.len(), if np == "1" { 4 } else { 6 }, "{flag}");
        let mut reused = 0;
        for (i, q) in reqs.iter().enumerate() {
            assert!(u(&q["prompt_tokens"]) > 0, "{flag}: {q}");
            let e = &q["explanation"];
            if q["turn"] == 0 {
                assert_eq!(e["verdict"], "first", "{flag}: {e}");
                continue;
            }
            let direct = reqs[i - 1]["conversation"] == q["conversation"];
            let hit = e["verdict"] == "reused"
                && u(&q["reused_tokens"]) as f64 >= 0.95 * u(&e["shared_prefix_tokens"]) as f64;
            let taken = e["verdict"] == "server_dropped" && e["server_cause"] == "slot_contention";
            assert!(hit || (!direct && taken), "{flag}: {q}");
            reused += usize::from(hit);
        }
        assert!(reused >= 3, "{flag}: {reqs:?}");
    }
}
