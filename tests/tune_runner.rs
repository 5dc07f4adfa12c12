//! The campaign loop against the scripted fake evaluator: fast and
//! deterministic. The real llama-server proves the same code in
//! `tune_server.rs`.

use rooftune::campaign::history::History;
use rooftune::campaign::log;
use rooftune::campaign::record::{HardwareInfo, ModelInfo, Role, TrialLine, Verdict};
use rooftune::campaign::runner::{self, Ending, Setup};
use rooftune::cancel::Cancel;
use rooftune::tune::fake::{FakeEvaluator, Script};
use rooftune::tune::plan::Feasibility;
use rooftune::tune::space::MachineFacts;
use rooftune::tune::spec;
use rooftune::tune::trial::Status;
use std::collections::BTreeMap;
use std::path::Path;

const SPEC: &str = r#"
model = "m.gguf"
seed = 11
[space]
"-t" = [1, 2]
"-b" = [256, 2048]
"-ub" = [128, 512, 1024]
"-fa" = ["on", "off"]
"-ctk" = ["f16", "q8_0"]
[objective]
metric = "decode"
[budget]
trials = 8
repeats = 3
screen_repeats = 1
[anchor]
every = 0
[race]
finalists = 0
"#;

fn setup(dir: &Path, text: &str) -> Setup {
    let spec_path = dir.join("c.toml");
    std::fs::write(&spec_path, text).unwrap();
    let campaign = spec::load(&spec_path).unwrap();
    Setup {
        log_path: dir.join("c").join("trials.jsonl"),
        resume: false,
        feasibility: Feasibility {
            backend: rooftune::server::BackendKind::Llama,
            machine: MachineFacts { physical_cores: 2 },
            min_ctx: campaign.constraints.min_ctx,
            shape: None,
            memory_bytes: None,
            headroom_bytes: 0.0,
            split: None,
        },
        campaign,
        accelerated: false,
        hardware: HardwareInfo {
            profile: "probe".into(),
            cpu: "test".into(),
            physical_cores: 2,
            memory_bytes: 1 << 30,
        },
        model: ModelInfo {
            path: "m.gguf".into(),
            size_bytes: 1,
            sha256: String::new(),
        },
        ceilings: BTreeMap::from([("decode_tok_s@0".to_string(), 400.0)]),
        server_bin: "llama-server".into(),
    }
}

fn script() -> Script {
    Script {
        effects: vec![
            ("-t".into(), "2".into(), 1.8),
            ("-ub".into(), "128".into(), 1.1),
            ("-fa".into(), "off".into(), 1.05),
            ("-ctk".into(), "q8_0".into(), 1.2),
        ],
        ..Script::default()
    }
}

fn run(s: &Setup, sc: Script) -> (Result<runner::Summary, runner::RunError>, FakeEvaluator) {
    let flag = Cancel::new();
    let mut fake = FakeEvaluator::new(sc, flag.clone());
    let r = runner::run(s, &mut fake, &flag, &mut |l| {
        if std::env::var("RT_DEBUG").is_ok() {
            eprintln!("{} {:?} {:?} {:?}", l.id, l.role, l.supersedes, l.reason)
        }
    });
    (r, fake)
}

fn trials(s: &Setup) -> Vec<TrialLine> {
    History::read(&s.log_path).unwrap().trials
}

#[test]
fn defaults_first_budget_kept_winner_found() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    let (r, fake) = run(&s, script());
    let summary = r.unwrap();
    assert!(matches!(summary.ending, Ending::Finished(ref why) if why.contains("8 trials")));
    let t = trials(&s);
    assert_eq!(t[0].role, Role::Default);
    assert_eq!(t[0].command, "llama-server -m m.gguf");
    assert_eq!(t[0].verdict, Verdict::Keep);
    assert_eq!(summary.history.trials_used(), 8);
    // Every server start was a trial the budget counted; skips start nothing.
    assert_eq!(fake.calls.len(), 8);
    let w = summary.history.winner().unwrap();
    assert!(w.objective.score.unwrap() > 1.5, "{:?}", w.objective);
    assert!(w.objective.pct_of_ceiling.is_some());
    // Lossy flags are tagged on the line.
    for l in &t {
        assert_eq!(
            l.lossy.is_empty(),
            l.config.get("-ctk").map(String::as_str) != Some("q8_0")
        );
    }
    // Events follow the lifecycle: start, screen, [full], stop.
    assert_eq!(fake.events[0], "start 0");
    assert!(fake.events.iter().all(|e| !e.is_empty()));
}

