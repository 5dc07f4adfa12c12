//! Trial outcomes decided from typed failures, against the scripted fake
//! server: a request that gets no answer in time is logged as `timeout`, an
//! allocation failure or a SIGKILL at load as `oom`, a plain crash as
//! `crashed` with its signal; and `tune` exits like `bench` for a missing
//! binary. No timing is asserted.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use rooftune::campaign::history::History;
use rooftune::trial::Status;
use server_support::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A one-flag campaign on the tiny model, served by the fake server.
fn spec(dir: &Path) -> PathBuf {
    let text = format!(
        "model = {:?}\nhardware = \"probe\"\n[space]\n\"-t\" = [1, 2]\n[objective]\nmetric = \"decode\"\ntokens = 4\n[budget]\ntrials = 1\nrepeats = 1\n[quality]\nenabled = false\n",
        tiny_model().display().to_string()
    );
    let p = dir.join("faults.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `rooftune tune SPEC` against the fake server in `mode`; callers add the
/// rest (`--timeout`, `--resume`, `--dry-run`).
fn tune_cmd(mode: &str, spec: &Path) -> Command {
    let mut cmd = Command::cargo_bin("rooftune").unwrap();
    cmd.timeout(Duration::from_secs(120))
        .env("FAKE_MODE", mode)
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .arg("tune")
        .arg(spec)
        .arg("--server-bin")
        .arg(fake_server());
    cmd
}

fn tune(mode: &str, dir: &Path) -> std::process::Output {
    tune_cmd(mode, &spec(dir))
        .args(["--timeout", "3s"])
        .output()
        .unwrap()
}

fn first_status(mode: &str) -> (Status, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = tune(mode, dir.path());
    let h = History::read(&dir.path().join("faults/trials.jsonl")).unwrap_or_else(|e| {
        panic!(
            "{mode}: no log ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let t = &h.trials[0];
    (t.status, t.reason.clone().unwrap_or_default())
}

#[test]
fn a_hung_request_is_a_timeout() {
    let (status, why) = first_status("hang");
    assert_eq!(status, Status::Timeout, "{why}");
}

/// A binary that starts serving when asked for `--help` (some wrappers do)
/// costs rooftune a bounded wait, not a hang, and is not left running.
#[test]
fn a_binary_that_serves_on_help_is_killed_and_the_campaign_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("help.pid");
    let out = tune_cmd("serve_on_help", &spec(dir.path()))
        .env("FAKE_HELP_PIDFILE", &pidfile)
        .args(["--timeout", "30s"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    let pid = read_pid(&pidfile, Duration::from_secs(1)).expect("--help was asked");
    assert!(
        gone_within(pid, Duration::from_secs(5)),
        "the --help process was left running"
    );
    let h = History::read(&dir.path().join("faults/trials.jsonl")).unwrap();
    assert_eq!(h.trials[0].status, Status::Ok, "{e}");
}

#[test]
fn an_allocation_failure_or_a_sigkill_is_an_oom() {
    let (status, why) = first_status("oom_load");
    assert_eq!(status, Status::Oom, "{why}");
    assert!(why.contains("SIGABRT"), "the signal is kept: {why}");
    let (status, why) = first_status("killed_load");
    assert_eq!(status, Status::Oom, "{why}");
}

#[test]
fn a_crash_is_a_crash_with_its_signal() {
    let (status, why) = first_status("crash_load");
    assert_eq!(status, Status::Crashed, "{why}");
    assert!(why.contains("SIGSEGV"), "{why}");
}

#[test]
fn tune_and_bench_exit_alike_for_a_missing_binary() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::cargo_bin("rooftune")
            .unwrap()
            .timeout(Duration::from_secs(60))
            .env_remove("ROOFTUNE_LLAMA_SERVER")
            .env("PATH", empty.path())
            .env("ROOFTUNE_CACHE_DIR", empty.path())
            .args(args)
            .output()
            .unwrap()
    };
    let spec = spec(dir.path());
    let model = tiny_model();
    let t = run(&["tune", spec.to_str().unwrap()]);
    let b = run(&["bench", "--model", model.to_str().unwrap()]);
    assert_eq!(
        t.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&t.stderr)
    );
    assert_eq!(t.status.code(), b.status.code());
    for o in [&t, &b] {
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("no `llama-server` found"), "{e}");
    }
}

/// Rewrite every trial line's ceilings in a log to `value`.
fn set_logged_ceilings(log: &Path, value: f64) {
    let text = std::fs::read_to_string(log).unwrap();
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(c) = v.get_mut("ceilings").and_then(|c| c.as_object_mut()) {
                for (_, x) in c.iter_mut() {
                    *x = serde_json::json!(value);
                }
            }
            v.to_string()
        })
        .collect();
    std::fs::write(log, out.join("\n") + "\n").unwrap();
}

#[test]
fn a_resumed_campaign_keeps_its_first_ceilings_unless_reprobed() {
    let dir = tempfile::tempdir().unwrap();
    let out = tune("ok", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = dir.path().join("faults/trials.jsonl");
    let first = History::read(&log).unwrap();
    assert!(
        !first.trials[0].ceilings.is_empty(),
        "the first session logs its ceilings"
    );
    set_logged_ceilings(&log, 12345.0);
    let resume = |extra: &[&str]| {
        let trials = if extra.is_empty() { "2" } else { "3" };
        tune_cmd("ok", &dir.path().join("faults.toml"))
            .args(["--resume", "--trials", trials, "--timeout", "30s"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = resume(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = History::read(&log).unwrap();
    let last = h.trials.last().unwrap();
    assert!(last.id > 0);
    assert!(
        last.ceilings.values().all(|c| *c == 12345.0),
        "kept the campaign's ceilings: {:?}",
        last.ceilings
    );
    let o = resume(&["--reprobe"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() || e.contains("budget"), "{e}");
    let h = History::read(&log).unwrap();
    let last = h.trials.last().unwrap();
    assert!(
        last.ceilings.values().all(|c| *c != 12345.0),
        "--reprobe measured again: {:?}",
        last.ceilings
    );
}

/// A `min_ctx` no configuration can meet is refused before anything starts
/// (it used to skip every trial and then recommend the defaults, which break
/// it too); the dry run says the same.
#[test]
fn an_impossible_min_ctx_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path());
    let text = std::fs::read_to_string(&spec).unwrap() + "[constraints]\nmin_ctx = 99999999\n";
    std::fs::write(&spec, text).unwrap();
    for dry in [false, true] {
        let mut cmd = tune_cmd("ok", &spec);
        if dry {
            cmd.arg("--dry-run");
        }
        let out = cmd.output().unwrap();
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{e}");
        assert!(e.contains("min_ctx = 99999999 cannot be met"), "{e}");
        assert!(
            !dir.path().join("faults/trials.jsonl").exists()
                || std::fs::read_to_string(dir.path().join("faults/trials.jsonl"))
                    .unwrap()
                    .is_empty(),
            "no trial was run"
        );
    }
}

/// A second run on a campaign that another run holds is refused like a
/// campaign that already exists: a usage error (exit 2), naming the holder.
#[test]
fn a_held_campaign_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("faults/trials.jsonl");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let _held = rooftune::campaign::lock::CampaignLock::acquire(&log).unwrap();
    let out = tune("ok", dir.path());
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&std::process::id().to_string()),
        "names the holder: {e}"
    );
}
