//! A campaign on a model split across llama.cpp RPC workers: the spec's
//! `[cluster]` section, and which placements (`-ngl`, `-ts`) fit the
//! workers' memory before a server is started for them.
//!
//! ```toml
//! [cluster]
//! workers = 2                 # loopback ggml-rpc-server workers, started once per campaign
//! threads = 1                 # -t of each started worker
//! rpc = ["10.0.0.2:50052"]    # workers you run yourself (they come first: RPC0, ...)
//! memory = "8GiB"             # what a worker may hold: one size, or one per worker
//! link = "10gbe"              # what the link is, recorded in the log
//! ```
//!
//! The fit follows the split roofline (`roofline::split`): llama.cpp's
//! device order (the RPC workers first; a CPU head keeps what `-ngl` leaves
//! and the token embedding), the layers shared by `-ts`, and per device the
//! weights + KV for the context + a compute allowance (`roofline::memory`).
//! b11434's `ggml-rpc-server` has no option to advertise less memory than
//! it has, so `memory` is the campaign's cap, not the worker's.

use super::space::Config;
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::{Device, Machine};
use crate::roofline::placement::Placement;
use crate::roofline::split::{self, Cluster, Link};
use crate::shape::ModelShape;
use serde::Deserialize;

/// The most workers a campaign may start on this machine.
pub const MAX_WORKERS: u32 = 16;

/// `[cluster]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    workers: Option<u32>,
    threads: Option<u32>,
    #[serde(default)]
    rpc: Vec<String>,
    memory: Option<toml::Value>,
    link: Option<String>,
}

/// A validated `[cluster]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    /// Loopback workers rooftune starts once per campaign.
    pub workers: u32,
    /// `-t` of each started worker, or the worker's default.
    pub threads: Option<u32>,
    /// Addresses of workers the user runs (`host:port`), in `--rpc` order.
    pub rpc: Vec<String>,
    /// What each worker may hold, bytes, in `--rpc` order (the given
    /// addresses, then the started workers); None: as the worker reports.
    pub memory_bytes: Vec<Option<f64>>,
    /// What the link is (a profile name or words), for the log.
    pub link: Option<String>,
}

impl ClusterSpec {
    /// Workers in all, given and started.
    pub fn n_workers(&self) -> usize {
        self.rpc.len() + self.workers as usize
    }
}

/// Validate `[cluster]`; `Err` is the message (the caller names file and line).
pub(super) fn parse(raw: &RawCluster) -> Result<ClusterSpec, String> {
    let workers = raw.workers.unwrap_or(0);
    let rpc = crate::server::rpc::parse_addresses(&raw.rpc).map_err(|e| {
        format!(
            "cluster.rpc: {}",
            e.to_string().lines().next().unwrap_or("")
        )
    })?;
    if workers == 0 && rpc.is_empty() {
        return Err("[cluster] needs `workers = N` (loopback workers rooftune starts) or `rpc = [\"host:port\", ...]` (workers you run)".into());
    }
    if workers > MAX_WORKERS {
        return Err(format!(
            "cluster.workers = {workers}: at most {MAX_WORKERS} loopback workers"
        ));
    }
    if raw.threads == Some(0) {
        return Err(
            "cluster.threads must be at least 1 (leave it out for the worker's default)".into(),
        );
    }
    let n = rpc.len() + workers as usize;
    let size = |v: &toml::Value| -> Result<f64, String> {
        let s = match v {
            toml::Value::String(s) => s.clone(),
            other => {
                return Err(format!(
                    "cluster.memory: `{other}` is not a size (give \"8GiB\")"
                ))
            }
        };
        crate::units::parse_bytes(&s).map_err(|e| format!("cluster.memory: {e}"))
    };
    let memory_bytes = match &raw.memory {
        None => vec![None; n],
        Some(toml::Value::Array(items)) => {
            if items.len() != n {
                return Err(format!(
                    "cluster.memory lists {} sizes for {n} workers (give one size for all, or one per worker: the `rpc` addresses first)",
                    items.len()
                ));
            }
            items
                .iter()
                .map(|v| size(v).map(Some))
                .collect::<Result<_, _>>()?
        }
        Some(v) => vec![Some(size(v)?); n],
    };
    Ok(ClusterSpec {
        workers,
        threads: raw.threads,
        rpc,
        memory_bytes,
        link: raw.link.clone(),
    })
}