#[test]
fn invalid_configurations_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(
        dir.path(),
        &SPEC
            .replace("trials = 8", "trials = 30")
            .replace("[1, 2]", "[1, 2, 8]"),
    );
    let (r, fake) = run(&s, script());
    r.unwrap();
    let t = trials(&s);
    let skipped: Vec<_> = t.iter().filter(|l| l.status == Status::Skipped).collect();
    assert!(!skipped.is_empty());
    for l in &skipped {
        let why = l.reason.as_deref().unwrap();
        assert!(
            why.contains("larger than -b") || why.contains("physical cores"),
            "{why}"
        );
        assert!(!fake.calls.iter().any(|c| c.trial_id == l.id));
        assert!(
            l.verdict_reason.starts_with("skipped: ")
                && !l.verdict_reason.contains("skipped: skipped:"),
            "{}",
            l.verdict_reason
        );
    }
}

#[test]
fn screening_spares_repeats_for_bad_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    let (r, fake) = run(&s, script());
    r.unwrap();
    let t = trials(&s);
    let screened: Vec<_> = t
        .iter()
        .filter(|l| l.status == Status::Ok && !l.full)
        .collect();
    assert!(
        !screened.is_empty(),
        "some configuration should be screened out"
    );
    for l in screened {
        assert_eq!(l.measurements["decode_tok_s@0"].samples.len(), 1);
        assert_eq!(l.verdict, Verdict::Discard);
    }
    let full = t.iter().find(|l| l.role == Role::Default).unwrap();
    assert_eq!(full.measurements["decode_tok_s@0"].samples.len(), 3);
    assert!(fake.events.contains(&"full".to_string()));
}

#[test]
fn same_seed_same_campaign_and_resume_replays() {
    let a = tempfile::tempdir().unwrap();
    let sa = setup(a.path(), SPEC);
    run(&sa, script()).0.unwrap();
    let whole: Vec<_> = trials(&sa).iter().map(|t| t.config_order.clone()).collect();

    // Interrupted at trial 4, then resumed: the same trials, none repeated.
    let b = tempfile::tempdir().unwrap();
    let mut sb = setup(b.path(), SPEC);
    let (r, _) = run(
        &sb,
        Script {
            interrupt_at: Some(4),
            ..script()
        },
    );
    assert!(matches!(r.unwrap().ending, Ending::Interrupted));
    let first = trials(&sb);
    assert_eq!(first.last().unwrap().status, Status::Interrupted);
    // Without --resume the log is not touched.
    let (r, _) = run(&sb, script());
    assert!(r.unwrap_err().to_string().contains("--resume"));
    sb.resume = true;
    let (r, fake) = run(&sb, script());
    r.unwrap();
    let resumed: Vec<_> = trials(&sb)
        .iter()
        .filter(|t| t.status != Status::Interrupted)
        .map(|t| t.config_order.clone())
        .collect();
    assert_eq!(resumed, whole);
    // Only the trials after the interruption started a server.
    assert_eq!(fake.calls.first().unwrap().trial_id, 5);
    // The old lines are still there, byte for byte.
    let text = std::fs::read_to_string(&sb.log_path).unwrap();
    assert!(text.lines().count() > first.len() + 1);
}

#[test]
fn resume_with_another_seed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    run(&s, script()).0.unwrap();
    let mut s2 = setup(dir.path(), &SPEC.replace("seed = 11", "seed = 12"));
    s2.resume = true;
    let e = run(&s2, script()).0.unwrap_err().to_string();
    assert!(e.contains("seed 11"), "{e}");
}

#[test]
fn a_crash_is_logged_and_the_campaign_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    let (r, _) = run(
        &s,
        Script {
            crash_when: vec![("-t".into(), "2".into())],
            ..script()
        },
    );
    let summary = r.unwrap();
    let t = trials(&s);
    let crashed: Vec<_> = t.iter().filter(|l| l.status == Status::Crashed).collect();
    assert!(!crashed.is_empty());
    assert!(crashed[0].verdict_reason.contains("SIGSEGV"));
    assert_eq!(summary.history.trials_used(), 8);
    assert_ne!(
        summary.history.winner().unwrap().config.get("-t").unwrap(),
        "2"
    );
}

