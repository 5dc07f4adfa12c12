//! llama.cpp's RPC workers: `ggml-rpc-server` processes that lend their
//! devices to a `llama-server --rpc host:port,...` head, so one model can be
//! split across hosts.
//!
//! rooftune starts local workers itself (`bench --rpc-workers N`) the way it
//! starts a server ([`super::supervise::Process`]: own process group, log
//! file, watchdog, SIGTERM then SIGKILL on drop), and only ever binds them to
//! loopback: the RPC protocol has no authentication. Workers on other hosts
//! are given by address (`--rpc host:port`) and are the user's to run.
//! [`Topology`] is what the log records about a split: the workers, the
//! devices the head saw (`llama-server --rpc ... --list-devices`), the link
//! and the graph splits of the loaded model.

use super::supervise::{self, Process, StartOptions};
use super::ServerError;
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Names of the worker binary: the current one, then the older name.
pub const WORKER_NAMES: &[&str] = &["ggml-rpc-server", "rpc-server"];
/// Environment variable naming the worker binary.
pub const ENV_VAR: &str = "ROOFTUNE_RPC_SERVER";
/// How long a worker may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors about RPC workers and their addresses.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// A `--rpc` entry that is not `host:port`.
    #[error("`{0}` is not a worker address for --rpc\n  (hint: give host:port, e.g. 192.168.1.20:50052 or 127.0.0.1:50052)")]
    BadAddress(String),
    /// The worker binary is nowhere.
    #[error("no `ggml-rpc-server` found (looked at ${ENV_VAR}, beside `{beside}` and on PATH)\n  (hint: scripts/install-llama-server.sh builds it with -DGGML_RPC=ON next to llama-server; or set ${ENV_VAR})")]
    NotFound {
        /// The llama-server it should sit beside.
        beside: String,
    },
    /// Starting a worker failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A worker exited or never accepted connections.
    #[error("RPC worker on {addr} {problem}\n  last lines of {log}:\n{tail}")]
    NotReady {
        /// Its address.
        addr: String,
        /// What went wrong.
        problem: String,
        /// Its log file.
        log: String,
        /// The end of its log, indented.
        tail: String,
    },
}

impl RpcError {
    /// True for what the user gave (an address, a missing binary): exit code 2.
    pub fn is_usage(&self) -> bool {
        match self {
            RpcError::BadAddress(_) | RpcError::NotFound { .. } => true,
            RpcError::Server(e) => e.is_usage(),
            RpcError::NotReady { .. } => false,
        }
    }
}

/// Check `--rpc` entries: each `host:port` with a port.
pub fn parse_addresses(list: &[String]) -> Result<Vec<String>, RpcError> {
    list.iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (host, port) = a
                .rsplit_once(':')
                .ok_or_else(|| RpcError::BadAddress(a.into()))?;
            match port.parse::<u16>() {
                Ok(p) if p > 0 && !host.is_empty() => Ok(a.to_string()),
                _ => Err(RpcError::BadAddress(a.into())),
            }
        })
        .collect()
}

/// The worker binary: `$ROOFTUNE_RPC_SERVER`, beside `llama_server`, then PATH.
pub fn locate_worker(llama_server: &Path) -> Result<PathBuf, RpcError> {
    let exe = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if let Some(v) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        if exe(&p) {
            return Ok(p);
        }
    }
    let real = std::fs::canonicalize(llama_server).unwrap_or_else(|_| llama_server.into());
    let dirs = [llama_server.parent(), real.parent()];
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for dir in dirs
        .into_iter()
        .flatten()
        .chain(path_dirs.iter().map(PathBuf::as_path))
    {
        for name in WORKER_NAMES {
            let p = dir.join(name);
            if exe(&p) {
                return Ok(p);
            }
        }
    }
    Err(RpcError::NotFound {
        beside: llama_server.display().to_string(),
    })
}

/// One worker rooftune started. Dropping it stops it.
#[derive(Debug)]
pub struct Worker {
    /// `host:port` for `--rpc`.
    pub addr: String,
    /// Its log file.
    pub log_path: PathBuf,
    /// The exact command line, shell-quoted.
    pub command_line: String,
    process: Process,
}

