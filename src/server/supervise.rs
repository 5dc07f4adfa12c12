//! Starting a server and making sure it stops.
//!
//! Shaped like nextest's test runner: the server runs in its own process
//! group with its output going straight to a log file per run (the kernel
//! drains it, so a chatty server can never block on a full pipe); startup
//! waits for `/health` while watching for an early exit; shutdown is
//! SIGTERM to the group, a grace period, then SIGKILL. [`Process`] is a guard:
//! its `Drop` does the same shutdown synchronously on any early return, error
//! or Ctrl-C.
//!
//! Surviving our own death (SIGKILL, a crash): on Linux the child asks the
//! kernel for `PR_SET_PDEATHSIG(SIGKILL)` (the only platform code here, in
//! [`crate::child`]). That signal fires when the *thread* that spawned it
//! ends, so spawn from a thread that lives as long as the run (rooftune uses
//! a current-thread runtime on the main thread). It reaches only the direct
//! child, though: a `--server-bin` wrapper script (Homebrew, Nix, distro
//! packages) would die and leave llama-server running. So on every platform
//! a tiny `/bin/sh` watchdog joins the server's process group, polls our
//! pid, and kills the whole group when we are gone ([`spawn_watchdog`]); it
//! goes with the group on a normal stop. SIGINT and SIGTERM do not kill
//! rooftune outright: they cancel a [`crate::cancel::Cancel`] token and the
//! guard tears the group down.

use super::backend::{reserved_in, Backend, LaunchConfig};
use super::client::Client;
use super::logscan::{last_lines, StartupFacts};
use super::{indent, ExitInfo, Phase, ServerError};
pub use crate::child::ask;
use crate::child::child_setup;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How to start and stop a server.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// How long loading may take before we give up.
    pub ready_timeout: Duration,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Directory for per-run log files.
    pub log_dir: PathBuf,
    /// Port to use if free; otherwise another is picked.
    pub preferred_port: Option<u16>,
    /// `RLIMIT_AS` for the child, bytes (to provoke allocation failures in tests).
    pub address_space_limit_bytes: Option<u64>,
    /// Extra environment for the child (run ids, tags).
    pub env: Vec<(String, String)>,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            ready_timeout: Duration::from_secs(300),
            grace: Duration::from_secs(5),
            log_dir: default_log_dir(),
            preferred_port: None,
            address_space_limit_bytes: None,
            env: Vec::new(),
        }
    }
}

/// `$ROOFTUNE_LOG_DIR`, else `~/.cache/rooftune/logs`, else the temp dir.
pub fn default_log_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ROOFTUNE_LOG_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    super::locate::cache_dir()
        .map(|d| d.join("logs"))
        .unwrap_or_else(|| std::env::temp_dir().join("rooftune-logs"))
}

static RUN_COUNTER: AtomicU32 = AtomicU32::new(0);

pub(crate) fn new_log_path(dir: &Path, name: &str) -> Result<PathBuf, ServerError> {
    std::fs::create_dir_all(dir).map_err(|source| ServerError::Log {
        path: dir.to_path_buf(),
        source,
    })?;
    let n = RUN_COUNTER.fetch_add(1, Ordering::Relaxed);
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    Ok(dir.join(format!("{name}-{stamp}-{}-{n}.log", std::process::id())))
}

/// A spawned server process in its own process group. Dropping it stops it.
#[derive(Debug)]
pub struct Process {
    child: std::process::Child,
    pid: i32,
    exit: Option<ExitInfo>,
    grace: Duration,
    watchdog: Option<std::process::Child>,
}

fn exit_info(s: std::process::ExitStatus) -> ExitInfo {
    ExitInfo {
        code: s.code(),
        signal: s.signal(),
    }
}