#[test]
fn drift_reruns_the_trials_since_the_last_clean_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(
        dir.path(),
        &SPEC.replace("every = 0", "every = 3\ndrift = 0.1\nsettle_s = 0"),
    );
    let (r, _) = run(
        &s,
        Script {
            drift_from: Some((3, 0.7)),
            ..script()
        },
    );
    r.unwrap();
    let t = trials(&s);
    let anchor = t
        .iter()
        .find(|l| l.role == Role::Anchor)
        .expect("an anchor");
    assert!(anchor.reason.as_deref().unwrap().starts_with("drift"));
    // A persistent drift: the anchor is re-measured (retries = 2) before the re-runs.
    let first_rerun = t.iter().position(|l| l.role == Role::Rerun).unwrap();
    let anchors_before = t[..first_rerun]
        .iter()
        .filter(|l| l.role == Role::Anchor)
        .count();
    assert_eq!(anchors_before, 3);
    let reruns: Vec<_> = t.iter().filter(|l| l.role == Role::Rerun).collect();
    assert!(!reruns.is_empty());
    for r in reruns {
        assert_eq!(r.supersedes.len(), 1);
        let old = t.iter().find(|l| l.id == r.supersedes[0]).unwrap();
        assert_eq!(old.config_order, r.config_order);
        assert!(t
            .iter()
            .any(|a| a.role == Role::Anchor && old.id < a.id && a.id < r.id));
    }
}

#[test]
fn an_unwritable_log_stops_the_campaign() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path(), SPEC);
    s.log_path = "/dev/full".into();
    let (r, fake) = run(&s, script());
    let e = r.unwrap_err().to_string();
    assert!(e.contains("cannot write the campaign log"), "{e}");
    assert!(
        fake.calls.is_empty(),
        "nothing measured before the log works"
    );
}

#[test]
fn a_flag_the_binary_does_not_know_is_rejected_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    let (r, fake) = run(
        &s,
        Script {
            help: "-t, --threads N\n".into(),
            ..script()
        },
    );
    let e = r.unwrap_err().to_string();
    assert!(e.contains("does not know flag"), "{e}");
    assert!(fake.calls.is_empty());
    assert!(!s.log_path.exists());
}

#[test]
fn log_lines_carry_the_version_and_the_schema_fields() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    run(&s, script()).0.unwrap();
    for l in log::read(&s.log_path).unwrap() {
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["v"], 1);
    }
}

const RACE_SPEC: &str = r#"
model = "m.gguf"
seed = 3
[space]
"-t" = [1, 2]
"-fa" = ["auto", "on", "off"]
"-ctk" = ["f16", "q8_0"]
[objective]
metric = "decode"
[budget]
trials = 12
repeats = 5
screen_repeats = 1
[anchor]
every = 4
settle_s = 0
[race]
finalists = 2
rounds = 16
"#;

fn decide(s: &Setup) -> rooftune::campaign::decision::Decision {
    rooftune::campaign::decision::decide(&History::read(&s.log_path).unwrap()).unwrap()
}

#[test]
fn the_race_recommends_a_truly_better_configuration_under_noise() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), RACE_SPEC);
    let sc = Script {
        effects: vec![
            ("-t".into(), "1".into(), 0.5),
            ("-fa".into(), "off".into(), 1.1),
        ],
        noise: 0.2,
        ..Script::default()
    };
    run(&s, sc).0.unwrap();
    let t = trials(&s);
    assert!(t.iter().any(|l| l.role == Role::Race && l.round == Some(1)));
    let d = decide(&s);
    let r = d.recommend.clone().expect("a recommendation");
    assert!(r.config.contains("-fa off"), "{d:?}");
    assert!(r.interval.unwrap().better());
    // A configuration identical in effect to the defaults (`-fa auto` at
    // -t default) is pooled with them, never raced against them.
    assert!(!d
        .raced_against
        .iter()
        .any(|c| c.contains("-fa auto") && !c.contains("-t")));
    // Screening by evidence: every screened-out line logs its interval.
    for l in t.iter().filter(|l| l.status == Status::Ok && !l.full) {
        assert!(l.objective.interval.is_some(), "{l:?}");
        assert!(l.verdict_reason.contains("gain"), "{}", l.verdict_reason);
    }
}