impl Worker {
    /// Process id (and process group).
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }
}

/// Where and how to start a worker.
#[derive(Debug, Clone, Default)]
pub struct WorkerSpec {
    /// Threads (`-t`), or the worker's default.
    pub threads: Option<u32>,
    /// Device (`-d`), or the worker's default (all it has).
    pub device: Option<String>,
}

/// Start `n` workers on loopback, each on a free port, and wait until each
/// accepts connections. On any failure the ones already started are stopped
/// (their guards drop).
pub async fn start_local(
    bin: &Path,
    n: u32,
    spec: &WorkerSpec,
    opts: &StartOptions,
) -> Result<Vec<Worker>, RpcError> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(start_one(bin, "127.0.0.1", spec, opts).await?);
    }
    Ok(out)
}

async fn start_one(
    bin: &Path,
    host: &str,
    spec: &WorkerSpec,
    opts: &StartOptions,
) -> Result<Worker, RpcError> {
    let (port, _) = supervise::choose_port(None)?;
    let mut args = vec!["-H".to_string(), host.into(), "-p".into(), port.to_string()];
    if let Some(t) = spec.threads {
        args.extend(["-t".into(), t.to_string()]);
    }
    if let Some(d) = &spec.device {
        args.extend(["-d".into(), d.clone()]);
    }
    let log_path = supervise::new_log_path(&opts.log_dir, "ggml-rpc-server")?;
    let mut argv = vec![bin.display().to_string()];
    argv.extend(args.iter().cloned());
    let process = Process::spawn(bin, &args, &log_path, opts)?;
    let addr = format!("{host}:{port}");
    let mut w = Worker {
        addr,
        log_path,
        command_line: shell_words::join(&argv),
        process,
    };
    wait_ready(&mut w).await?;
    Ok(w)
}

