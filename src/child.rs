//! Child processes that cannot outlive rooftune: the set-up every child
//! runs between fork and exec, and brief questions (`--version`, `--help`,
//! `nvidia-smi`) asked with a deadline.
//!
//! A leaf, so that probing the machine (below the server layer) and the
//! server supervisor share one implementation. Long-running children (the
//! servers, RPC workers) are supervised by [`crate::server::supervise`],
//! which builds on [`child_setup`].

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static ASK_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs in the child between fork and exec.
pub(crate) fn child_setup(parent: libc::pid_t, as_limit: Option<u64>) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl/getppid are async-signal-safe.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = parent;
    if let Some(lim) = as_limit {
        let r = libc::rlimit {
            rlim_cur: lim as libc::rlim_t,
            rlim_max: lim as libc::rlim_t,
        };
        // SAFETY: setrlimit is async-signal-safe.
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &r) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Run `program args` briefly (`--version`, `--help`) and return what it
/// printed, stdout then stderr. It runs in its own process group with output
/// to a scratch file (a wrapper's grandchild cannot hold a pipe open, a long
/// help text cannot fill one); past `timeout` the whole group is killed and
/// the answer is a `TimedOut` error. A binary that starts serving when asked
/// for help (some wrappers do) therefore costs `timeout`, never a hang and
/// never a leftover process.
pub fn ask(program: &Path, args: &[&str], timeout: Duration) -> std::io::Result<String> {
    run_briefly(program, args, timeout).map(|a| a.text)
}

/// What a brief run printed (stdout then stderr) and how it ended.
#[derive(Debug)]
pub struct Answer {
    /// How it ended.
    pub status: std::process::ExitStatus,
    /// What it printed, stdout then stderr.
    pub text: String,
}

/// [`ask`], keeping the exit status: for tools whose failure text must not
/// be read as an answer (`nvidia-smi` prints its errors on stdout).
pub fn run_briefly(program: &Path, args: &[&str], timeout: Duration) -> std::io::Result<Answer> {
    use std::os::unix::process::CommandExt;
    let n = ASK_COUNTER.fetch_add(1, Ordering::Relaxed);
    let scratch = std::env::temp_dir().join(format!("rooftune-ask-{}-{n}", std::process::id()));
    let file = std::fs::File::create(&scratch)?;
    let result = (|| {
        let mut cmd = std::process::Command::new(program);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file.try_clone()?)
            .process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: `child_setup` makes only async-signal-safe calls.
        unsafe {
            cmd.pre_exec(move || child_setup(parent, None));
        }
        let mut child = cmd.spawn()?;
        let pid = child.id() as libc::pid_t;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                // Anything it left behind in its group goes too.
                // SAFETY: signalling our own child's process group.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                let text =
                    std::fs::read(&scratch).map(|b| String::from_utf8_lossy(&b).into_owned())?;
                return Ok(Answer { status, text });
            }
            if Instant::now() >= deadline {
                // SAFETY: as above.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                let _ = child.wait();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "`{} {}` did not answer in {} s",
                        program.display(),
                        args.join(" "),
                        timeout.as_secs()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })();
    let _ = std::fs::remove_file(&scratch);
    result
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Live (not zombie) processes in process group `pgid`.
    #[cfg(target_os = "linux")]
    pub(crate) fn live_in_group(pgid: i32) -> usize {
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return 0;
        };
        rd.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
            .filter(|st| {
                // pid (comm) state ppid pgrp ...
                let after = st.rsplit_once(") ").map_or("", |x| x.1);
                let f: Vec<&str> = after.split_whitespace().collect();
                f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string()
            })
            .count()
    }

    #[test]
    fn ask_returns_output_and_kills_what_does_not_answer() {
        let sh = Path::new("/bin/sh");
        let out = ask(
            sh,
            &["-c", "echo out; echo err >&2"],
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(out.contains("out") && out.contains("err"), "{out}");
        // A binary that serves instead of answering: killed, group and all.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("echo $$ > {}; sleep 30 & wait", pidfile.display());
        let e = ask(sh, &["-c", &script], Duration::from_millis(500)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let pgid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        #[cfg(target_os = "linux")]
        assert_eq!(live_in_group(pgid), 0, "the whole group is gone");
        let _ = pgid;
    }

    #[test]
    fn run_briefly_keeps_the_exit_status() {
        let a = run_briefly(
            Path::new("/bin/sh"),
            &["-c", "echo failed; exit 3"],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(a.status.code(), Some(3));
        assert!(a.text.contains("failed"));
    }
}