#[test]
fn identical_configurations_keep_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), RACE_SPEC);
    let sc = Script {
        noise: 0.2,
        ..Script::default()
    };
    run(&s, sc).0.unwrap();
    let d = decide(&s);
    assert!(d.recommend.is_none(), "{d:?}");
    assert!(d.why.starts_with("keep the defaults"), "{}", d.why);
    let summary = rooftune::campaign::summary::summarize("c", &History::read(&s.log_path).unwrap());
    assert_eq!(summary.paste.as_deref(), Some("llama-server -m m.gguf"));
}

#[test]
fn a_lossy_configuration_that_changes_the_output_is_named_but_not_pasted() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), RACE_SPEC);
    let sc = Script {
        effects: vec![
            ("-ctk".into(), "q8_0".into(), 1.3),
            ("-fa".into(), "off".into(), 1.1),
        ],
        ..Script::default()
    };
    run(&s, sc).0.unwrap();
    let d = decide(&s);
    let lossy = d.faster_but_lossy.expect("named faster but lossy");
    assert!(lossy.config.contains("-ctk q8_0"));
    assert!(lossy.quality.unwrap().top1_agreement < 0.95);
    let r = d.recommend.expect("a lossless recommendation");
    assert!(r.lossy.is_empty() && r.config.contains("-fa off"), "{r:?}");
    let summary = rooftune::campaign::summary::summarize("c", &History::read(&s.log_path).unwrap());
    assert!(!summary.paste.clone().unwrap().contains("q8_0"));
    let text = rooftune::report::campaign::render(&summary);
    assert!(text.contains("Faster but changes the output"), "{text}");
}

#[test]
fn a_torn_last_line_is_cut_back_on_resume_and_kept_aside() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    run(&s, script()).0.unwrap();
    // A crash mid-write: half a line, no newline.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&s.log_path)
        .unwrap();
    f.write_all(b"{\"v\":1,\"kind\":\"trial\",\"campaign\":\"c\",\"id\":8,\"sess")
        .unwrap();
    drop(f);
    let mut s2 = setup(dir.path(), &SPEC.replace("trials = 8", "trials = 10"));
    s2.resume = true;
    let summary = run(&s2, script()).0.unwrap();
    assert!(
        summary.notes.iter().any(|n| n.contains("torn")),
        "{:?}",
        summary.notes
    );
    // The log reads back whole (show, list and resume all read it).
    let h = History::read(&s.log_path).unwrap();
    assert_eq!(h.trials_used(), 10);
    let kept = std::fs::read_to_string(s.log_path.with_file_name("trials.jsonl.torn")).unwrap();
    assert!(kept.contains("\"id\":8,\"sess"), "{kept}");
}

#[test]
fn a_second_run_on_a_held_campaign_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    let held = rooftune::campaign::lock::CampaignLock::acquire(&s.log_path)
        .unwrap()
        .unwrap();
    let (r, fake) = run(&s, script());
    let e = r.unwrap_err().to_string();
    assert!(e.contains("in use by another rooftune run"), "{e}");
    assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
    assert!(fake.calls.is_empty(), "nothing was measured");
    drop(held);
    run(&s, script()).0.unwrap();
}

#[test]
fn resume_with_a_different_space_of_the_same_size_or_other_tokens_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), SPEC);
    run(&s, script()).0.unwrap();
    let other = SPEC
        .replace("\"-t\" = [1, 2]", "\"-np\" = [1, 2]")
        .replace("metric = \"decode\"", "metric = \"decode\"\ntokens = 64");
    let mut s2 = setup(dir.path(), &other);
    s2.resume = true;
    let (r, fake) = run(&s2, script());
    let e = r.unwrap_err().to_string();
    assert!(e.contains("not comparable"), "{e}");
    assert!(e.contains("search space: was -t=[1, 2]"), "{e}");
    assert!(e.contains("objective"), "{e}");
    assert!(fake.calls.is_empty());
    // Another model file of the same name is refused too.
    let mut s3 = setup(dir.path(), SPEC);
    s3.resume = true;
    s3.model.size_bytes = 2;
    let e = run(&s3, script()).0.unwrap_err().to_string();
    assert!(e.contains("model size (bytes): was 1, now 2"), "{e}");
}