/// The shares of a `-ts` value (`3,1`): non-negative numbers, not all zero.
pub fn tensor_split(value: &str) -> Result<Vec<f64>, String> {
    let v: Vec<f64> = value
        .split([',', '/'])
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            format!("`{value}` is not a tensor split (give shares like \"1,1\" or \"3,1\")")
        })?;
    if v.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || v.iter().sum::<f64>() <= 0.0 {
        return Err(format!(
            "`{value}` is not a tensor split (shares are non-negative and not all zero)"
        ));
    }
    Ok(v)
}

/// Layers (from the first) whose routed experts stay on the head's CPU:
/// `-ncmoe N`, all of them for `--cpu-moe` or an `-ot` rule that sends
/// `exps` tensors to `CPU` (`-ot exps=CPU`, given under `[space.raw]`).
fn cpu_moe(c: &Config) -> u32 {
    let ot = c.get("-ot").or_else(|| c.get("--override-tensor"));
    let experts_to_cpu = ot.is_some_and(|v| {
        v.split(',').any(|rule| {
            rule.split_once('=')
                .is_some_and(|(pat, dev)| pat.contains("exps") && dev.trim() == "CPU")
        })
    });
    let all = ["--cpu-moe", "-cmoe"]
        .iter()
        .any(|f| c.get(f).is_some_and(|v| v == "true"));
    if experts_to_cpu || all {
        return u32::MAX;
    }
    c.int("-ncmoe")
        .or_else(|| c.int("--n-cpu-moe"))
        .map_or(0, |n| u32::try_from(n).unwrap_or(0))
}

/// What one worker may hold, and where that figure came from.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerMemory {
    /// `RPC0`, or `RPC0 (127.0.0.1:50052)` once the address is known.
    pub label: String,
    /// Bytes it may hold, when known.
    pub bytes: Option<f64>,
    /// `cluster.memory` or `--list-devices`.
    pub source: &'static str,
}

/// The workers of a split, for the fit check.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitFit {
    /// In llama.cpp's order (RPC0, RPC1, ...).
    pub workers: Vec<WorkerMemory>,
}

impl SplitFit {
    /// From the spec alone (the dry run): the caps it names.
    pub fn from_spec(c: &ClusterSpec) -> SplitFit {
        SplitFit {
            workers: c
                .memory_bytes
                .iter()
                .enumerate()
                .map(|(i, b)| WorkerMemory {
                    label: format!("RPC{i}"),
                    bytes: *b,
                    source: "cluster.memory",
                })
                .collect(),
        }
    }

    /// With what the started workers report (`free` bytes per worker from
    /// `--list-devices`, `addrs` their addresses): the smaller of the cap
    /// and the report.
    pub fn with_reported(mut self, addrs: &[String], free: &[Option<f64>]) -> SplitFit {
        for (i, w) in self.workers.iter_mut().enumerate() {
            if let Some(a) = addrs.get(i) {
                w.label = format!("RPC{i} ({a})");
            }
            if let Some(Some(f)) = free.get(i) {
                if w.bytes.is_none_or(|b| *f < b) {
                    w.bytes = Some(*f);
                    w.source = "--list-devices";
                }
            }
        }
        self
    }

    /// Memory each worker needs for a configuration (weights + KV +
    /// compute), bytes, in llama.cpp's order; and the head's.
    pub fn needs(&self, shape: &ModelShape, c: &Config, ctx: u64, kv: KvOptions) -> Needs {
        let n = self.workers.len();
        let ts = c
            .get("-ts")
            .and_then(|v| tensor_split(v).ok())
            .map(|mut v| {
                v.resize(n, 0.0);
                v
            })
            // llama.cpp's default: each device's free memory (equal workers: equal shares).
            .unwrap_or_else(|| {
                let known: Vec<f64> = self.workers.iter().filter_map(|w| w.bytes).collect();
                if known.len() == n && known.iter().sum::<f64>() > 0.0 {
                    known
                } else {
                    vec![1.0; n]
                }
            });
        let placement = Placement {
            n_gpu_layers: c.int("-ngl").and_then(|g| u32::try_from(g).ok()),
            n_cpu_moe: cpu_moe(c),
        };
        let fit = split::memory_fit(shape, &cluster(n, ts), placement, ctx, kv);
        let mut devices: Vec<f64> = fit.devices.iter().map(|d| d.needed()).collect();
        let head = devices.pop().unwrap_or(0.0);
        Needs {
            workers: devices,
            head,
        }
    }