async fn wait_ready(w: &mut Worker) -> Result<(), RpcError> {
    let sock: Option<SocketAddr> = w.addr.to_socket_addrs().ok().and_then(|mut a| a.next());
    let deadline = Instant::now() + READY_TIMEOUT;
    let fail = |w: &Worker, problem: String| {
        let log = std::fs::read_to_string(&w.log_path).unwrap_or_default();
        RpcError::NotReady {
            addr: w.addr.clone(),
            problem,
            log: w.log_path.display().to_string(),
            tail: super::indent(&super::logscan::last_lines(&log, 8)),
        }
    };
    loop {
        if let Some(e) = w.process.try_exit() {
            return Err(fail(w, format!("exited while starting: {e}")));
        }
        // A worker serves one client at a time, so readiness is checked
        // without connecting: its port is bound once it listens.
        if sock.is_some_and(port_bound) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(fail(
                w,
                format!("did not listen within {} s", READY_TIMEOUT.as_secs()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether something has bound `s` (we cannot bind it ourselves).
fn port_bound(s: SocketAddr) -> bool {
    std::net::TcpListener::bind(s).is_err()
}

/// What a run on a split records about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Topology {
    /// Worker addresses, in `--rpc` order (llama.cpp's RPC0, RPC1, ...).
    pub workers: Vec<WorkerInfo>,
    /// The devices `llama-server --rpc ... --list-devices` reported, as printed.
    pub devices: Vec<String>,
    /// What the user said the link is (`--rpc-link`), if anything.
    pub link: Option<String>,
    /// Graph splits of the loaded model (prefill, decode), from the server's log.
    pub graph_splits: Option<(u64, u64)>,
}

/// One worker in a topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// `host:port`.
    pub addr: String,
    /// Whether rooftune started it (loopback) or was given its address.
    pub started_by_rooftune: bool,
    /// Its log, when rooftune started it.
    pub log: Option<String>,
}

/// The workers of a run, given addresses first and then those rooftune
/// started, and the `--rpc` value naming them all (`host:port,...`).
pub fn worker_list(given: &[String], started: &[Worker]) -> (Vec<WorkerInfo>, String) {
    let list: Vec<WorkerInfo> = given
        .iter()
        .map(|addr| WorkerInfo {
            addr: addr.clone(),
            started_by_rooftune: false,
            log: None,
        })
        .chain(started.iter().map(|w| WorkerInfo {
            addr: w.addr.clone(),
            started_by_rooftune: true,
            log: Some(w.log_path.display().to_string()),
        }))
        .collect();
    let joined = list
        .iter()
        .map(|w| w.addr.as_str())
        .collect::<Vec<_>>()
        .join(",");
    (list, joined)
}

/// The device lines of `llama-server --rpc ADDRS --list-devices`.
pub fn list_devices(llama_server: &Path, addrs: &str) -> Vec<String> {
    let text = supervise::ask(
        llama_server,
        &["--rpc", addrs, "--list-devices"],
        Duration::from_secs(30),
    )
    .unwrap_or_default();
    device_lines(&text)
}

/// The lines after `Available devices:` (`  RPC0: 127.0.0.1:50052 (24105 MiB, ...)`).
pub fn device_lines(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.contains("Available devices"))
        .skip(1)
        .map(str::trim)
        .filter(|l| l.contains(':') && l.contains("MiB"))
        .map(String::from)
        .collect()
}

/// Free bytes of a device line (`RPC0: 127.0.0.1:50052 (24105 MiB, 20000 MiB free)`).
pub fn device_free_bytes(line: &str) -> Option<f64> {
    let inner = line.rsplit_once('(')?.1;
    let free = inner.split(',').nth(1)?.trim().trim_end_matches(')');
    let mib: f64 = free.strip_suffix("MiB free")?.trim().parse().ok()?;
    Some(mib * 1024.0 * 1024.0)
}

/// Graph splits (prefill, decode) from a llama-server log: b11434 prints
/// `llama_context: graph: nodes = N, splits = S, ...`, or `S_pp / S_tg` when
/// the prefill and decode graphs differ.
pub fn graph_splits(log: &str) -> Option<(u64, u64)> {
    log.lines().rev().find_map(|l| {
        if !l.contains("graph") {
            return None;
        }
        let rest = &l[l.find("splits = ")? + "splits = ".len()..];
        let v = rest.split(',').next()?;
        let mut it = v.split('/').map(|x| x.trim().parse::<u64>());
        let pp = it.next()?.ok()?;
        let tg = match it.next() {
            Some(t) => t.ok()?,
            None => pp,
        };
        Some((pp, tg))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_a_host_and_a_port() {
        let ok = parse_addresses(&["127.0.0.1:50052".into(), " 10.0.0.2:1 ".into()]).unwrap();
        assert_eq!(ok, vec!["127.0.0.1:50052", "10.0.0.2:1"]);
        for bad in ["127.0.0.1", ":50052", "h:0", "h:port", "h:70000"] {
            assert!(
                matches!(parse_addresses(&[bad.into()]), Err(RpcError::BadAddress(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn device_lines_and_graph_splits_are_read_from_llama_output() {
        let text = "load_backend: loaded RPC backend\nAvailable devices:\n  RPC0: 127.0.0.1:50052 (24105 MiB, 20000 MiB free)\n  RPC1: 127.0.0.1:50053 (24105 MiB, 20000 MiB free)\n";
        assert_eq!(device_lines(text).len(), 2);
        assert!(device_lines(text)[0].starts_with("RPC0: 127.0.0.1:50052"));
        assert_eq!(
            device_free_bytes(&device_lines(text)[1]),
            Some(20000.0 * 1024.0 * 1024.0)
        );
        assert_eq!(device_free_bytes("RPC0: 127.0.0.1:50052"), None);
        let log =
            "llama_context: graph: nodes = 295, splits = 3, input objects = 4, input tensors = 6\n";
        assert_eq!(graph_splits(log), Some((3, 3)));
        let log = "llama_context: graph (pp bs=512, tg bs=1): nodes = 300 / 290, splits = 5 / 4, input objects = 4, input tensors = 6\n";
        assert_eq!(graph_splits(log), Some((5, 4)));
        assert_eq!(graph_splits("nothing"), None);
    }
}