impl Process {
    /// Spawn `program args` with stdout and stderr appended to `log`.
    pub fn spawn(
        program: &Path,
        args: &[String],
        log: &Path,
        opts: &StartOptions,
    ) -> Result<Process, ServerError> {
        use std::os::unix::process::CommandExt;
        let file = std::fs::File::create(log).map_err(|source| ServerError::Log {
            path: log.to_path_buf(),
            source,
        })?;
        let err_file = file.try_clone().map_err(|source| ServerError::Log {
            path: log.to_path_buf(),
            source,
        })?;
        let mut cmd = std::process::Command::new(program);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(file)
            .stderr(err_file)
            .process_group(0);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let parent = std::process::id() as libc::pid_t;
        let limit = opts.address_space_limit_bytes;
        // SAFETY: the closure runs between fork and exec and only makes
        // async-signal-safe calls (prctl, getppid, setrlimit).
        unsafe {
            cmd.pre_exec(move || child_setup(parent, limit));
        }
        let child = cmd.spawn().map_err(|source| ServerError::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
        let pid = child.id() as i32;
        let watchdog = match spawn_watchdog(parent, pid) {
            Ok(w) => Some(w),
            Err(_) => {
                // No guard, no server: the group must not outlive us unguarded.
                // SAFETY: kill(2) on the group we just created.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
                let mut child = child;
                let _ = child.wait();
                return Err(ServerError::Spawn {
                    program: "/bin/sh".into(),
                    source: std::io::Error::other(
                        "could not start the watchdog that guards the server",
                    ),
                });
            }
        };
        Ok(Process {
            child,
            pid,
            exit: None,
            grace: opts.grace,
            watchdog,
        })
    }

    /// Process id (also the process-group id).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// How it ended, if it has.
    pub fn try_exit(&mut self) -> Option<ExitInfo> {
        if self.exit.is_none() {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.exit = Some(exit_info(s));
            }
        }
        self.exit.clone()
    }

