//! What can be tried before anything starts: which configurations are
//! invalid or proved not to fit (and why), the roofline-informed starting
//! point, and the `--dry-run` plan with its time estimate.

use super::lattice::{Point, Space};
use super::objective::Objective;
use super::space::{self, Config, MachineFacts};
use super::spec::Campaign;
use super::trial::Probe;
use crate::roofline::kv::{self, KvOptions, KvTypes};
use crate::roofline::memory;
use crate::server::backend::{nearest, Backend, StartHints};
use crate::server::BackendKind;
use crate::shape::ModelShape;
use serde::Serialize;

/// What decides whether a configuration may run.
#[derive(Debug, Clone, PartialEq)]
pub struct Feasibility {
    /// The backend whose flag rules apply.
    pub backend: BackendKind,
    /// The machine.
    pub machine: MachineFacts,
    /// Smallest context a slot must offer.
    pub min_ctx: u64,
    /// The model, when its shape is known (GGUF read).
    pub shape: Option<ModelShape>,
    /// Memory the model may use (RAM or VRAM), bytes, when known.
    pub memory_bytes: Option<f64>,
    /// Memory to leave free, bytes.
    pub headroom_bytes: f64,
    /// The RPC workers a split campaign places layers on (`[cluster]`).
    pub split: Option<super::cluster::SplitFit>,
}

impl Feasibility {
    /// Why the configuration must not run, or None.
    pub fn skip_reason(&self, c: &Config) -> Option<String> {
        if let Some(v) = space::violation(self.backend.get().flags(), c, self.machine) {
            return Some(v);
        }
        let shape = self.shape.as_ref()?;
        let per_slot = space::ctx_per_slot(c, shape.ctx_train);
        if per_slot < self.min_ctx {
            return Some(format!(
                "skipped: a slot would get {per_slot} tokens of context, the campaign needs {} (constraints.min_ctx)",
                self.min_ctx
            ));
        }
        if let Some(split) = &self.split {
            return self.split_problem(split, c, shape);
        }
        let need = self.memory_needed(c, shape);
        match self.memory_bytes {
            Some(have) if need + self.headroom_bytes > have => Some(format!(
                "skipped: needs {} (weights + KV + compute) + {} headroom, {} available",
                crate::units::fmt_bytes(need),
                crate::units::fmt_bytes(self.headroom_bytes),
                crate::units::fmt_bytes(have)
            )),
            _ => None,
        }
    }

    /// Why no configuration of `space` (the defaults included) can meet
    /// `min_ctx`, or None. Without it a campaign whose every trial is
    /// skipped would end by recommending the defaults, which break the
    /// constraint too. Spaces too large to list are not checked here (each
    /// trial still is).
    pub fn min_ctx_problem(&self, space: &Space) -> Option<String> {
        let shape = self.shape.as_ref()?;
        if self.min_ctx == 0 || space.size() > 100_000 {
            return None;
        }
        let best = space
            .all_points()
            .iter()
            .map(|p| space::ctx_per_slot(&space.config(p), shape.ctx_train))
            .chain([space::ctx_per_slot(&Config::default(), shape.ctx_train)])
            .max()?;
        (best < self.min_ctx).then(|| {
            format!(
                "constraints.min_ctx = {} cannot be met: the largest context a slot gets in this space is {best} tokens (the model's training window is {}); lower min_ctx, or add larger `-c` values (fewer `-np` slots) to the space",
                self.min_ctx, shape.ctx_train
            )
        })
    }

    /// A split: each worker's share against what it may hold, then the
    /// head's (the embedding and what `-ngl` leaves) against this machine.
    fn split_problem(
        &self,
        split: &super::cluster::SplitFit,
        c: &Config,
        shape: &ModelShape,
    ) -> Option<String> {
        let (ctx, kv) = kv_of(c, shape);
        if let Some(p) = split.problem(shape, c, ctx, kv) {
            return Some(p);
        }
        let head = split.needs(shape, c, ctx, kv).head;
        match self.memory_bytes {
            Some(have) if head + self.headroom_bytes > have => Some(format!(
                "skipped: the head needs {} (weights + KV + compute) + {} headroom, {} available",
                crate::units::fmt_bytes(head),
                crate::units::fmt_bytes(self.headroom_bytes),
                crate::units::fmt_bytes(have)
            )),
            _ => None,
        }
    }

    /// Bytes each worker and the head need for a configuration on the
    /// campaign's split, when it has one and the model is known.
    pub fn split_needs(&self, c: &Config) -> Option<super::cluster::Needs> {
        let (split, shape) = (self.split.as_ref()?, self.shape.as_ref()?);
        let (ctx, kv) = kv_of(c, shape);
        Some(split.needs(shape, c, ctx, kv))
    }

