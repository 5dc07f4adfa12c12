//! Helpers for tests that start servers: a cross-process lock (so plain
//! `cargo test` never runs two servers at once), tiny generated models, the
//! scripted fake server, and process checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The rooftune binary for a test that serves: 240 s to finish, server logs
/// kept under the temp folder's `rooftune-test-logs`.
pub fn rooftune() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("rooftune").expect("binary");
    c.timeout(std::time::Duration::from_secs(240)).env(
        "ROOFTUNE_LOG_DIR",
        std::env::temp_dir().join("rooftune-test-logs"),
    );
    c
}

/// The real llama-server's path, or return from the test with a note.
#[allow(unused_macros)]
macro_rules! need_server {
    () => {
        match real_server() {
            Some(p) => p,
            None => {
                eprintln!("skipped: no llama-server (run scripts/install-llama-server.sh)");
                return;
            }
        }
    };
}
/// The real model (Gemma 3 270M Q4_K_M) path, or return from the test with a
/// note. Same policy as `need_server!`: skipped when it is not fetched; when
/// `ROOFTUNE_GEMMA` names it (scripts/test.sh does), it must be there.
#[allow(unused_macros)]
macro_rules! need_gemma {
    () => {
        match gemma_model() {
            Some(p) => p,
            None => {
                eprintln!("skipped: no Gemma 3 270M model (run scripts/fetch-model.sh, or set ROOFTUNE_GEMMA)");
                return;
            }
        }
    };
}
/// The real mlx_lm.server's path, or return from the test with a note.
/// Same policy as `need_server!`: `scripts/test.sh` installs it and exports
/// `ROOFTUNE_MLX_SERVER`, so in CI the MLX tests run.
#[allow(unused_macros)]
macro_rules! need_mlx {
    () => {
        match real_mlx_server() {
            Some(p) => p,
            None => {
                eprintln!("skipped: no mlx_lm.server (run scripts/install-mlx.sh)");
                return;
            }
        }
    };
}
use std::process::Command;
use std::time::{Duration, Instant};

/// The smallest bench measurement: one repeat, a 16-token prompt, 4 generated tokens.
pub const QUICK_ARGS: &[&str] = &[
    "--depths",
    "0",
    "--repeats",
    "1",
    "--n-predict",
    "4",
    "--prompt-tokens",
    "16",
];

/// Holds an exclusive `flock` on a file in the temp dir until dropped.
pub struct ServerLock(std::fs::File);

impl Drop for ServerLock {
    fn drop(&mut self) {
        use std::os::unix::io::AsRawFd;
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Take the one-server-at-a-time lock.
pub fn server_lock() -> ServerLock {
    use std::os::unix::io::AsRawFd;
    let p = std::env::temp_dir().join("rooftune-server-tests.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(p)
        .expect("lock file");
    unsafe {
        libc::flock(f.as_raw_fd(), libc::LOCK_EX);
    }
    ServerLock(f)
}

/// The real llama-server, if one is installed (else the test is skipped).
pub fn real_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROOFTUNE_LLAMA_SERVER") {
        return Some(p.into());
    }
    printed_path("scripts/install-llama-server.sh")
}

/// What `bash SCRIPT --print-path` prints (the cached install; these scripts
/// never download in that mode), if it succeeds.
fn printed_path(script: &str) -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new("bash")
        .arg(script)
        .arg("--print-path")
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !p.is_empty()).then(|| PathBuf::from(p))
}

/// The real mlx_lm.server: `$ROOFTUNE_MLX_SERVER`, else the cached venv
/// (`scripts/install-mlx.sh --print-path`, which never downloads).
pub fn real_mlx_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROOFTUNE_MLX_SERVER").filter(|v| !v.is_empty()) {
        return Some(p.into());
    }
    printed_path("scripts/install-mlx.sh")
}

/// A tiny MLX model directory written by `rooftune synth --format mlx`
/// (2 layers, hidden 128, vocab 256, float32), shared by tests.
pub fn tiny_mlx_model() -> PathBuf {
    synth_once(
        "tiny-mlx-2x128",
        "model.safetensors",
        &[
            "synth",
            "--format",
            "mlx",
            "--layers",
            "2",
            "--hidden",
            "128",
            "--vocab-size",
            "256",
        ],
    )
}

/// A tiny twin written by `rooftune synth --format both` (2 layers, hidden
/// 128, vocab 256, float32): `DIR/model.gguf` and `DIR/mlx/` with the same
/// weights, shared by tests.
pub fn tiny_twin() -> PathBuf {
    synth_once(
        "tiny-twin-2x128",
        "model.gguf",
        &[
            "synth",
            "--format",
            "both",
            "--layers",
            "2",
            "--hidden",
            "128",
            "--vocab-size",
            "256",
        ],
    )
}

