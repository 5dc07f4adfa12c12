//! A scripted evaluator: a deterministic response surface over the flags,
//! with optional noise, crashes, drift and an interrupt, and a record of
//! every call. Tuner tests run on it in milliseconds (STYLE habit 12); the
//! real evaluator over `llama-server` proves the same code end to end.

use super::space::Config;
use super::trial::{
    Evaluator, Measurements, Probe, ServerInfo, SlotInfo, Stat, Status, TokenStep, TrialOutcome,
    TrialRequest,
};
use crate::cancel::Cancel;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the fake does.
#[derive(Debug, Clone)]
pub struct Script {
    /// Flag values that multiply the base rate: `(flag, value, factor)`.
    pub effects: Vec<(String, String, f64)>,
    /// Base rate for every probe, tok/s (TTFT is `depth / rate`).
    pub base: f64,
    /// Relative noise (uniform +-), 0 for exact.
    pub noise: f64,
    /// Configurations (as labels) that crash.
    pub crash_when: Vec<(String, String)>,
    /// Slow down every result by this factor from trial id `drift_from` on.
    pub drift_from: Option<(u64, f64)>,
    /// Raise the interrupt flag during this trial id.
    pub interrupt_at: Option<u64>,
    /// `--help` text the fake binary prints.
    pub help: String,
    /// Seconds a start-up "takes" (reported, not slept).
    pub startup_s: f64,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            effects: Vec::new(),
            base: 100.0,
            noise: 0.0,
            crash_when: Vec::new(),
            drift_from: None,
            interrupt_at: None,
            help: FAKE_HELP.into(),
            startup_s: 1.5,
        }
    }
}

/// Help text listing every flag of the table (and no removed ones).
pub const FAKE_HELP: &str = "-t, --threads N\n-tb, --threads-batch N\n-b, --batch-size N\n-ub, --ubatch-size N\n-np, --parallel N\n-c, --ctx-size N\n-fa, --flash-attn [on|off|auto]\n-ctk, --cache-type-k TYPE\n-ctv, --cache-type-v TYPE\n-kvu, --kv-unified\n-ngl, --n-gpu-layers N\n-lm, --load-mode MODE\n--spec-type TYPE\n--spec-draft-n-max N\n--cache-reuse N\n";

/// The scripted evaluator.
#[derive(Debug)]
pub struct FakeEvaluator {
    /// The script.
    pub script: Script,
    /// Every request, in order.
    pub calls: Vec<TrialRequest>,
    /// Events in order (`start <id>`, `screen`, `full`, `stop`).
    pub events: Vec<String>,
    interrupt: Cancel,
    rng: StdRng,
}

impl FakeEvaluator {
    /// A fake with a script; it raises `interrupt` when the script says.
    pub fn new(script: Script, interrupt: Cancel) -> FakeEvaluator {
        FakeEvaluator {
            script,
            calls: Vec::new(),
            events: Vec::new(),
            interrupt,
            rng: StdRng::seed_from_u64(99),
        }
    }

    /// The exact (noise-free, drift-free) rate of a configuration.
    pub fn true_rate(&self, c: &Config) -> f64 {
        self.script
            .effects
            .iter()
            .filter(|(f, v, _)| c.get(f) == Some(v.as_str()))
            .fold(self.script.base, |r, (_, _, x)| r * x)
    }

    fn sample(&mut self, probe: &Probe, rate: f64) -> f64 {
        let n = if self.script.noise > 0.0 {
            1.0 + self.rng.gen_range(-self.script.noise..=self.script.noise)
        } else {
            1.0
        };
        let r = rate * n;
        match probe {
            Probe::Ttft { depth } => *depth as f64 / r,
            Probe::Prefill { .. } => r * 5.0,
            _ => r,
        }
    }

    fn measure(&mut self, req: &TrialRequest, rate: f64, repeats: u32, m: &mut Measurements) {
        for p in &req.probes {
            let mut samples = m
                .get(&p.key())
                .map(|s| s.samples.clone())
                .unwrap_or_default();
            for _ in 0..repeats {
                let s = self.sample(p, rate);
                samples.push(s);
            }
            m.insert(p.key(), Stat::of(&samples));
        }
    }
}

impl Evaluator for FakeEvaluator {
    fn server(&mut self) -> ServerInfo {
        ServerInfo {
            backend: "llama".into(),
            binary: "fake-llama-server".into(),
            build: "b0 (fake)".into(),
        }
    }

    fn help_text(&mut self) -> Option<String> {
        Some(self.script.help.clone())
    }

    fn evaluate(
        &mut self,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> TrialOutcome {
        self.calls.push(req.clone());
        self.events.push(format!("start {}", req.trial_id));
        let mut out = TrialOutcome {
            startup_s: self.script.startup_s,
            slots: Some(SlotInfo {
                n_slots: req.config.int("-np").filter(|&n| n > 0).unwrap_or(4) as u64,
                n_ctx_slot: 4096,
                kv_unified: req.config.int("-np").is_none(),
            }),
            ..Default::default()
        };
        let crash = self
            .script
            .crash_when
            .iter()
            .any(|(f, v)| req.config.get(f) == Some(v.as_str()));
        if crash {
            out.status = Some(Status::Crashed);
            out.reason = Some("server exited with signal 11 (SIGSEGV) during warm-up".into());
            self.events.push("stop".into());
            return out;
        }
        if self.script.interrupt_at == Some(req.trial_id) {
            self.interrupt.cancel(libc::SIGINT);
            out.status = Some(Status::Interrupted);
            out.reason = Some("Ctrl-C during the trial".into());
            self.events.push("stop".into());
            return out;
        }
        let mut rate = self.true_rate(&req.config);
        if let Some((from, f)) = self.script.drift_from {
            if req.trial_id >= from {
                rate *= f;
            }
        }
        let mut m = Measurements::new();
        self.events.push("screen".into());
        self.measure(req, rate, req.screen_repeats, &mut m);
        let mut measured = req.screen_repeats;
        if req.full_repeats > req.screen_repeats && promote(&m) {
            self.events.push("full".into());
            self.measure(req, rate, req.full_repeats - req.screen_repeats, &mut m);
            measured = req.full_repeats;
        }
        out.full = measured >= req.full_repeats;
        out.measure_s = measured as f64 * req.probes.len() as f64;
        out.measurements = m;
        out.quality = req.quality.as_ref().map(|q| {
            let lossy = !req.config.lossy_flags().is_empty();
            q.prompts
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    (0..q.n_predict as i64)
                        .map(|k| {
                            let id = 10 * i as i64 + k + i64::from(lossy && k == 3);
                            TokenStep {
                                id,
                                top: vec![(id, -0.2), (id + 1, -2.0)],
                            }
                        })
                        .collect()
                })
                .collect()
        });
        out.status = Some(Status::Ok);
        self.events.push("stop".into());
        out
    }
}