    /// Weights + KV + compute buffer for a configuration, bytes.
    pub fn memory_needed(&self, c: &Config, shape: &ModelShape) -> f64 {
        let (ctx, opts) = kv_of(c, shape);
        shape.total_weights().bytes
            + kv::allocation(shape, ctx, opts).total()
            + memory::compute_buffer_bytes(shape, opts.ubatch)
    }

    /// Lossy tags of a configuration: lossy flag values, and a context past
    /// the model's training window.
    pub fn lossy(&self, c: &Config) -> Vec<String> {
        let mut v = c.lossy_flags();
        if let (Some(shape), Some(ctx)) = (&self.shape, c.int("-c")) {
            if ctx as u64 > shape.ctx_train && shape.ctx_train > 0 {
                v.push(format!(
                    "-c {ctx} (past the training window of {})",
                    shape.ctx_train
                ));
            }
        }
        v
    }
}

/// Context and KV options a configuration asks for: `-c` (else the training
/// window), `-ctk`/`-ctv`, `-np` (else 4 slots), `-ub`.
fn kv_of(c: &Config, shape: &ModelShape) -> (u64, KvOptions) {
    let ctx = match c.int("-c") {
        Some(n) if n > 0 => n as u64,
        _ => shape.ctx_train,
    };
    let ty = |f: &str| {
        c.get(f)
            .and_then(|v| v.parse::<crate::dtype::ggml::GgmlType>().ok())
            .unwrap_or(crate::dtype::ggml::GgmlType::F16)
    };
    let ubatch = c.int("-ub").map_or(512, |u| u.max(1) as u64);
    let opts = KvOptions {
        types: KvTypes {
            k: ty("-ctk").into(),
            v: ty("-ctv").into(),
        },
        n_seq: c.int("-np").filter(|&n| n > 0).map_or(4, |n| n as u64),
        ubatch,
        swa_full: false,
    };
    (ctx, opts)
}

/// The roofline-informed starting point: threads = physical cores, a large
/// micro-batch for prompt-heavy objectives, one slot for single-stream ones,
/// flash attention on accelerators (off on CPUs when decoding at depth,
/// where it measured slower), lossless KV types, the smallest context that
/// meets the constraint, everything on the GPU.
pub fn guess(
    backend: &dyn Backend,
    space: &Space,
    objective: &Objective,
    machine: MachineFacts,
    accelerated: bool,
    min_ctx: u64,
) -> Point {
    let prompt_heavy = objective
        .probes()
        .iter()
        .any(|p| matches!(p, Probe::Prefill { .. } | Probe::Ttft { .. }));
    let streams = objective.probes().iter().find_map(|p| match p {
        Probe::Aggregate { streams, .. } => Some(*streams),
        _ => None,
    });
    let deep = objective
        .probes()
        .iter()
        .any(|p| matches!(p, Probe::Decode { depth, .. } if *depth > 0));
    let batch = space
        .dims
        .iter()
        .find(|d| d.flag == "-b")
        .and_then(|d| nearest(&d.values, 2048.0, None).map(|i| d.values[i].clone()))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(2048.0);
    let hints = StartHints {
        physical_cores: machine.physical_cores,
        prompt_heavy,
        streams,
        deep,
        accelerated,
        min_ctx,
        batch,
    };
    space
        .dims
        .iter()
        .map(|d| backend.start_value(&d.flag, &d.values, &hints).unwrap_or(0))
        .collect()
}

/// The feasible point nearest (fewest flags changed) to `p`, `p` itself if it runs.
pub fn nearest_feasible(space: &Space, p: &Point, feas: &Feasibility) -> Option<Point> {
    if feas.skip_reason(&space.config(p)).is_none() {
        return Some(p.clone());
    }
    if space.size() > 200_000 {
        return None;
    }
    space
        .all_points()
        .into_iter()
        .filter(|q| feas.skip_reason(&space.config(q)).is_none())
        .min_by_key(|q| q.iter().zip(p).filter(|(a, b)| a != b).count())
}

/// The `--dry-run` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRun {
    /// Configurations in the lattice.
    pub lattice: u64,
    /// Configurations that may run.
    pub runnable: u64,
    /// Skipped configurations with the reason.
    pub skipped: Vec<(String, String)>,
    /// Trials the budget allows (the defaults included).
    pub trials: u64,
    /// Anchor re-measurements expected.
    pub anchors: u64,
    /// The starting point.
    pub start: String,
    /// Flags tagged lossy in the space.
    pub lossy_values: Vec<String>,
    /// Estimated seconds to start a server once.
    pub startup_s: f64,
    /// Estimated seconds of measuring per trial.
    pub measure_s: f64,
    /// Estimated campaign wall time, seconds.
    pub total_s: f64,
}