    /// Why a configuration does not fit a worker, or None.
    pub fn problem(
        &self,
        shape: &ModelShape,
        c: &Config,
        ctx: u64,
        kv: KvOptions,
    ) -> Option<String> {
        let needs = self.needs(shape, c, ctx, kv);
        let what = match (c.get("-ngl"), c.get("-ts")) {
            (Some(g), Some(t)) => format!("-ngl {g} -ts {t}"),
            (None, Some(t)) => format!("-ts {t}"),
            (Some(g), None) => format!("-ngl {g}"),
            (None, None) => "the default split".to_string(),
        };
        self.workers.iter().zip(&needs.workers).find_map(|(w, need)| {
            let have = w.bytes?;
            (*need > have).then(|| {
                format!(
                    "skipped: {what} puts {} (weights + KV + compute) on {}, which may hold {} ({})",
                    crate::units::fmt_bytes(*need),
                    w.label,
                    crate::units::fmt_bytes(have),
                    w.source
                )
            })
        })
    }
}

/// Bytes a placement needs per device.
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    /// Each worker, in llama.cpp's order.
    pub workers: Vec<f64>,
    /// The head (a CPU head: the token embedding and the layers `-ngl` leaves).
    pub head: f64,
}

/// A cluster of `n` workers and a CPU head, for memory only (no link, no speeds).
fn cluster(n: usize, tensor_split: Vec<f64>) -> Cluster {
    let dev = |label: String| Device {
        label,
        bandwidth_gb_s: 1.0,
        eta: 1.0,
        overhead_s: 0.0,
        usable_bytes: f64::MAX,
        capacity_bytes: f64::MAX,
        flops: 1.0,
        int8_ops: 0.0,
        calibration: None,
        unified: false,
    };
    Cluster {
        machine: Machine {
            accel: (0..n).map(|i| dev(format!("RPC{i}"))).collect(),
            host: Some(dev("head".into())),
            tensor_split,
        },
        host_of: (1..=n).chain([0]).collect(),
        head_device: n,
        hosts: std::iter::once("head".to_string())
            .chain((0..n).map(|i| format!("worker {}", i + 1)))
            .collect(),
        link: Link {
            name: "unknown".into(),
            bandwidth_gb_s: 1.0,
            latency_s: 0.0,
            per_call_s: 0.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn raw(text: &str) -> RawCluster {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_cluster_section_is_checked() {
        let c = parse(&raw(
            "workers = 2\nthreads = 1\nmemory = \"1GiB\"\nlink = \"loopback\"",
        ))
        .unwrap();
        assert_eq!(c.n_workers(), 2);
        assert_eq!(c.memory_bytes, vec![Some(1073741824.0); 2]);
        let c = parse(&raw(
            "rpc = [\"10.0.0.2:50052\"]\nworkers = 1\nmemory = [\"1GiB\", \"2GiB\"]",
        ))
        .unwrap();
        assert_eq!(c.rpc, vec!["10.0.0.2:50052"]);
        assert_eq!(c.memory_bytes[1], Some(2147483648.0));
        for (bad, says) in [
            ("", "needs `workers = N`"),
            ("workers = 17", "at most 16"),
            ("workers = 1\nthreads = 0", "at least 1"),
            ("rpc = [\"nohost\"]", "cluster.rpc"),
            ("workers = 2\nmemory = [\"1GiB\"]", "1 sizes for 2 workers"),
            ("workers = 2\nmemory = \"lots\"", "cluster.memory"),
            ("workers = 2\nmemory = 5", "not a size"),
        ] {
            let e = parse(&raw(bad)).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(toml::from_str::<RawCluster>("wrokers = 2").is_err());
    }

    /// 10 layers of 10 MB (1 byte per weight), a 1 MB embedding, no output
    /// head, a 4096-token training context: the split roofline's test shape.
    fn shape() -> ModelShape {
        let mut s = crate::roofline::decode::tests::shape();
        for l in &mut s.layers {
            l.attn_flops_per_ctx_token = 0.0;
        }
        s.ctx_train = 4096;
        s
    }

    #[test]
    fn a_split_moves_layers_and_their_kv_between_workers() {
        let s = shape();
        let kv = KvOptions::default();
        let total_kv = crate::roofline::kv::allocation(&s, 512, kv).total();
        let compute = crate::roofline::memory::compute_buffer_bytes(&s, kv.ubatch);
        let fit = SplitFit {
            workers: vec![
                WorkerMemory {
                    label: "RPC0".into(),
                    bytes: None,
                    source: "cluster.memory",
                },
                WorkerMemory {
                    label: "RPC1".into(),
                    bytes: None,
                    source: "cluster.memory",
                },
            ],
        };
        // 11 slots (10 layers + the output head): 1,1 gives RPC0 layers 0-5
        // (i / 11 < 0.5), 3,1 gives it 0-8 (i / 11 < 0.75).
        let even = fit.needs(&s, &Config::from_pairs(&[("-ts", "1,1")]), 512, kv);
        let uneven = fit.needs(&s, &Config::from_pairs(&[("-ts", "3,1")]), 512, kv);
        assert_relative_eq!(even.workers[0], 60e6 + 0.6 * total_kv + compute);
        assert_relative_eq!(uneven.workers[0], 90e6 + 0.9 * total_kv + compute);
        assert_relative_eq!(uneven.workers[1], 10e6 + 0.1 * total_kv + compute);
        // The head keeps the embedding only.
        assert_relative_eq!(even.head, 1e6);
        // -ngl 5: layers 0-5 stay on the head, 6-9 and the output go to the workers.
        let partial = fit.needs(
            &s,
            &Config::from_pairs(&[("-ngl", "5"), ("-ts", "1,1")]),
            512,
            kv,
        );
        assert_relative_eq!(partial.head, 61e6 + 0.6 * total_kv + compute);
        // A cap between the two: 1,1 fits, 3,1 is refused, naming the worker.
        let cap = even.workers[0] + 15e6;
        let capped = SplitFit {
            workers: fit
                .workers
                .iter()
                .map(|w| WorkerMemory {
                    bytes: Some(cap),
                    ..w.clone()
                })
                .collect(),
        };
        assert_eq!(
            capped.problem(&s, &Config::from_pairs(&[("-ts", "1,1")]), 512, kv),
            None
        );
        let why = capped
            .problem(&s, &Config::from_pairs(&[("-ts", "3,1")]), 512, kv)
            .unwrap();
        assert!(why.contains("-ts 3,1") && why.contains("RPC0"), "{why}");
        // What the workers report lowers the cap, and says so.
        let reported = capped.with_reported(
            &["127.0.0.1:1".into(), "127.0.0.1:2".into()],
            &[Some(1e6), None],
        );
        assert_eq!(reported.workers[0].source, "--list-devices");
        assert_eq!(reported.workers[0].label, "RPC0 (127.0.0.1:1)");
        assert_eq!(reported.workers[1].bytes, Some(cap));
    }

    #[test]
    fn experts_sent_to_the_cpu_stay_on_the_head() {
        // Each layer also carries 20 MB of routed experts.
        let mut s = shape();
        for l in &mut s.layers {
            l.experts = crate::shape::Group {
                params: 20e6,
                bytes: 20e6,
            };
        }
        s.experts = Some(crate::shape::Experts { count: 8, used: 2 });
        let kv = KvOptions::default();
        let fit = SplitFit {
            workers: (0..2)
                .map(|i| WorkerMemory {
                    label: format!("RPC{i}"),
                    bytes: None,
                    source: "cluster.memory",
                })
                .collect(),
        };
        let on_workers = fit.needs(&s, &Config::from_pairs(&[("-ts", "1,1")]), 512, kv);
        for ot in [
            ("-ot", "exps=CPU"),
            ("-ot", "blk\\..*\\.ffn_.*_exps\\.=CPU"),
        ] {
            let on_head = fit.needs(&s, &Config::from_pairs(&[("-ts", "1,1"), ot]), 512, kv);
            // RPC0 (layers 0-5) sheds 6 x 20 MB, RPC1 (6-9) 4 x 20 MB; the head takes all 200 MB.
            assert_relative_eq!(on_workers.workers[0] - on_head.workers[0], 120e6);
            assert_relative_eq!(on_workers.workers[1] - on_head.workers[1], 80e6);
            assert_relative_eq!(on_head.head - on_workers.head, 200e6, max_relative = 1e-9);
        }
        // -ncmoe 3: the experts of layers 0-2 only.
        let some = fit.needs(
            &s,
            &Config::from_pairs(&[("-ts", "1,1"), ("-ncmoe", "3")]),
            512,
            kv,
        );
        assert_relative_eq!(on_workers.workers[0] - some.workers[0], 60e6);
        // An -ot rule for something else moves nothing.
        let other = fit.needs(
            &s,
            &Config::from_pairs(&[("-ts", "1,1"), ("-ot", "attn=CPU")]),
            512,
            kv,
        );
        assert_relative_eq!(other.workers[0], on_workers.workers[0]);
    }

    #[test]
    fn tensor_splits_are_shares() {
        assert_eq!(tensor_split("3,1").unwrap(), vec![3.0, 1.0]);
        assert_eq!(tensor_split("1/1/2").unwrap(), vec![1.0, 1.0, 2.0]);
        for bad in ["", "a,b", "0,0", "-1,2"] {
            assert!(tensor_split(bad).is_err(), "{bad}");
        }
    }
}
