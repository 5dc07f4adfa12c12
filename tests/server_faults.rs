//! Bad input and server faults, with the scripted fake server: every case is
//! one clear error, no hang, no stray process.

mod server_support;

use assert_cmd::Command;
use predicates::prelude::*;
use server_support::*;
use std::time::Duration;

fn bench() -> Command {
    let mut c = Command::cargo_bin("rooftune").unwrap();
    c.env_remove("ROOFTUNE_LLAMA_SERVER")
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .timeout(Duration::from_secs(60))
        .arg("bench");
    c
}

fn quick(c: &mut Command) -> &mut Command {
    c.args(QUICK_ARGS)
}

#[test]
fn missing_server_binary_says_how_to_install() {
    let empty = tempfile::tempdir().unwrap();
    bench()
        .env("PATH", empty.path())
        .env("ROOFTUNE_CACHE_DIR", empty.path())
        .args(["--model"])
        .arg(tiny_model())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no `llama-server` found"))
        .stderr(predicate::str::contains("install-llama-server.sh"));
    bench()
        .args(["--server-bin", "/nonexistent/llama-server", "--model"])
        .arg(tiny_model())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--server-bin points to `/nonexistent/llama-server`, which does not exist",
        ));
}

#[test]
fn model_missing_or_not_gguf() {
    bench()
        .args(["--server-bin"])
        .arg(fake_server())
        .args(["--model", "/nonexistent/m.gguf"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "model file `/nonexistent/m.gguf` does not exist",
        ));
    let t = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(t.path(), "just text\n").unwrap();
    bench()
        .args(["--server-bin"])
        .arg(fake_server())
        .arg("--model")
        .arg(t.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a GGUF file"));
}

#[test]
fn reserved_extra_flag_is_refused() {
    quick(
        bench()
            .args(["--server-bin"])
            .arg(fake_server())
            .arg("--model")
            .arg(tiny_model()),
    )
    .args(["--", "--port", "9"])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("extra server flag `--port`"));
}

fn fake_run(mode: &str, extra: &[&str]) -> (assert_cmd::assert::Assert, Option<i32>) {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let mut c = bench();
    quick(
        c.args(["--server-bin"])
            .arg(fake_server())
            .arg("--model")
            .arg(tiny_model())
            .env("FAKE_MODE", mode)
            .env("FAKE_PIDFILE", &pidfile),
    )
    .args(extra);
    let a = c.assert();
    let pid = read_pid(&pidfile, Duration::from_millis(100));
    (a, pid)
}

#[test]
fn fake_server_works_end_to_end() {
    let (a, pid) = fake_run("ok", &["--json"]);
    let out = a.success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["target"]["version"], "version: fake 1 (build 0)");
    assert_eq!(v["measurement"]["prefill"]["prompt_tokens"], 16);
    assert!(!alive(pid.unwrap()));
}

#[test]
fn crash_at_load_is_a_structured_error() {
    let (a, pid) = fake_run("crash_load", &[]);
    a.code(1)
        .stderr(predicate::str::contains(
            "llama-server died while loading the model: killed by signal 11 (SIGSEGV)",
        ))
        .stderr(predicate::str::contains("E fake: about to die"));
    assert!(!alive(pid.unwrap()));
}

#[test]
fn load_error_names_the_cause() {
    let (a, _) = fake_run("load_error", &[]);
    a.code(1)
        .stderr(predicate::str::contains("exit code 1; the log says: llama_model_load: error loading model: fake tensor data is truncated"));
}

#[test]
fn never_ready_times_out_and_stops_the_server() {
    let (a, pid) = fake_run("never_ready", &["--timeout", "2"]);
    a.code(1)
        .stderr(predicate::str::contains("was not ready after 2 s"));
    assert!(gone_within(pid.unwrap(), Duration::from_secs(2)));
}

#[test]
fn hung_request_times_out_and_stops_the_server() {
    let (a, pid) = fake_run("hang", &["--timeout", "2"]);
    a.code(1)
        .stderr(predicate::str::contains("got no answer within 2 s"))
        .stderr(predicate::str::contains("the server was stopped"));
    assert!(gone_within(pid.unwrap(), Duration::from_secs(2)));
}

#[test]
fn crash_during_request_reports_signal_and_log() {
    let (a, pid) = fake_run("crash_request", &[]);
    a.code(1).stderr(predicate::str::contains(
        "died while serving a request: killed by signal 11 (SIGSEGV)",
    ));
    assert!(!alive(pid.unwrap()));
}

#[test]
fn stream_that_ends_early_is_an_error() {
    let (a, pid) = fake_run("early", &[]);
    a.code(1).stderr(predicate::str::contains(
        "ended early: after 2 generated tokens",
    ));
    assert!(gone_within(pid.unwrap(), Duration::from_secs(2)));
}

#[test]
fn malformed_events_are_an_error() {
    let (a, _) = fake_run("malformed", &[]);
    a.code(1)
        .stderr(predicate::str::contains("malformed event"));
}

#[test]
fn an_mlx_crash_during_a_request_is_read_with_the_mlx_log_scanner() {
    // The fake dies mid-request after writing a Python error line, as
    // mlx_lm.server does; only mlx's scanner knows that line for the cause.
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let mut c = bench();
    quick(
        c.args(["--backend", "mlx", "--hw", "ddr5-6000-2ch", "--server-bin"])
            .arg(fake_server())
            .arg("--model")
            .arg(tiny_mlx_model())
            .env("FAKE_MODE", "crash_request_traceback")
            .env("FAKE_PIDFILE", &pidfile),
    );
    c.assert()
        .code(1)
        .stderr(predicate::str::contains(
            "mlx_lm.server died while serving a request: killed by signal 11 (SIGSEGV)",
        ))
        .stderr(predicate::str::contains(
            "the log says: RuntimeError: [fake] out of memory while serving",
        ));
    let pid = read_pid(&pidfile, Duration::from_millis(100));
    assert!(!alive(pid.unwrap()));
}
