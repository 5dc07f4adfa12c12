//! Other processes' CPU use while a point is measured.
//!
//! On a small CPU machine a server's threads meet at a barrier after every
//! operation, so another process taking a fraction of one core can slow
//! decode several-fold (Gemma 3 270M measured 12.5 tok/s at depth 4096 on a
//! 2-core VM with a build running, where its CPU time per token grows only
//! ~30% from depth 0 to 4096: `docs/calibrate.md`). A rate measured so is a
//! measure of the contention, not of the server. This module reads the
//! machine's busy CPU time (`/proc/stat`), the server's (`/proc/PID/stat`)
//! and rooftune's own around a point, and reports what the rest used, in
//! cores. Linux only; elsewhere, and without the server's pid (a `--url`
//! server), there is no figure.

use std::time::Instant;

/// Other processes using more than this many cores on average during a
/// point make it suspect (a quarter of a core is enough to stall the
/// barriers of a server that uses every core).
pub const BUSY_CORES: f64 = 0.25;

/// CPU clocks at one instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuClock {
    machine_busy_s: f64,
    server_s: f64,
    own_s: f64,
    at: Instant,
}

/// Busy (non-idle, non-iowait) clock ticks of all CPUs, from the `cpu` line of `/proc/stat`.
pub fn machine_busy_ticks(proc_stat: &str) -> Option<f64> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0.0);
    Some(total - idle)
}

/// utime + stime clock ticks of a process, from `/proc/PID/stat` (all its threads).
pub fn process_ticks(pid_stat: &str) -> Option<f64> {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = pid_stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
}

fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

impl CpuClock {
    /// Read the clocks now (None off Linux, without a pid, or when `/proc` cannot be read).
    pub fn now(server_pid: Option<i32>) -> Option<CpuClock> {
        let pid = server_pid?;
        let hz = ticks_per_s();
        let busy = machine_busy_ticks(&std::fs::read_to_string("/proc/stat").ok()?)?;
        let server = process_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
        Some(CpuClock {
            machine_busy_s: busy / hz,
            server_s: server / hz,
            own_s: super::measure::process_cpu_s(),
            at: Instant::now(),
        })
    }

    /// Cores the other processes used on average between `start` and this reading.
    pub fn others_cores_since(&self, start: &CpuClock) -> Option<f64> {
        let wall_s = self.at.duration_since(start.at).as_secs_f64();
        if wall_s <= 0.0 {
            return None;
        }
        let others_s = (self.machine_busy_s - start.machine_busy_s)
            - (self.server_s - start.server_s)
            - (self.own_s - start.own_s);
        Some((others_s / wall_s).max(0.0))
    }
}

/// The note for a point measured while others were busy, if they were.
pub fn note(what: &str, others_cores: Option<f64>) -> Option<String> {
    let c = others_cores.filter(|c| *c > BUSY_CORES)?;
    Some(format!(
        "{what}: other processes used {c:.2} cores meanwhile, so the rate measures that contention as much as the server (hint: quiet the machine and re-run)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn proc_stat_busy_ticks_leave_out_idle_and_iowait() {
        let s = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1 2\n";
        assert_eq!(machine_busy_ticks(s), Some(161.0));
        assert_eq!(machine_busy_ticks("intr 1 2\n"), None);
        assert_eq!(machine_busy_ticks("cpu  1 x 3 4\n"), None);
    }

    #[test]
    fn process_ticks_skip_a_name_with_spaces_and_parentheses() {
        let s = "4242 (llama (srv) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 730 41 0 0 20 0 3 0";
        assert_eq!(process_ticks(s), Some(771.0));
        assert_eq!(process_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn others_are_what_the_machine_used_beyond_server_and_us() {
        let t0 = Instant::now();
        let start = CpuClock {
            machine_busy_s: 10.0,
            server_s: 4.0,
            own_s: 1.0,
            at: t0,
        };
        // 2 s of wall: the machine was busy 3.9 core-s, the server 3.0, rooftune 0.1.
        let end = CpuClock {
            machine_busy_s: 13.9,
            server_s: 7.0,
            own_s: 1.1,
            at: t0 + Duration::from_secs(2),
        };
        let c = end.others_cores_since(&start).expect("wall time passed");
        approx::assert_relative_eq!(c, 0.4, max_relative = 1e-9);
        assert!(note("decode at depth 4096", Some(c))
            .expect("busy")
            .contains("0.40 cores"));
        assert!(note("prefill", Some(0.1)).is_none());
        assert!(note("prefill", None).is_none());
        // Never negative (clock granularity), no figure without elapsed time.
        let idle = CpuClock {
            machine_busy_s: 10.0,
            ..end
        };
        assert_eq!(idle.others_cores_since(&start), Some(0.0));
        assert!(start.others_cores_since(&start).is_none());
    }

    #[test]
    fn this_machine_can_be_read() {
        if cfg!(target_os = "linux") {
            let me = std::process::id() as i32;
            let a = CpuClock::now(Some(me)).expect("/proc readable");
            let b = CpuClock::now(Some(me)).expect("/proc readable");
            assert!(b.machine_busy_s >= a.machine_busy_s);
        }
        assert!(CpuClock::now(None).is_none());
    }
}
