//! The tuner against the real llama-server: the bundled example campaign
//! with a budget of a few trials on a tiny generated model, a configuration
//! that makes the server exit (logged, and the campaign goes on), Ctrl-C
//! mid-trial then `--resume`, and a log that cannot be written. Skipped when
//! no llama-server is installed; serialized by a file lock and the nextest
//! `serial-server` group. No timing is asserted.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use predicates::prelude::*;
use rooftune::campaign::history::History;
use rooftune::campaign::record::Role;
use rooftune::tune::trial::Status;
use server_support::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bundled example spec, pointed at the tiny model, in `dir`.
fn example_spec(dir: &Path, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/example.toml"),
    )
    .unwrap();
    let model = tiny_model();
    let text = text.replace(
        "model = \"example.gguf\"",
        &format!("model = {:?}", model.display().to_string()),
    ) + extra;
    let p = dir.join("example.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn tune(server: &Path) -> Command {
    let mut c = Command::cargo_bin("rooftune").unwrap();
    c.timeout(Duration::from_secs(240))
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .arg("tune")
        .arg("--server-bin")
        .arg(server);
    c
}

#[test]
fn example_campaign_runs_against_the_real_server() {
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let spec = example_spec(dir.path(), "\n[race]\nfinalists = 0\n");
    tune(&server)
        .arg(&spec)
        .args(["--trials", "3"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Best search score: trial"))
        .stdout(predicate::str::contains("Paste:"))
        .stderr(predicate::str::contains("the budget of 3 trials is spent"));
    let h = History::read(&dir.path().join("example/trials.jsonl")).unwrap();
    assert_eq!(h.trials[0].role, Role::Default);
    assert_eq!(h.trials_used(), 3);
    let t0 = &h.trials[0];
    assert_eq!(t0.status, Status::Ok, "{:?}", t0.reason);
    assert!(t0.measurements.contains_key("decode_tok_s@0"));
    assert!(t0.measurements.contains_key("prefill_tok_s@256"));
    assert_eq!(t0.measurements["decode_tok_s@0"].samples.len(), 3);
    assert!(t0.slots.is_some(), "n_slots / n_ctx_slot read from the log");
    assert!(t0.server.build.contains("11434") || !t0.server.build.is_empty());
    let q = t0.quality.as_ref().expect("quality sample");
    assert_eq!(q.len(), 3);
    assert!(q.iter().all(|p| !p.is_empty() && !p[0].top.is_empty()));
    assert!(t0.command.starts_with(&server.display().to_string()));
    // campaign show reads the same log.
    Command::cargo_bin("rooftune")
        .unwrap()
        .args(["campaign", "show"])
        .arg(dir.path().join("example"))
        .assert()
        .success()
        .stdout(predicate::str::contains("(defaults)"));
    // A hand-run bench joins the same notebook, scored against its defaults.
    Command::cargo_bin("rooftune")
        .unwrap()
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .args(["bench", "--model"])
        .arg(tiny_model())
        .arg("--server-bin")
        .arg(&server)
        .args([
            "--depths",
            "0",
            "--prompt-tokens",
            "256",
            "--n-predict",
            "32",
            "--repeats",
            "2",
            "--log",
        ])
        .arg(dir.path().join("example"))
        .args(["--", "-t", "2", "-ub", "256"])
        .assert()
        .success()
        .stderr(predicate::str::contains("logged as hand-run trial 3"));
    let h = History::read(&dir.path().join("example/trials.jsonl")).unwrap();
    let manual = h.trials.last().unwrap();
    assert_eq!(manual.role, Role::Manual);
    assert_eq!(manual.config["-ub"], "256");
    assert!(manual.objective.score.is_some(), "{:?}", manual.objective);
    assert!(children_of(std::process::id() as i32).is_empty());
}

#[test]
fn a_server_that_exits_is_logged_as_crashed_and_the_campaign_goes_on() {
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    // A small space where one raw value makes llama-server exit at start-up.
    let spec = dir.path().join("crash.toml");
    std::fs::write(
        &spec,
        format!(
            "model = {:?}\nhardware = \"probe\"\n[space]\n\"-t\" = [2]\n[space.raw]\n\"--rope-scaling\" = [\"none\", \"bogus\"]\n[objective]\nmetric = \"decode\"\ntokens = 8\n[budget]\ntrials = 3\nrepeats = 1\n[quality]\nenabled = false\n[race]\nfinalists = 0\n",
            tiny_model().display().to_string()
        ),
    )
    .unwrap();
    tune(&server).arg(&spec).assert().success();
    let h = History::read(&dir.path().join("crash/trials.jsonl")).unwrap();
    let crashed: Vec<_> = h
        .trials
        .iter()
        .filter(|t| t.status == Status::Crashed)
        .collect();
    assert_eq!(crashed.len(), 1, "{:#?}", h.trials);
    assert_eq!(crashed[0].config["--rope-scaling"], "bogus");
    assert!(crashed[0].verdict_reason.starts_with("crashed:"));
    let ok = h.trials.iter().filter(|t| t.status == Status::Ok).count();
    assert_eq!(
        ok, 2,
        "the defaults and the valid configuration were measured"
    );
}

#[test]
fn ctrl_c_mid_trial_marks_it_interrupted_and_resume_finishes() {
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let spec = example_spec(dir.path(), "\n[race]\nfinalists = 0\n");
    let log_path = dir.path().join("example/trials.jsonl");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rooftune"))
        .args(["tune", "--trials", "3", "--server-bin"])
        .arg(&server)
        .arg(&spec)
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the second trial's server (the first trial is the defaults).
    let lines = || {
        std::fs::read_to_string(&log_path)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let end = std::time::Instant::now() + Duration::from_secs(120);
    while lines() < 2 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = wait_child(child.id() as i32, "llama-server", Duration::from_secs(60))
        .expect("a server for trial 1");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
    assert!(
        gone_within(pid, Duration::from_secs(10)),
        "the server was stopped"
    );
    let h = History::read(&log_path).unwrap();
    let last = h.trials.last().unwrap();
    assert_eq!(last.status, Status::Interrupted, "{:#?}", h.trials);
    let finished_before: Vec<u64> = h
        .trials
        .iter()
        .filter(|t| t.finished())
        .map(|t| t.id)
        .collect();
    // Resume: the finished trials are not repeated; the budget is completed.
    tune(&server)
        .arg(&spec)
        .arg("--resume")
        .args(["--trials", "3"])
        .assert()
        .success();
    let h2 = History::read(&log_path).unwrap();
    assert_eq!(h2.trials_used(), 3);
    assert_eq!(h2.sessions.len(), 2);
    assert!(h2.sessions[1].resumed);
    let again: Vec<_> = h2
        .trials
        .iter()
        .filter(|t| t.session == 2 && t.measured())
        .map(|t| t.config_order.clone())
        .collect();
    for id in finished_before {
        let old = &h2.trials.iter().find(|t| t.id == id).unwrap().config_order;
        assert!(!again.contains(old), "trial {id} was repeated");
    }
}

#[test]
fn an_unwritable_log_stops_before_any_server_starts() {
    let server = need_server!();
    if !Path::new("/dev/full").exists() {
        return;
    }
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let spec = example_spec(dir.path(), "\n[race]\nfinalists = 0\n");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink("/dev/full", out.join("trials.jsonl")).unwrap();
    tune(&server)
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot write the campaign log"))
        .stderr(predicate::str::contains("stopping before measuring more"));
}

#[test]
fn dry_run_refuses_a_raw_flag_the_binary_does_not_know() {
    let server = need_server!();
    let dir = tempfile::tempdir().unwrap();
    let spec = example_spec(
        dir.path(),
        "\n[space.raw]\n\"--no-such-flag\" = [\"1\", \"2\"]\n",
    );
    tune(&server)
        .arg(&spec)
        .arg("--dry-run")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "does not know flag `--no-such-flag`",
        ));
    assert!(
        !dir.path().join("example").exists(),
        "a dry run writes nothing"
    );
}

/// `metric = "agentic"`: every trial replays the session on its server and
/// logs the median time to first token of the replay; two trials (the
/// defaults and one configuration) on the tiny model.
#[test]
fn agentic_campaign_replays_the_session_per_trial() {
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("s.jsonl");
    Command::cargo_bin("rooftune")
        .unwrap()
        .args([
            "session",
            "synth",
            "--turns",
            "3",
            "--max-depth",
            "900",
            "--prefix",
            "500",
            "--chars-per-token",
            "1",
            "--output-tokens",
            "4",
            "-o",
        ])
        .arg(&session)
        .assert()
        .success();
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/templates/chatml-tools.jinja");
    let spec = dir.path().join("agent.toml");
    std::fs::write(
        &spec,
        format!(
            "model = {:?}\nhardware = \"probe\"\nseed = 1\nfixed = [\"--chat-template-file\", {:?}]\n\
             [space]\n\"-t\" = [2]\n\"-c\" = [4096]\n\"-np\" = [1, 2]\n[objective]\nmetric = \"agentic\"\nsession = \"s.jsonl\"\nstatistic = \"median\"\n\
             [budget]\ntrials = 2\nrepeats = 1\nscreen_repeats = 1\n[race]\nfinalists = 0\n",
            tiny_model().display().to_string(),
            template.display().to_string()
        ),
    )
    .unwrap();
    tune(&server)
        .arg(&spec)
        .assert()
        .success()
        .stderr(predicate::str::contains("the budget of 2 trials is spent"));
    let h = History::read(&dir.path().join("agent/trials.jsonl")).unwrap();
    assert_eq!(h.trials_used(), 2);
    for t in &h.trials {
        assert_eq!(t.status, Status::Ok, "{:?}", t.reason);
        let m = &t.measurements["agentic_s@median"];
        assert_eq!(m.samples.len(), 1, "one replay per repeat");
        assert!(m.mean > 0.0);
    }
}

#[test]
fn race_contestants_that_differ_only_per_request_share_one_server_start() {
    // `--cache-reuse` is also the request field `n_cache_reuse`: the
    // defaults, `--cache-reuse 256` and `--cache-reuse 1024` need the same
    // server, so every race round is one start, not three.
    let server = need_server!();
    let _lock = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("reuse.toml");
    std::fs::write(
        &spec,
        format!(
            "model = {:?}\nhardware = \"probe\"\nseed = 1\n\
             [space]\n\"--cache-reuse\" = [0, 256, 1024]\n\
             [objective]\nmetric = \"decode\"\ndepth = 0\ntokens = 8\n\
             [budget]\ntrials = 4\nrepeats = 1\nscreen_repeats = 1\n\
             [anchor]\nevery = 0\n[quality]\nenabled = false\n\
             [race]\nfinalists = 2\nrounds = 3\n",
            tiny_model().display().to_string(),
        ),
    )
    .unwrap();
    let out = tune(&server).arg(&spec).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let h = History::read(&dir.path().join("reuse/trials.jsonl")).unwrap();
    let race: Vec<_> = h.trials.iter().filter(|t| t.role == Role::Race).collect();
    assert_eq!(race.len(), 9, "3 rounds of the defaults and 2 finalists");
    for t in &race {
        assert_eq!(t.status, Status::Ok, "{:?}", t.reason);
    }
    // One start per round: the first line of each round started the server
    // and the other two name it.
    for round in 1..=3 {
        let lines: Vec<_> = race.iter().filter(|t| t.round == Some(round)).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].shared_start, None);
        assert!(lines[1..]
            .iter()
            .all(|t| t.shared_start == Some(lines[0].id)));
        assert!(lines[1..].iter().all(|t| t.startup_s == 0.0));
    }
    let starts = h.trials.iter().filter(|t| t.shared_start.is_none()).count();
    assert_eq!(starts, h.trials.len() - 6);
    assert!(
        stdout.contains(&format!("Time: {starts} server starts")),
        "{stdout}"
    );
}