    /// Wait up to `d` for it to exit by itself.
    pub async fn wait_exit(&mut self, d: Duration) -> Option<ExitInfo> {
        let end = Instant::now() + d;
        loop {
            if let Some(e) = self.try_exit() {
                return Some(e);
            }
            if Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal_group(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's process group.
        unsafe {
            libc::kill(-self.pid, sig);
        }
    }

    /// SIGTERM, up to the grace period, then SIGKILL; returns how it ended.
    pub async fn stop(&mut self) -> ExitInfo {
        if let Some(e) = self.try_exit() {
            self.signal_group(libc::SIGKILL);
            return e;
        }
        self.signal_group(libc::SIGTERM);
        let e = match self.wait_exit(self.grace).await {
            Some(e) => e,
            None => {
                self.signal_group(libc::SIGKILL);
                self.wait_exit(Duration::from_secs(5))
                    .await
                    .unwrap_or(ExitInfo {
                        code: None,
                        signal: Some(libc::SIGKILL),
                    })
            }
        };
        // Anything else left in its group goes too.
        self.signal_group(libc::SIGKILL);
        e
    }

    /// The same as [`Process::stop`], blocking (for `Drop`).
    fn stop_blocking(&mut self) {
        if self.try_exit().is_none() {
            self.signal_group(libc::SIGTERM);
            let end = Instant::now() + self.grace;
            while self.try_exit().is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.try_exit().is_none() {
                self.signal_group(libc::SIGKILL);
                let _ = self.child.wait();
            }
        }
        self.signal_group(libc::SIGKILL);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop_blocking();
        if let Some(w) = &mut self.watchdog {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// A `/bin/sh` loop, itself a member of process group `pgid`, that kills
/// the group (itself included) once process `parent` is gone: SIGTERM, two
/// seconds, SIGKILL. It ignores SIGTERM so it outlives its own first signal,
/// and dies with the group's SIGKILL on a normal stop. Plain POSIX: the same
/// guard on Linux (where `PR_SET_PDEATHSIG` reaches only the direct child)
/// and macOS (which has no such call).
pub fn spawn_watchdog(
    parent: libc::pid_t,
    pgid: libc::pid_t,
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let script = format!(
        "trap '' TERM INT HUP; while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; \
         kill -TERM -{pgid} 2>/dev/null; sleep 2; kill -KILL -{pgid} 2>/dev/null; exit 0"
    );
    std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(pgid)
        .spawn()
}

/// Pick a loopback port: `preferred` if it is free, else any free one, with a
/// note saying so.
pub fn choose_port(preferred: Option<u16>) -> Result<(u16, Option<String>), ServerError> {
    let free = || {
        std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|_| ServerError::NoPort {
                attempts: 1,
                last: 0,
            })
    };
    match preferred {
        // Port 0 means "any": the server would be told to listen on 0 and we
        // would poll port 0 until the timeout.
        Some(0) => {
            let q = free()?;
            Ok((q, Some(format!("--port 0 means any free port; using {q}"))))
        }
        Some(p) if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() => Ok((p, None)),
        Some(p) => {
            let q = free()?;
            Ok((q, Some(format!("port {p} is in use; using {q} instead"))))
        }
        None => Ok((free()?, None)),
    }
}

/// A server that answered its health check. Dropping it stops it.
#[derive(Debug)]
pub struct RunningServer {
    /// Backend name.
    pub name: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub root_url: String,
    /// The per-run log file.
    pub log_path: PathBuf,
    /// The exact command line, shell-quoted.
    pub command_line: String,
    /// Facts from the startup log.
    pub facts: StartupFacts,
    /// Spawn to healthy, seconds.
    pub load_s: f64,
    /// Notes about the start (a port that was busy).
    pub notes: Vec<String>,
    process: Process,
}

fn read_log(p: &Path) -> String {
    std::fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

enum Attempt {
    Ready(Box<RunningServer>),
    BindFailed(ServerError),
}

impl RunningServer {
    /// Start `bin` for `model` with the user's `extra` flags, and wait until
    /// it is healthy. `client_for` builds an HTTP client for a root URL.
    pub async fn start(
        backend: &dyn Backend,
        bin: &Path,
        model: &Path,
        extra: &[String],
        opts: &StartOptions,
    ) -> Result<RunningServer, ServerError> {
        if let Some(flag) = reserved_in(extra, backend.reserved_flags()) {
            return Err(ServerError::ReservedFlag {
                flag: flag.into(),
                hint: "use --model for the model and --port for the port; rooftune listens on 127.0.0.1 and writes its own log".into(),
            });
        }
        let mut preferred = opts.preferred_port;
        let mut notes = Vec::new();
        let mut last_err = None;
        for _ in 0..3 {
            let (port, note) = choose_port(preferred)?;
            notes.extend(note);
            let cfg = LaunchConfig {
                model: model.to_path_buf(),
                host: "127.0.0.1".into(),
                port,
                extra_args: extra.to_vec(),
            };
            match Self::attempt(backend, bin, &cfg, opts).await? {
                Attempt::Ready(s) => {
                    let mut s = *s;
                    s.notes = notes;
                    return Ok(s);
                }
                Attempt::BindFailed(e) => {
                    notes.push(format!(
                        "port {port} was taken before the server bound it; retrying"
                    ));
                    preferred = None;
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or(ServerError::NoPort {
            attempts: 3,
            last: 0,
        }))
    }

    async fn attempt(
        backend: &dyn Backend,
        bin: &Path,
        cfg: &LaunchConfig,
        opts: &StartOptions,
    ) -> Result<Attempt, ServerError> {
        let args = backend.args(cfg);
        let log_path = new_log_path(&opts.log_dir, backend.name())?;
        let mut argv = vec![bin.display().to_string()];
        argv.extend(args.iter().cloned());
        let command_line = shell_words::join(&argv);
        let started = Instant::now();
        let mut with_env = opts.clone();
        with_env.env.extend(backend.env());
        let mut process = Process::spawn(bin, &args, &log_path, &with_env)?;
        let root_url = format!("http://{}:{}", cfg.host, cfg.port);
        let client =
            Client::new(&root_url, &root_url, None, Duration::from_secs(5)).map_err(|e| {
                ServerError::Spawn {
                    program: bin.to_path_buf(),
                    source: std::io::Error::other(e.to_string()),
                }
            })?;
        let deadline = started + opts.ready_timeout;
        loop {
            if let Some(exit) = process.try_exit() {
                let log = read_log(&log_path);
                let facts = backend.scan_log(&log);
                let err = crashed(backend.name(), Phase::Load, exit, &log_path, &log, &facts);
                if facts.bind_failed {
                    return Ok(Attempt::BindFailed(err));
                }
                return Err(err);
            }
            if Instant::now() >= deadline {
                process.stop().await;
                let log = read_log(&log_path);
                return Err(ServerError::NotReady {
                    name: backend.name().into(),
                    timeout_s: opts.ready_timeout.as_secs_f64(),
                    log: log_path.display().to_string(),
                    tail: indent(&last_lines(&log, 12)),
                });
            }
            match client.status(backend.health_path()).await {
                Ok(200) => break,
                // Up but not ready: a server that loads in a thread may have
                // failed to load and live on; its log says so.
                Ok(_) => {
                    let log = read_log(&log_path);
                    let facts = backend.scan_log(&log);
                    if backend.load_failed(&facts) {
                        process.stop().await;
                        let log = read_log(&log_path);
                        return Err(ServerError::LoadFailed {
                            name: backend.name().into(),
                            diagnosis: facts.error.unwrap_or_default(),
                            log: log_path.display().to_string(),
                            tail: indent(&last_lines(&log, 12)),
                        });
                    }
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let load_s = started.elapsed().as_secs_f64();
        let facts = backend.scan_log(&read_log(&log_path));
        Ok(Attempt::Ready(Box::new(RunningServer {
            name: backend.name(),
            root_url,
            log_path,
            command_line,
            facts,
            load_s,
            notes: Vec::new(),
            process,
        })))
    }

    /// Process id (and process group) of the server.
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    /// If the server has died (or dies within `wait`), the structured crash error.
    pub async fn crash(&mut self, phase: Phase, wait: Duration) -> Option<ServerError> {
        let exit = self.process.wait_exit(wait).await?;
        let log = read_log(&self.log_path);
        let facts = super::logscan::scan(&log);
        Some(crashed(
            self.name,
            phase,
            exit,
            &self.log_path,
            &log,
            &facts,
        ))
    }

    /// Re-read the log for facts (e.g. after requests).
    pub fn log_text(&self) -> String {
        read_log(&self.log_path)
    }

    /// Stop it: SIGTERM, grace, SIGKILL.
    pub async fn stop(mut self) -> ExitInfo {
        self.process.stop().await
    }
}

fn crashed(
    name: &str,
    phase: Phase,
    exit: ExitInfo,
    log_path: &Path,
    log: &str,
    facts: &StartupFacts,
) -> ServerError {
    ServerError::Crashed {
        name: name.into(),
        phase,
        exit,
        diagnosis: facts
            .error
            .as_ref()
            .map_or(String::new(), |e| format!("; the log says: {e}")),
        log: log_path.display().to_string(),
        tail: indent(&last_lines(log, 12)),
        alloc_failed: facts.alloc_failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks existence.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[cfg(target_os = "linux")]
    use crate::child::tests::live_in_group;

    #[test]
    fn busy_port_picks_another() {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let busy = l.local_addr().unwrap().port();
        let (p, note) = choose_port(Some(busy)).unwrap();
        assert_ne!(p, busy);
        assert!(note.unwrap().contains(&busy.to_string()));
    }

    #[test]
    fn port_zero_picks_a_real_port() {
        let (p, note) = choose_port(Some(0)).unwrap();
        assert_ne!(p, 0);
        assert!(note.unwrap().contains("--port 0"));
    }

    #[tokio::test]
    async fn term_then_kill_after_grace() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StartOptions {
            grace: Duration::from_millis(300),
            log_dir: dir.path().into(),
            ..StartOptions::default()
        };
        // Ignores SIGTERM: only SIGKILL ends it.
        let mut p = Process::spawn(
            Path::new("/bin/sh"),
            &[
                "-c".into(),
                "trap '' TERM; echo started; while :; do sleep 0.05; done".into(),
            ],
            &dir.path().join("log"),
            &opts,
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let e = p.stop().await;
        assert_eq!(e.signal, Some(libc::SIGKILL));
        assert!(!alive(p.pid()));
        assert!(std::fs::read_to_string(dir.path().join("log"))
            .unwrap()
            .contains("started"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn drop_stops_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StartOptions {
            grace: Duration::from_millis(500),
            log_dir: dir.path().into(),
            ..StartOptions::default()
        };
        let p = Process::spawn(
            Path::new("/bin/sh"),
            &["-c".into(), "sleep 30 & sleep 30; wait".into()],
            &dir.path().join("log"),
            &opts,
        )
        .unwrap();
        let pid = p.pid();
        std::thread::sleep(Duration::from_millis(100));
        drop(p);
        // The whole group (the shell and its `sleep` children) is gone.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(live_in_group(pid), 0);
    }

    #[test]
    fn watchdog_kills_group_when_parent_dies() {
        use std::os::unix::process::CommandExt;
        let mut fake_parent = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut target = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let tpid = target.id() as i32;
        let mut w = spawn_watchdog(fake_parent.id() as i32, tpid).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(target.try_wait().unwrap().is_none());
        fake_parent.kill().unwrap();
        fake_parent.wait().unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        while target.try_wait().unwrap().is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            target.try_wait().unwrap().is_some(),
            "watchdog did not kill the group"
        );
        let _ = w.wait();
    }
}
