//! `rooftune bench --url` against the scripted fake OpenAI-compatible server.

mod server_support;

use assert_cmd::Command;
use predicates::prelude::*;
use server_support::*;
use std::time::Duration;

fn bench(url: &str) -> Command {
    let mut c = Command::cargo_bin("rooftune").unwrap();
    c.timeout(Duration::from_secs(60)).args([
        "bench",
        "--url",
        url,
        "--depths",
        "0,64",
        "--repeats",
        "2",
        "--n-predict",
        "8",
        "--prompt-tokens",
        "100",
    ]);
    c
}

#[test]
fn url_counts_reasoning_tokens_and_hides_the_key() {
    let secret = "sk-test-secret-123";
    let f = fake_url("ok", Some(secret));
    let out = bench(&f.url)
        .args([
            "--api-key-env",
            "ROOFTUNE_TEST_KEY",
            "--model-name",
            "m",
            "--json",
        ])
        .env("ROOFTUNE_TEST_KEY", secret)
        .assert()
        .success()
        .stdout(predicate::str::contains(secret).not())
        .stderr(predicate::str::contains(secret).not())
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let d0 = &v["measurement"]["decode"][0];
    assert_eq!(d0["generated_tokens"], 8);
    // Half the fake's tokens are reasoning deltas: counted, not dropped.
    assert_eq!(d0["reasoning_share"], 0.5);
    assert_eq!(v["measurement"]["counting"], "tokenize");
    // Every request's raw record carries a timestamp per streamed token.
    let reqs = v["measurement"]["requests"].as_array().unwrap();
    let decode = reqs.iter().find(|r| r["kind"] == "decode").unwrap();
    assert_eq!(
        decode["record"]["token_times_s"].as_array().unwrap().len(),
        8
    );
    // TTFT skips the empty role delta: it is the first reasoning token.
    assert!(decode["record"]["first_token_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn wrong_key_is_a_clear_error() {
    let f = fake_url("ok", Some("right"));
    bench(&f.url)
        .args(["--api-key-env", "ROOFTUNE_TEST_KEY"])
        .env("ROOFTUNE_TEST_KEY", "wrong")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("HTTP 401"))
        .stderr(predicate::str::contains("wrong").not());
    bench(&f.url)
        .args(["--api-key-env", "ROOFTUNE_NOT_SET_ANYWHERE"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "`ROOFTUNE_NOT_SET_ANYWHERE` is not set",
        ));
}

#[test]
fn without_tokenize_the_count_is_the_servers() {
    let f = fake_url("no_tokenize", None);
    let out = bench(&f.url)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["measurement"]["counting"], "server_reported");
    let notes = v["measurement"]["notes"].to_string();
    assert!(notes.contains("usage.prompt_tokens"), "{notes}");
    let n = v["measurement"]["prefill"]["prompt_tokens"]
        .as_u64()
        .unwrap();
    assert!(
        (80..=120).contains(&n),
        "prompt fitted to about 100 tokens, got {n}"
    );
}

/// A count that is not a count (`usage.prompt_tokens = -7`) is ignored and
/// said, and the prompt is labelled estimated, not "the server's count".
#[test]
fn a_negative_usage_count_is_not_taken_as_the_servers() {
    let f = fake_url("bad_usage", None);
    let out = bench(&f.url)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["measurement"]["counting"], "estimated");
    let notes = v["measurement"]["notes"].to_string();
    assert!(notes.contains("usage.prompt_tokens = -7"), "{notes}");
    let text = bench(&f.url).assert().success().get_output().stdout.clone();
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("server's count"), "{text}");
    assert!(text.contains("(estimated)"), "{text}");
}

#[test]
fn url_stream_faults() {
    let f = fake_url("early", None);
    bench(&f.url)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ended early"));
    let f = fake_url("malformed", None);
    bench(&f.url)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("malformed event"));
    let f = fake_url("hang", None);
    bench(&f.url)
        .args(["--timeout", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("within 1 s"));
}

#[test]
fn bad_flags() {
    Command::cargo_bin("rooftune")
        .unwrap()
        .args(["bench", "--url", "localhost:8080/v1"])
        .assert()
        // A bad --url is bad input: exit 2, like every usage error.
        .code(2)
        .stderr(predicate::str::contains("must start with http://"));
    Command::cargo_bin("rooftune")
        .unwrap()
        .args(["bench", "--url", "http://x/v1", "--repeats", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--repeats"));
}

#[test]
fn a_key_the_server_echoes_back_is_redacted() {
    let secret = "sk-echo-secret-456";
    let f = fake_url("echo_auth", None);
    bench(&f.url)
        .args(["--api-key-env", "ROOFTUNE_TEST_KEY", "--model-name", "m"])
        .env("ROOFTUNE_TEST_KEY", secret)
        .assert()
        .failure()
        .stdout(predicate::str::contains(secret).not())
        .stderr(predicate::str::contains(secret).not())
        .stderr(predicate::str::contains("HTTP 401"))
        .stderr(predicate::str::contains("[REDACTED]"));
}
