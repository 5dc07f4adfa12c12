//! Generated models load and generate in the real llama-server: a dense
//! `llama` model and a `qwen3moe` mixture of experts each answer a
//! `/completion` request with the 8 tokens asked for.
//!
//! The server is found and serialised by the shared test helpers
//! (`server_support`). The server is started directly, not through
//! `rooftune::server`, so this proves the files themselves load; a guard kills
//! it on drop and on Linux it also dies with the test process (PR_SET_PDEATHSIG).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod server_support;
use server_support::{real_server, server_lock};

/// The running server; killed (SIGKILL) and reaped on drop.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(bin: &Path, model: &Path, log: PathBuf) -> Server {
    let port = free_port();
    let out = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("-m")
        .arg(model)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "-c",
            "512",
            "-t",
            "2",
        ])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death signal.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    Server {
        child: cmd.spawn().expect("starting llama-server"),
        port,
        log,
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    Ok((status, body))
}

fn wait_healthy(s: &mut Server) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(120) {
        if let Some(status) = s.child.try_wait().unwrap() {
            panic!(
                "llama-server exited with {status} while loading; log:\n{}",
                std::fs::read_to_string(&s.log).unwrap_or_default()
            );
        }
        if matches!(http(s.port, "GET", "/health", ""), Ok((200, _))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "llama-server not healthy after 120 s; log:\n{}",
        std::fs::read_to_string(&s.log).unwrap_or_default()
    );
}

fn generates_8_tokens(synth_args: &[&str]) {
    let Some(bin) = real_server() else {
        eprintln!("\n\n*** SKIPPED: no llama-server (set ROOFTUNE_LLAMA_SERVER or run scripts/install-llama-server.sh) ***\n");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("m.gguf");
    assert_cmd::Command::cargo_bin("rooftune")
        .unwrap()
        .arg("synth")
        .args(synth_args)
        .arg("-o")
        .arg(&model)
        .assert()
        .success();
    let _lock = server_lock();
    let mut s = start(&bin, &model, d.path().join("server.log"));
    wait_healthy(&mut s);
    let (status, body) = http(
        s.port,
        "POST",
        "/completion",
        r#"{"prompt":"hello","n_predict":8,"ignore_eos":true}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["timings"]["predicted_n"], 8, "{body}");
}

#[test]
fn llama_server_runs_a_generated_dense_model() {
    generates_8_tokens(&["--arch", "llama", "--size", "40MB", "--quant", "q8_0"]);
}

#[test]
fn llama_server_runs_a_generated_moe_model() {
    generates_8_tokens(&[
        "--arch",
        "moe",
        "--layers",
        "4",
        "--hidden",
        "1024",
        "--ff",
        "768",
        "--experts",
        "16",
        "--experts-used",
        "2",
        "--quant",
        "q8_0",
    ]);
}