/// Estimated time of a campaign. `startup_s` and `measure_s` per trial come
/// from the log when it has trials, else from the model size and the
/// roofline predictions.
pub fn dry_run(
    c: &Campaign,
    feas: &Feasibility,
    startup_s: f64,
    measure_s: f64,
    trials_done: u64,
) -> DryRun {
    let mut skipped = Vec::new();
    let mut runnable = 0u64;
    for p in c.space.all_points().into_iter().take(100_000) {
        let cfg = c.space.config(&p);
        match feas.skip_reason(&cfg) {
            Some(r) => skipped.push((cfg.label(), r)),
            None => runnable += 1,
        }
    }
    let want = c.budget.trials.map_or(runnable + 1, |t| t as u64);
    let mut trials = want.min(runnable + 1).saturating_sub(trials_done);
    let anchors = |t: u64| {
        if c.anchor.every > 0 {
            t / c.anchor.every as u64
        } else {
            0
        }
    };
    let per_trial = startup_s + measure_s;
    if let Some(min) = c.budget.minutes {
        let fit = (min * 60.0 / per_trial.max(1e-3)) as u64;
        while trials > 0 && trials + anchors(trials) > fit {
            trials -= 1;
        }
    }
    let n_anchor = anchors(trials);
    let start_point = guess(
        c.backend.get(),
        &c.space,
        &c.objective,
        feas.machine,
        false,
        c.constraints.min_ctx,
    );
    let mut lossy_values: Vec<String> = c
        .space
        .dims
        .iter()
        .flat_map(|d| {
            d.values
                .iter()
                .filter(|v| c.backend.get().flags().is_lossy(&d.flag, v))
                .map(|v| format!("{} {v}", d.flag))
                .collect::<Vec<_>>()
        })
        .collect();
    lossy_values.dedup();
    DryRun {
        lattice: c.space.size(),
        runnable,
        skipped,
        trials,
        anchors: n_anchor,
        start: c.space.config(&start_point).label(),
        lossy_values,
        startup_s,
        measure_s,
        total_s: (trials + n_anchor) as f64 * per_trial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::lattice::Dim;

    fn dim(flag: &str, values: &[&str]) -> Dim {
        Dim {
            flag: flag.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
            raw: false,
        }
    }

    fn feas() -> Feasibility {
        Feasibility {
            backend: crate::server::BackendKind::Llama,
            machine: MachineFacts { physical_cores: 2 },
            min_ctx: 0,
            shape: None,
            memory_bytes: None,
            headroom_bytes: 0.0,
            split: None,
        }
    }

    #[test]
    fn guess_follows_the_roofline_habits() {
        let space = Space {
            dims: vec![
                dim("-t", &["1", "2", "4"]),
                dim("-b", &["512", "2048"]),
                dim("-ub", &["128", "512", "2048"]),
                dim("-np", &["1", "4"]),
                dim("-fa", &["on", "off"]),
                dim("-ctk", &["q8_0", "f16"]),
            ],
        };
        let m = MachineFacts { physical_cores: 2 };
        let pre = Objective::single(Probe::Prefill { tokens: 512 });
        let cfg = space.config(&guess(
            &crate::server::llama::LlamaServer,
            &space,
            &pre,
            m,
            false,
            0,
        ));
        assert_eq!(cfg.get("-t"), Some("2"));
        assert_eq!(cfg.get("-ub"), Some("2048"));
        assert_eq!(cfg.get("-np"), Some("1"));
        assert_eq!(cfg.get("-ctk"), Some("f16"));
        let deep = Objective::single(Probe::Decode {
            depth: 2048,
            tokens: 32,
        });
        let cfg = space.config(&guess(
            &crate::server::llama::LlamaServer,
            &space,
            &deep,
            m,
            false,
            0,
        ));
        assert_eq!(cfg.get("-fa"), Some("off"));
        assert_eq!(cfg.get("-ub"), Some("512"));
        let cfg = space.config(&guess(
            &crate::server::llama::LlamaServer,
            &space,
            &deep,
            m,
            true,
            0,
        ));
        assert_eq!(cfg.get("-fa"), Some("on"));
    }

    #[test]
    fn dry_run_lists_skips() {
        let c = crate::tune::spec::parse(
            std::path::Path::new("x.toml"),
            "model = \"m\"\n[space]\n\"-b\" = [256, 1024]\n\"-ub\" = [512]\n\"-t\" = [2, 8]\n[objective]\nmetric = \"prefill\"\n[budget]\ntrials = 3\n",
        )
        .unwrap();
        let d = dry_run(&c, &feas(), 2.0, 10.0, 0);
        assert_eq!(d.lattice, 4);
        assert_eq!(d.runnable, 1);
        assert_eq!(d.skipped.len(), 3);
        assert!(d
            .skipped
            .iter()
            .any(|(_, r)| r.contains("-ub 512 is larger than -b 256")));
        assert_eq!(d.trials, 2);
        assert!(d.total_s > 0.0);
        assert_eq!(
            nearest_feasible(&c.space, &vec![1, 0, 0], &feas()),
            Some(vec![0, 1, 0])
        );
    }
}