/// `rooftune synth ARGS -o NAME` once per machine and version, in the temp
/// dir, written aside and renamed into place (so a test never sees half a
/// model); `done` is the file inside a model directory that says it is
/// complete ("" for a single file).
fn synth_once(name: &str, done: &str, args: &[&str]) -> PathBuf {
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!(
        "rooftune-test-models-{}",
        env!("CARGO_PKG_VERSION")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let complete = if done.is_empty() {
        p.clone()
    } else {
        p.join(done)
    };
    if !complete.exists() {
        let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
        let st = Command::new(env!("CARGO_BIN_EXE_rooftune"))
            .args(args)
            .arg("-o")
            .arg(&tmp)
            .status()
            .unwrap();
        assert!(st.success());
        let _ = std::fs::remove_dir_all(&p);
        std::fs::rename(&tmp, &p).unwrap();
    }
    p
}

/// Pids of running `mlx_lm.server` processes whose command line names `needle`.
pub fn mlx_servers_for(needle: &str) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd);
        (cmd.contains("mlx_lm.server") && cmd.contains(needle) && alive(pid)).then_some(pid)
    })
    .collect()
}

/// The real model: `$ROOFTUNE_GEMMA`, else the cached download if there is one
/// (`scripts/fetch-model.sh --print-path`, which never downloads).
pub fn gemma_model() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROOFTUNE_GEMMA") {
        return Some(p.into());
    }
    printed_path("scripts/fetch-model.sh")
}

/// A tiny model written by `rooftune synth` (2 layers, hidden 256, q8_0), shared by tests.
pub fn tiny_model() -> PathBuf {
    synth_once(
        "tiny-2x256-q8_0.gguf",
        "",
        &[
            "synth", "--arch", "llama", "--layers", "2", "--hidden", "256", "--quant", "q8_0",
        ],
    )
}

/// `rooftune bench` with a plan long enough to still be running when a test
/// kills or interrupts it (1000 repeats of 64 tokens on the tiny model,
/// `-t 1 -c 512`), through `server_bin`; `before` goes ahead of the server
/// flags (`--hw NAME`). The caller sets stdio and spawns it.
pub fn long_bench(server_bin: &Path, before: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rooftune"));
    cmd.args(["bench", "--server-bin"])
        .arg(server_bin)
        .arg("--model")
        .arg(tiny_model())
        .args(before)
        .args(["--depths", "0", "--repeats", "1000", "--n-predict", "64"])
        .args(["--", "-t", "1", "-c", "512"]);
    cmd
}

/// Path of the scripted fake server.
pub fn fake_server() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/server_support/fake_server.py")
}

/// Whether process `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(st) => st
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Wait until `pid` is gone; true if it went within `d`.
pub fn gone_within(pid: i32, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

/// Children of `ppid` (from /proc).
pub fn children_of(ppid: i32) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let st = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let rest = st.rsplit_once(") ")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        (f.get(1)?.parse::<i32>().ok()? == ppid && f[0] != "Z").then_some(pid)
    })
    .collect()
}

/// Wait for a child of `ppid` whose command line contains `needle`.
pub fn wait_child(ppid: i32, needle: &str, d: Duration) -> Option<i32> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        let found = children_of(ppid).into_iter().find(|c| {
            std::fs::read(format!("/proc/{c}/cmdline"))
                .is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle))
        });
        if found.is_some() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Read a pid file written by the fake server.
pub fn read_pid(p: &Path, d: Duration) -> Option<i32> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if let Some(pid) = std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Start the fake as a standalone OpenAI-compatible server on a free port.
pub struct FakeUrl {
    pub child: std::process::Child,
    pub url: String,
}

impl Drop for FakeUrl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn fake_url(mode: &str, api_key: Option<&str>) -> FakeUrl {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = Command::new(fake_server());
    c.args(["--port", &port.to_string()])
        .env("FAKE_MODE", mode)
        .stdout(std::process::Stdio::null());
    if let Some(k) = api_key {
        c.env("FAKE_API_KEY", k);
    }
    let child = c.spawn().unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    FakeUrl {
        child,
        url: format!("http://127.0.0.1:{port}/v1"),
    }
}

/// The RPC worker (`ggml-rpc-server`) beside the server, or None (skip,
/// with a note); when `ROOFTUNE_RPC_SERVER` names it (scripts/test.sh
/// sets it), it must be there.
pub fn rpc_worker_for(server: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROOFTUNE_RPC_SERVER") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "ROOFTUNE_RPC_SERVER={} is missing",
            p.display()
        );
        return Some(p);
    }
    let p = server.parent()?.join("ggml-rpc-server");
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "skipped: no ggml-rpc-server beside {} (scripts/install-llama-server.sh builds it)",
            server.display()
        );
        None
    }
}

/// Processes whose command line holds all of `needles`.
pub fn processes_with(needles: &[&str]) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| {
                let e = e.ok()?;
                let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                (needles.iter().all(|n| cmd.contains(n)) && alive(pid)).then_some(pid)
            })
            .collect()
        })
        .unwrap_or_default()
}
