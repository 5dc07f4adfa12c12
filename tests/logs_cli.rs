//! `rooftune logs analyze` through the real binary on the fixtures under
//! `tests/data/logs/` (written by its `make_fixtures.py`; Codex CLI 0.58.0
//! rollouts, Claude Code 2.1.5 transcripts, a TerminalBench-style CSV and an
//! OpenRouter-style JSONL). Every counting trap has a fixture and an exact total.

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/logs")
}

/// Run in the fixture folder with `.` as the path, so places print the same everywhere.
fn run(args: &[&str]) -> (String, String, Option<i32>) {
    let out = Command::cargo_bin("rooftune")
        .expect("binary")
        .current_dir(fixtures())
        .env("HOME", fixtures().join("no-home"))
        .env_remove("CODEX_HOME")
        .env_remove("CLAUDE_CONFIG_DIR")
        .args(["logs", "analyze"])
        .args(args)
        .output()
        .expect("runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (out, err, code) = run(&a);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).expect("json")
}

fn group<'a>(v: &'a Value, source: &str) -> &'a Value {
    v["summary"]["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["source"] == source))
        .unwrap_or_else(|| panic!("no {source} row in {v}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn every_counting_trap_gives_its_exact_total() {
    let v = json(&["."]);
    // Files: 3 Codex (one gzip), 2 Claude Code, 2 request logs; history.jsonl skipped.
    let f = &v["files"];
    assert_eq!(
        (u(&f["codex"]), u(&f["claude"]), u(&f["requests"])),
        (3, 2, 2)
    );
    assert_eq!((u(&f["gzip"]), u(&f["skipped"])), (1, 1));
    // Traps: 3 repeated token_count events, a fork's 3 replayed events,
    // a response written 3 times + two written twice.
    let s = &v["skipped"];
    assert_eq!(u(&s["codex_repeated"]), 3);
    assert_eq!(u(&s["codex_replayed"]), 3);
    assert_eq!(u(&s["claude_rows_merged"]), 4);
    // One malformed line per reader, each with its file:line.
    assert_eq!(u(&v["malformed_lines"]), 4);
    let places: Vec<&str> = v["malformed"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["place"].as_str())
        .collect();
    assert!(
        places.iter().any(|p| p.ends_with("00000000aaaa.jsonl:7")),
        "{places:?}"
    );
    assert!(
        places.iter().any(|p| p.ends_with("000000000001.jsonl:10")),
        "{places:?}"
    );
    assert!(
        places
            .iter()
            .any(|p| p.ends_with("terminalbench-run.csv:5")),
        "{places:?}"
    );
    assert!(
        places
            .iter()
            .any(|p| p.ends_with("openrouter-export.jsonl:3")),
        "{places:?}"
    );

    // Codex: 4 calls in the main thread, 2 new ones in the fork, 2 in the gzip archive.
    let c = group(&v, "codex");
    assert_eq!((u(&c["sessions"]), u(&c["requests"])), (3, 8));
    assert_eq!(u(&c["input_tokens"]), 340_000);
    assert_eq!(u(&c["cached_tokens"]), 309_700);
    assert_eq!(u(&c["output_tokens"]), 3_250);
    assert_eq!(c["median_input_tokens"], 27_500.0);
    // Claude Code main thread: the streamed response once, with its final 412 output tokens.
    let m = group(&v, "claude");
    assert_eq!(u(&m["requests"]), 3);
    assert_eq!(u(&m["input_tokens"]), 17_003 + 18_005 + 30_002);
    assert_eq!(u(&m["cached_tokens"]), 32_500);
    assert_eq!(u(&m["output_tokens"]), 412 + 95 + 250);
    // The subagent's sidechain, apart.
    let sc = group(&v, "claude-sidechain");
    assert_eq!(u(&sc["requests"]), 2);
    assert_eq!(u(&sc["output_tokens"]), 420);
    // Request logs: 6 CSV rows + 2 JSONL lines, timed.
    let r = group(&v, "requests");
    assert_eq!(
        (
            u(&r["sessions"]),
            u(&r["requests"]),
            u(&r["timed_requests"])
        ),
        (3, 8, 8)
    );
    assert_eq!(
        u(&r["output_tokens"]),
        200 + 204 + 198 + 208 + 180 + 179 + 320 + 300
    );
}

#[test]
fn where_the_time_went_in_the_request_logs() {
    let v = json(&["requests"]);
    let t = &v["summary"]["time"][0];
    assert_eq!(u(&t["sessions"]), 3);
    // ttft 0.8+1.1+4.0+3.2 + 1.3+1.2 + 0.9+0.7
    let close = |x: &Value, want: f64| (x.as_f64().unwrap_or(f64::NAN) - want).abs() < 1e-6;
    assert!(close(&t["first_token_wait_s"], 13.2), "{t}");
    assert!(
        close(
            &t["decoding_s"],
            4.0 + 4.0 + 4.4 + 5.0 + 1.0 + 1.0 + 2.0 + 2.0
        ),
        "{t}"
    );
    assert!(close(&t["gaps_s"], 5.2 + 9.9 + 6.6 + 7.1), "{t}");
    assert!(close(&t["idle_s"], 897.7), "{t}");
    // task-a's first call (cold) and third (2k of 40k cached) miss the cache.
    assert_eq!(u(&t["miss_requests"]), 2);
    assert!(close(&t["miss_explained_s"], 4.0 - 2.15), "{t}");
}

#[test]
fn by_model_gives_the_serving_path_rows() {
    let v = json(&["requests", "--by", "model"]);
    let models: Vec<&str> = v["summary"]["groups"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|g| g["model"].as_str())
        .collect();
    assert_eq!(
        models,
        [
            "openai/gpt-5.5",
            "openrouter/gpt-5.4-mini",
            "openrouter/qwen3.6-27b"
        ]
    );
}

#[test]
fn since_drops_earlier_calls() {
    let v = json(&[".", "--since", "2026-01-11"]);
    assert_eq!(u(&v["before_since"]), 8, "all Codex calls are older");
    assert!(v["summary"]["groups"]
        .as_array()
        .expect("rows")
        .iter()
        .all(|g| g["source"] != "codex"));
}

#[test]
fn no_fixture_text_reaches_any_output() {
    let mut outputs = Vec::new();
    for args in [
        vec!["."],
        vec![".", "--json"],
        vec![".", "--by", "model"],
        vec![".", "--by", "model", "--json"],
        vec![".", "--format", "csv"],
        vec![".", "--markdown"],
        vec![".", "--format", "html"],
    ] {
        let (out, err, code) = run(&args);
        assert_eq!(code, Some(0), "{err}");
        outputs.push(out + &err);
    }
    // Every prose field of the fixtures carries this marker.
    let marked = std::fs::read_to_string(fixtures().join("requests/terminalbench-run.csv"))
        .expect("fixture");
    assert!(marked.contains("SECRET"));
    for o in &outputs {
        assert!(!o.contains("SECRET"), "text leaked:\n{o}");
        assert!(!o.contains("with a comma"), "text leaked:\n{o}");
    }
}

#[test]
fn text_table_snapshot() {
    let (out, err, code) = run(&["."]);
    assert_eq!(code, Some(0), "{err}");
    insta::assert_snapshot!("logs_analyze_text", out);
}

#[test]
fn csv_and_markdown_through_the_formats_seam() {
    let (out, err, code) = run(&["requests", "--format", "csv"]);
    assert_eq!(code, Some(0), "{err}");
    insta::assert_snapshot!("logs_analyze_requests_csv", out);
    let (out, err, code) = run(&["requests", "--markdown"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("| requests | 0-10k"), "{out}");
}

#[test]
fn json_snapshot() {
    let v = json(&[".", "--by", "model"]);
    insta::assert_json_snapshot!("logs_analyze_json_by_model", v);
}

#[test]
fn bad_input_is_one_line_with_a_hint() {
    let (_, err, code) = run(&[".", "--since", "last tuesday"]);
    assert_eq!(code, Some(2));
    insta::assert_snapshot!("logs_bad_since", err);
    let (_, err, code) = run(&["no-such-dir"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no-such-dir") && err.contains("hint:"),
        "{err}"
    );
    // No PATH and no usual places (HOME points at an empty folder).
    let (_, err, code) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no agent logs found") && err.contains("hint:"),
        "{err}"
    );
}
