//! Messages that used to mislead, and one exit code per kind of error:
//! usage and validation errors exit 2 whichever command meets them. Real
//! binary; no server is started (the Ctrl-C case uses the scripted fake).

mod server_support;

use assert_cmd::Command;
use predicates::prelude::*;
use server_support::*;
use std::time::Duration;

fn rooftune() -> Command {
    let mut c = Command::cargo_bin("rooftune").unwrap();
    c.timeout(Duration::from_secs(60));
    c
}

/// A spec in `dir` naming `model` and `extra` top-level keys.
fn spec(dir: &std::path::Path, model: &str, extra: &str) -> std::path::PathBuf {
    let p = dir.join("s.toml");
    std::fs::write(
        &p,
        format!("model = {model:?}\nhardware = \"m3-ultra-512\"\n{extra}\n[space]\n\"-b\" = [256, 2048]\n[objective]\nmetric = \"decode\"\n[budget]\ntrials = 2\n"),
    )
    .unwrap();
    p
}

#[test]
fn usage_errors_exit_2_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    rooftune()
        .args([
            "predict", "--hw", "m3-ultra", "--model", "glm-5.1", "--ctk", "q9_0",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown ggml type `q9_0`"));
    let bad = dir.path().join("latin1.toml");
    std::fs::write(&bad, b"model = \"caf\xe9.gguf\"\n").unwrap();
    rooftune()
        .args(["tune", "--dry-run"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("latin1.toml"));
    let missing = spec(dir.path(), "nope.gguf", "");
    rooftune()
        .arg("tune")
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope.gguf` does not exist"));
    rooftune()
        .args(["bench", "--hw", "m3-ultra", "--url", "not a url"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad server URL"));
}

#[test]
fn messages_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    rooftune()
        .args([
            "bench",
            "--hw",
            "m3-ultra",
            "--url",
            "http://127.0.0.1:9/v1",
            "--n-predict",
            "1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--n-predict must be at least 2"))
        .stderr(predicate::str::contains("got 0").not());
    let a = dir.path().join("a.gguf");
    let b = dir.path().join("b.gguf");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    rooftune()
        .args(["bench", "--hw", "m3-ultra", "--model"])
        .arg(&a)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("loop of symbolic links"));
    rooftune()
        .args([
            "predict", "--hw", "m3-ultra", "--model", "glm-5.1", "--quant", "bpw:0",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bits per weight must be above 0.5",
        ))
        .stderr(predicate::str::contains("bf16").not());
    let s = spec(dir.path(), "m.gguf", "server = \"/no/such/llama-server\"");
    for dry in [true, false] {
        let mut c = rooftune();
        c.arg("tune");
        if dry {
            c.arg("--dry-run");
        }
        c.arg(&s)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("`server = ...` in"))
            .stderr(predicate::str::contains("--server-bin points").not());
    }
}

#[test]
fn ctrl_c_on_bench_url_does_not_claim_a_server_was_stopped() {
    let f = fake_url("hang", None);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rooftune"))
        .args([
            "bench",
            "--hw",
            "m3-ultra",
            "--url",
            &f.url,
            "--model-name",
            "m",
            "--timeout",
            "60",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted by Ctrl-C; nothing was left running"),
        "{err}"
    );
    assert!(!err.contains("server was stopped"), "{err}");
}
