//! A model split across llama.cpp RPC workers, for real: `ggml-rpc-server`
//! workers (started by rooftune on loopback, or by the test behind
//! delaying TCP proxies that make a shaped link), `llama-server --rpc` as the
//! head, a tiny generated model. Checks that the split runs, that the log records its
//! topology, that the measured decode orders as the split roofline
//! predicts (a 20 ms round trip is several-fold slower than loopback), and
//! that no worker outlives a run.
//!
//! The shaped link is made in user space (this kernel has no `netem`, and
//! CI may not be root), so it runs everywhere. Skipped (with a note) when
//! no llama-server or worker is installed; when `ROOFTUNE_RPC_SERVER` names
//! the worker (scripts/test.sh sets it), it must be there.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use server_support::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

#[test]
fn rpc_server_loopback_workers_split_the_model_and_stop_with_it() {
    let bin = need_server!();
    let Some(worker) = rpc_worker_for(&bin) else {
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

/// Workers on loopback behind delaying TCP proxies: a link with a one-way
/// latency and a rate, made in user space (no root, no `netem`). Each chunk
/// read from one side is written to the other no earlier than `one_way`
/// after it arrived, and no faster than `bytes_per_s`. Workers are killed
/// and proxies stopped on drop.
struct ShapedCluster {
    workers: Vec<std::process::Child>,
    stop: Arc<AtomicBool>,
    accept: Vec<std::thread::JoinHandle<()>>,
    addrs: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Copy `src` to `dst`, each chunk delayed by `one_way` and paced at `bytes_per_s`.
fn pump(mut src: TcpStream, mut dst: TcpStream, one_way: Duration, bytes_per_s: f64) {
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if dst.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = dst.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = vec![0u8; 1 << 16];
    let mut last_due = Instant::now();
    while let Ok(n) = src.read(&mut buf) {
        if n == 0 {
            break;
        }
        let now = Instant::now();
        let wire = Duration::from_secs_f64(n as f64 / bytes_per_s);
        let due = (now + one_way).max(last_due + wire);
        last_due = due;
        if tx.send((due, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}

impl ShapedCluster {
    fn new(worker: &Path, n: usize, one_way: Duration, bytes_per_s: f64) -> ShapedCluster {
        let stop = Arc::new(AtomicBool::new(false));
        let mut c = ShapedCluster {
            workers: Vec::new(),
            stop: stop.clone(),
            accept: Vec::new(),
            addrs: Vec::new(),
        };
        for _ in 0..n {
            let wport = free_port();
            let child = std::process::Command::new(worker)
                .args(["-H", "127.0.0.1", "-p", &wport.to_string(), "-t", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start ggml-rpc-server");
            c.workers.push(child);
            let end = Instant::now() + Duration::from_secs(20);
            while TcpListener::bind(("127.0.0.1", wport)).is_ok() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
            let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
            listener.set_nonblocking(true).unwrap();
            c.addrs.push(format!(
                "127.0.0.1:{}",
                listener.local_addr().unwrap().port()
            ));
            let stop = stop.clone();
            c.accept.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let _ = client.set_nonblocking(false);
                            let Ok(up) = TcpStream::connect(("127.0.0.1", wport)) else {
                                continue;
                            };
                            let _ = client.set_nodelay(true);
                            let _ = up.set_nodelay(true);
                            let (c2, u2) = (client.try_clone().unwrap(), up.try_clone().unwrap());
                            std::thread::spawn(move || pump(client, up, one_way, bytes_per_s));
                            std::thread::spawn(move || pump(u2, c2, one_way, bytes_per_s));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }));
        }
        c
    }
}

impl Drop for ShapedCluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.stop.store(true, Ordering::Relaxed);
        for h in self.accept.drain(..) {
            let _ = h.join();
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
    let Some(worker) = rpc_worker_for(&bin) else {
        return;
    };
    let _l = server_lock();
    // 10 ms each way (a 20 ms round trip), 1 Gbit/s.
    let cluster = ShapedCluster::new(&worker, 2, Duration::from_millis(10), 125e6);
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
    // The link term bounds the shaped run: a ceiling is never beaten (the
    // proxy delays every chunk by at least its one-way latency).
    assert!(
        far <= p_far,
        "measured {far} above the predicted ceiling {p_far}"
    );
    drop(cluster);
}
