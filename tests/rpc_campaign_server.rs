//! A real campaign on a split: `rooftune tune` with a `[cluster]` starts two
//! loopback `ggml-rpc-server` workers once, passes `--rpc` to every trial's
//! llama-server, records the topology on the session line, and searches
//! `-ts`. One of the two placements puts more on RPC0 than the spec's
//! worker cap allows: the tuner skips it with the reason (no server start),
//! measures the other, and no worker outlives the campaign.
//!
//! The cap is chosen from the model's own memory figures (the split
//! roofline's per-device needs for the two placements), between the two, so
//! the test does not hard-code what fits. Skipped (with a note) when no
//! llama-server or worker is installed.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use rooftune::tune::cluster::SplitFit;
use rooftune::tune::plan::Feasibility;
use rooftune::tune::space::{Config, MachineFacts};
use server_support::*;
use std::path::Path;
use std::time::Duration;

fn spec(model: &Path, memory: &str) -> String {
    format!(
        r#"model = "{}"
seed = 1
[space]
"-t" = [1]
"-c" = [512]
"-ngl" = [99]
"-ts" = ["1,1", "3,1"]
[objective]
metric = "decode"
tokens = 8
[budget]
trials = 4
repeats = 1
screen_repeats = 1
[anchor]
every = 0
[race]
finalists = 0
[quality]
enabled = false
[cluster]
workers = 2
threads = 1
memory = "{memory}"
link = "loopback"
"#,
        model.display()
    )
}

fn config(ts: &str) -> Config {
    Config(
        [("-t", "1"), ("-c", "512"), ("-ngl", "99"), ("-ts", ts)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// A cap between what `1,1` needs on its fullest worker and what `3,1`
/// needs on RPC0, from the split roofline.
fn cap_between(model: &Path) -> f64 {
    let c = rooftune::tune::spec::parse(Path::new("x.toml"), &spec(model, "64GiB")).unwrap();
    let m = rooftune::gguf::GgufModel::open(model).unwrap();
    let feas = Feasibility {
        backend: c.backend,
        machine: MachineFacts { physical_cores: 2 },
        min_ctx: 0,
        shape: Some(rooftune::gguf::shape::model_shape(&m).unwrap()),
        memory_bytes: None,
        headroom_bytes: 0.0,
        split: c.cluster.as_ref().map(SplitFit::from_spec),
    };
    let even = feas.split_needs(&config("1,1")).unwrap();
    let uneven = feas.split_needs(&config("3,1")).unwrap();
    let fits = even.workers.iter().cloned().fold(0.0, f64::max);
    let big = uneven.workers[0];
    assert!(big > fits, "3,1 must put more on RPC0: {big} vs {fits}");
    (fits + big) / 2.0
}

#[test]
fn tune_a_split_skips_what_does_not_fit_a_worker_and_measures_the_rest() {
    let bin = need_server!();
    let Some(worker) = rpc_worker_for(&bin) else {
        return;
    };
    let model = tiny_model();
    let cap = cap_between(&model);
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("split.toml");
    std::fs::write(&spec_path, spec(&model, &format!("{}B", cap.round()))).unwrap();
    let _l = server_lock();
    let out = Command::cargo_bin("rooftune")
        .unwrap()
        .timeout(Duration::from_secs(300))
        .env("ROOFTUNE_RPC_SERVER", &worker)
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .args(["tune", "--server-bin"])
        .arg(&bin)
        .arg(&spec_path)
        .args(["--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tune failed:\n{stderr}");
    let log = std::fs::read_to_string(dir.path().join("split/trials.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The session line records the topology: two workers rooftune started,
    // and the devices the head saw.
    let session = lines.iter().find(|l| l["kind"] == "session").unwrap();
    let topo = &session["topology"];
    let workers = topo["workers"].as_array().expect("topology.workers");
    assert_eq!(workers.len(), 2, "{topo}");
    assert!(workers.iter().all(|w| w["started_by_rooftune"] == true));
    let devices = topo["devices"].to_string();
    assert!(
        devices.contains("RPC0") && devices.contains("RPC1"),
        "{topo}"
    );
    assert_eq!(topo["link"], "loopback");
    let trial = |ts: &str| {
        lines
            .iter()
            .find(|l| l["kind"] == "trial" && l["config"]["-ts"] == ts)
            .unwrap_or_else(|| panic!("no trial with -ts {ts} in\n{log}"))
    };
    // 3,1 does not fit RPC0's cap: skipped with the reason, never started.
    let skipped = trial("3,1");
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    let reason = skipped["reason"].as_str().unwrap();
    assert!(
        reason.contains("-ts 3,1") && reason.contains("RPC0") && reason.contains("cluster.memory"),
        "{reason}"
    );
    assert_eq!(skipped["startup_s"].as_f64(), Some(0.0));
    // 1,1 fits: measured on the split, its command line names the workers.
    let measured = trial("1,1");
    assert_eq!(measured["status"], "ok", "{measured}");
    assert!(measured["objective"]["value"].as_f64().unwrap() > 0.0);
    assert!(measured["command"]
        .as_str()
        .unwrap()
        .contains("--rpc 127.0.0.1:"));
    // No worker outlives the campaign.
    for w in workers {
        let port = w["addr"].as_str().unwrap().rsplit(':').next().unwrap();
        for pid in processes_with(&["ggml-rpc-server", &format!("-p {port}")]) {
            assert!(
                gone_within(pid, Duration::from_secs(5)),
                "worker {pid} on {port} outlived the campaign"
            );
        }
    }
}

/// Ctrl-C in the middle of a split campaign: the trial is logged as
/// interrupted, and the workers stop with rooftune.
#[test]
fn tune_a_split_interrupted_stops_its_workers() {
    let bin = need_server!();
    let Some(worker) = rpc_worker_for(&bin) else {
        return;
    };
    let model = tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("split.toml");
    let text = spec(&model, "64GiB")
        .replace("tokens = 8", "tokens = 256")
        .replace(
            "repeats = 1\nscreen_repeats = 1",
            "repeats = 5\nscreen_repeats = 5",
        );
    std::fs::write(&spec_path, text).unwrap();
    let _l = server_lock();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rooftune"))
        .env("ROOFTUNE_RPC_SERVER", &worker)
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .args(["tune", "--server-bin"])
        .arg(&bin)
        .arg(&spec_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let me = child.id() as i32;
    let workers: Vec<i32> = {
        let first = wait_child(me, "ggml-rpc-server", Duration::from_secs(60));
        assert!(first.is_some(), "no worker started");
        std::thread::sleep(Duration::from_millis(200));
        children_of(me)
            .into_iter()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("ggml-rpc-server"))
            })
            .collect()
    };
    assert_eq!(workers.len(), 2, "{workers:?}");
    let server = wait_child(me, "llama-server", Duration::from_secs(60)).expect("no trial server");
    // SAFETY: signalling the child this test spawned.
    unsafe {
        libc::kill(me, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    for pid in workers.iter().chain([&server]) {
        assert!(
            gone_within(*pid, Duration::from_secs(5)),
            "{pid} outlived the interrupted campaign"
        );
    }
}
