//! Against the real llama-server on a tiny generated model: lifecycle order,
//! a busy port, an interrupt, a killed parent, an allocation failure.
//! Skipped (with a message) when no llama-server is installed. Serialized by
//! a file lock and the nextest `serial-server` group.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use predicates::prelude::*;
use server_support::*;
use std::time::Duration;

const QUICK: &[&str] = &[
    "--depths",
    "0,64",
    "--repeats",
    "2",
    "--n-predict",
    "8",
    "--prompt-tokens",
    "64",
];

fn bench(bin: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("rooftune").unwrap();
    c.timeout(Duration::from_secs(120))
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .args(["bench", "--server-bin"])
        .arg(bin)
        .arg("--model")
        .arg(tiny_model());
    c
}

#[test]
fn real_server_lifecycle_order() {
    let bin = need_server!();
    let _l = server_lock();
    let out = bench(&bin)
        .args(QUICK)
        .args([
            "--hw",
            "ddr5-6000-2ch",
            "--json",
            "--",
            "-t",
            "2",
            "-c",
            "1024",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let events: Vec<String> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    let mut collapsed = events.clone();
    collapsed.dedup();
    assert_eq!(
        collapsed,
        [
            "server_start",
            "server_healthy",
            "warm_up",
            "prefill",
            "decode",
            "server_stop"
        ],
        "{events:?}"
    );
    assert!(v["target"]["version"].as_str().unwrap().contains("build"));
    assert_eq!(v["target"]["facts"]["n_ctx_slot"], 1024);
    assert_eq!(v["measurement"]["prefill"]["prompt_tokens"], 64);
    assert_eq!(v["measurement"]["decode"][1]["depth"], 64);
    assert!(v["ceilings"]["decode_tok_s"][0][1].as_f64().unwrap() > 0.0);
    let reqs = v["measurement"]["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1 + 2 + 2 * 2);
}

#[test]
fn real_server_busy_port_picks_another() {
    let bin = need_server!();
    let _l = server_lock();
    let busy = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = busy.local_addr().unwrap().port();
    bench(&bin)
        .args(QUICK_ARGS)
        .args(["--port", &port.to_string(), "--", "-t", "2", "-c", "512"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "port {port} is in use; using"
        )));
}

/// Start rooftune bench with a long plan; return it and its llama-server pid.
fn start_long(bin: &std::path::Path) -> (std::process::Child, i32) {
    let mut child = long_bench(bin, &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = wait_child(child.id() as i32, "--port", Duration::from_secs(20));
    let Some(server) = server else {
        let _ = child.kill();
        panic!("llama-server did not start");
    };
    // Let it get past loading, into requests.
    std::thread::sleep(Duration::from_millis(1500));
    if !alive(server) {
        let _ = child.kill();
        panic!("llama-server {server} ended early");
    }
    (child, server)
}

#[test]
fn real_server_dies_with_a_killed_parent() {
    let bin = need_server!();
    let _l = server_lock();
    let (mut child, server) = start_long(&bin);
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    assert!(
        gone_within(server, Duration::from_secs(5)),
        "llama-server {server} outlived rooftune"
    );
}

#[test]
fn real_server_stopped_on_interrupt() {
    let bin = need_server!();
    let _l = server_lock();
    let (mut child, server) = start_long(&bin);
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(gone_within(server, Duration::from_secs(2)));
}

#[tokio::test]
async fn real_server_allocation_failure_is_structured() {
    let bin = need_server!();
    let _l = server_lock();
    use rooftune::server::{llama::LlamaServer, RunningServer, ServerError, StartOptions};
    let dir = tempfile::tempdir().unwrap();
    let opts = StartOptions {
        ready_timeout: Duration::from_secs(60),
        log_dir: dir.path().into(),
        // 1 GiB of address space; a 1M-token context needs far more KV.
        address_space_limit_bytes: Some(1 << 30),
        ..StartOptions::default()
    };
    let extra: Vec<String> = ["-t", "1", "-c", "1000000", "-fit", "off"]
        .map(String::from)
        .to_vec();
    let err = RunningServer::start(&LlamaServer, &bin, &tiny_model(), &extra, &opts)
        .await
        .expect_err("must not load under the limit");
    let ServerError::Crashed { exit, tail, .. } = &err else {
        panic!("not a crash: {err}");
    };
    assert!(exit.code.is_some() || exit.signal.is_some());
    assert!(!tail.is_empty());
    eprintln!("{err}");
}
