//! No server outlives rooftune, even behind a wrapper script: `--server-bin`
//! names a shell script that runs the real llama-server as its child (no
//! `exec`, as Homebrew/Nix/distro wrappers often do), and rooftune is stopped
//! with SIGTERM (handled like Ctrl-C: exit 143, a message) or SIGKILL (the
//! watchdog in the server's process group kills it). Skipped without a
//! llama-server; serialized by the shared server lock.

#[macro_use]
mod server_support;

use server_support::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Kills a pid on drop, so a failing test leaves nothing behind.
struct Reap(i32);

impl Drop for Reap {
    fn drop(&mut self) {
        if alive(self.0) {
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
            }
        }
    }
}

/// A wrapper that runs `real` as a child (not `exec`).
fn wrapper(dir: &Path, real: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("llama-server-wrapper");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\n{} \"$@\"\necho wrapper done\n",
            shell_quote(real)
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// Start `rooftune bench` through the wrapper; return it, the wrapper's pid
/// and llama-server's pid once the server is up.
fn start(bin: &Path, dir: &Path) -> (std::process::Child, Reap, Reap) {
    let mut child = long_bench(&wrapper(dir, bin), &["--hw", "ddr5-6000-2ch"])
        .env("ROOFTUNE_LOG_DIR", dir.join("logs"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let me = child.id() as i32;
    let wrapper = wait_child(me, "--port", Duration::from_secs(20));
    let server = wrapper.and_then(|w| wait_child(w, "--port", Duration::from_secs(20)));
    let (Some(wrapper), Some(server)) = (wrapper, server) else {
        let _ = child.kill();
        panic!("the wrapper did not start llama-server");
    };
    // Into loading and requests.
    std::thread::sleep(Duration::from_millis(1500));
    (child, Reap(wrapper), Reap(server))
}

#[test]
fn wrapped_server_dies_when_rooftune_gets_sigterm() {
    let bin = need_server!();
    let _l = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let (child, wrapper, server) = start(&bin, dir.path());
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(
        err.contains("interrupted by SIGTERM; the server was stopped"),
        "{err}"
    );
    assert!(
        gone_within(server.0, Duration::from_secs(5)),
        "llama-server {} outlived rooftune (SIGTERM)",
        server.0
    );
    assert!(gone_within(wrapper.0, Duration::from_secs(1)));
}

#[test]
fn wrapped_server_dies_when_rooftune_gets_sigkill() {
    let bin = need_server!();
    let _l = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _wrapper, server) = start(&bin, dir.path());
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    // The watchdog polls every 0.5 s, then SIGTERM, 2 s, SIGKILL.
    assert!(
        gone_within(server.0, Duration::from_secs(10)),
        "llama-server {} outlived a SIGKILLed rooftune",
        server.0
    );
}

#[test]
fn port_zero_picks_a_free_port() {
    let bin = need_server!();
    let _l = server_lock();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rooftune"))
        .args(["bench", "--hw", "ddr5-6000-2ch", "--server-bin"])
        .arg(&bin)
        .arg("--model")
        .arg(tiny_model())
        .args(QUICK_ARGS)
        .args([
            "--port",
            "0",
            "--timeout",
            "60",
            "--",
            "-t",
            "2",
            "-c",
            "512",
        ])
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("--port 0 means any free port"), "{text}");
}
