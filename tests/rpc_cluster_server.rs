//! A model split across llama.cpp RPC workers, for real: `ggml-rpc-server`
//! workers (started by rooftune on loopback, or by the test in network
//! namespaces behind shaped links), `llama-server --rpc` as the head, a tiny
//! generated model. Checks that the split runs, that the log records its
//! topology, that the measured decode orders as the split roofline
//! predicts (a 20 ms round trip is several-fold slower than loopback), and
//! that no worker outlives a run.
//!
//! Namespaced workers need root and `ip`/`tc`; without them the shaped-link
//! test says so and only the loopback test runs. Skipped (with a note) when
//! no llama-server or worker is installed; when `ROOFTUNE_RPC_SERVER` names
//! the worker (scripts/test.sh sets it), it must be there.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use server_support::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The worker binary beside the server, or None (skip).
fn worker_for(server: &Path) -> Option<PathBuf> {
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

const QUICK: &[&str] = &[
    "--depths",
    "0",
    "--repeats",
    "2",
    "--n-predict",
    "8",
    "--prompt-tokens",
    "32",
];

fn bench(bin: &Path, worker: &Path) -> Command {
    let mut c = Command::cargo_bin("rooftune").unwrap();
    c.timeout(Duration::from_secs(240))
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .env("ROOFTUNE_RPC_SERVER", worker)
        .args(["bench", "--server-bin"])
        .arg(bin)
        .arg("--model")
        .arg(tiny_model())
        .args(QUICK)
        .args(["--json"]);
    c
}

/// Server flags: everything on the workers, one thread each, a small context.
const SERVER_FLAGS: &[&str] = &["--", "-ngl", "99", "-t", "1", "-c", "512"];

fn run_json(mut c: Command) -> serde_json::Value {
    let out = c.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("bench json")
}

fn decode_tok_s(v: &serde_json::Value) -> f64 {
    let d = &v["measurement"]["decode"][0];
    d["server_tok_s"]["mean"]
        .as_f64()
        .or_else(|| d["client_tok_s"]["mean"].as_f64())
        .unwrap_or_else(|| panic!("no decode tok/s in {d}"))
}

fn prefill_tok_s(v: &serde_json::Value) -> f64 {
    v["measurement"]["prefill"]["server_tok_s"]["mean"]
        .as_f64()
        .unwrap_or(f64::NAN)
}

/// Processes whose command line holds all of `needles`.
fn processes_with(needles: &[&str]) -> Vec<i32> {
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

#[test]
fn rpc_server_loopback_workers_split_the_model_and_stop_with_it() {
    let bin = need_server!();
    let Some(worker) = worker_for(&bin) else {
        return;
    };
    let _l = server_lock();
    let mut c = bench(&bin, &worker);
    c.args([
        "--rpc-workers",
        "2",
        "--rpc-threads",
        "1",
        "--rpc-link",
        "loopback",
    ])
    .args(SERVER_FLAGS);
    let v = run_json(c);
    let topo = &v["target"]["topology"];
    let workers = topo["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), 2, "{topo}");
    assert!(workers.iter().all(|w| w["started_by_rooftune"] == true));
    let devices: Vec<&str> = topo["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    assert!(
        devices.iter().any(|d| d.starts_with("RPC0"))
            && devices.iter().any(|d| d.starts_with("RPC1")),
        "{devices:?}"
    );
    assert!(topo["graph_splits"][1].as_u64().unwrap() >= 2, "{topo}");
    assert!(v["target"]["command_line"]
        .as_str()
        .unwrap()
        .contains("--rpc 127.0.0.1:"));
    assert!(decode_tok_s(&v) > 0.0);
    // No worker outlives the run.
    for w in workers {
        let port = w["addr"].as_str().unwrap().rsplit(':').next().unwrap();
        let left = processes_with(&["ggml-rpc-server", &format!("-p {port}")]);
        for pid in &left {
            assert!(
                gone_within(*pid, Duration::from_secs(5)),
                "worker {pid} on {port} outlived the run"
            );
        }
    }
}

/// Two "hosts" in network namespaces, each behind a veth pair with `netem`
/// delay on both ends. Torn down (namespaces deleted, workers killed) on drop.
struct ShapedCluster {
    names: Vec<String>,
    workers: Vec<std::process::Child>,
    addrs: Vec<String>,
}

fn sh(args: &[&str]) -> bool {
    std::process::Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl ShapedCluster {
    /// None (with a note) when namespaces cannot be made here.
    fn new(worker: &Path, n: usize, one_way_ms: u32, rate: &str) -> Option<ShapedCluster> {
        let root = unsafe { libc::geteuid() } == 0;
        if !root || !sh(&["ip", "-V"]) || !sh(&["tc", "-V"]) {
            eprintln!("note: no root or no ip/tc: the shaped-link cluster is skipped; loopback workers only");
            return None;
        }
        let tag = std::process::id() % 10_000;
        let mut c = ShapedCluster {
            names: Vec::new(),
            workers: Vec::new(),
            addrs: Vec::new(),
        };
        for i in 0..n {
            let ns = format!("rt{tag}w{i}");
            let (h, w) = (format!("rt{tag}h{i}"), format!("rt{tag}v{i}"));
            let net = format!("10.{}.{}", 200 + (tag % 50), i + 1);
            let delay = format!("{one_way_ms}ms");
            let ok = sh(&["ip", "netns", "add", &ns])
                && {
                    c.names.push(ns.clone());
                    sh(&["ip", "link", "add", &h, "type", "veth", "peer", "name", &w])
                }
                && sh(&["ip", "link", "set", &w, "netns", &ns])
                && sh(&["ip", "addr", "add", &format!("{net}.1/24"), "dev", &h])
                && sh(&["ip", "link", "set", &h, "up"])
                && sh(&[
                    "ip",
                    "netns",
                    "exec",
                    &ns,
                    "ip",
                    "addr",
                    "add",
                    &format!("{net}.2/24"),
                    "dev",
                    &w,
                ])
                && sh(&["ip", "netns", "exec", &ns, "ip", "link", "set", &w, "up"])
                && sh(&["ip", "netns", "exec", &ns, "ip", "link", "set", "lo", "up"])
                && sh(&[
                    "tc", "qdisc", "add", "dev", &h, "root", "netem", "delay", &delay, "rate", rate,
                ])
                && sh(&[
                    "ip", "netns", "exec", &ns, "tc", "qdisc", "add", "dev", &w, "root", "netem",
                    "delay", &delay, "rate", rate,
                ]);
            if !ok {
                eprintln!("note: could not build network namespace {ns}: the shaped-link cluster is skipped");
                return None;
            }
            let child = std::process::Command::new("ip")
                .args(["netns", "exec", &ns])
                .arg(worker)
                .args(["-H", &format!("{net}.2"), "-p", "50052", "-t", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            c.workers.push(child);
            c.addrs.push(format!("{net}.2:50052"));
        }
        // Wait for each worker to listen (a TCP connect from the head's side
        // would be taken as a client, so wait on ss inside the namespace).
        for ns in &c.names {
            let end = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < end {
                let out = std::process::Command::new("ip")
                    .args(["netns", "exec", ns, "ss", "-ltn"])
                    .output()
                    .ok()?;
                if String::from_utf8_lossy(&out.stdout).contains(":50052") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Some(c)
    }
}

impl Drop for ShapedCluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        for ns in &self.names {
            // Deleting the namespace removes its veth end and so the pair.
            sh(&["ip", "netns", "delete", ns]);
        }
    }
}

/// Predicted decode ceiling for the tiny model on a CPU head and `workers`
/// CPU workers over a link of `one_way_ms`.
fn predicted_decode(workers: usize, one_way_ms: f64) -> f64 {
    let out = Command::cargo_bin("rooftune")
        .unwrap()
        .args(["predict", "--model"])
        .arg(tiny_model())
        .args([
            "--cluster",
            &format!("{}x ddr5-6000-2ch", workers + 1),
            "--link",
            "loopback",
            "--link-latency-ms",
            &one_way_ms.to_string(),
            "--ctx",
            "512",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    v["decode"][0]["ceiling_tok_s"].as_f64().unwrap()
}

#[test]
fn rpc_server_a_20_ms_link_is_several_fold_slower_as_predicted() {
    let bin = need_server!();
    let Some(worker) = worker_for(&bin) else {
        return;
    };
    let _l = server_lock();
    let Some(cluster) = ShapedCluster::new(&worker, 2, 10, "1gbit") else {
        return;
    };
    let mut near = bench(&bin, &worker);
    near.args(["--rpc-workers", "2", "--rpc-threads", "1"])
        .args(SERVER_FLAGS);
    let near_v = run_json(near);
    let near = decode_tok_s(&near_v);
    let mut far = bench(&bin, &worker);
    far.args([
        "--rpc",
        &cluster.addrs.join(","),
        "--rpc-link",
        "netem 10ms each way, 1gbit",
    ])
    .args(SERVER_FLAGS);
    let far_v = run_json(far);
    let far = decode_tok_s(&far_v);
    assert_eq!(
        far_v["target"]["topology"]["workers"][0]["started_by_rooftune"],
        false
    );
    let (p_near, p_far) = (predicted_decode(2, 0.01), predicted_decode(2, 10.0));
    eprintln!(
        "decode tok/s: loopback {near:.1} (predicted ceiling {p_near:.1}), 20 ms rtt {far:.1} (predicted ceiling {p_far:.1}); prefill tok/s: loopback {:.1}, 20 ms rtt {:.1}",
        prefill_tok_s(&near_v),
        prefill_tok_s(&far_v)
    );
    // The prediction orders them by several-fold, and so does the measurement.
    assert!(p_near > 3.0 * p_far, "predicted {p_near} vs {p_far}");
    assert!(near > 3.0 * far, "measured {near} vs {far}");
    // The link term bounds the shaped run: it cannot beat its ceiling by much.
    assert!(
        far < 1.5 * p_far,
        "measured {far} above the predicted ceiling {p_far}"
    );
    drop(cluster);
}
