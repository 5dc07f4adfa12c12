//! An evaluator that replays a recorded grid (a `tune --grid` log), so a
//! solver variant can be scored over many seeds in seconds without a
//! server. Each trial draws its repeats from that configuration's recorded
//! samples (repeat by repeat, so a mix keeps its terms together), with the
//! drift the recording's measurements of the defaults saw: every recorded
//! block is first divided by the level of the defaults nearest it in time,
//! then multiplied by the level of a recorded defaults block chosen in
//! recording order as the replay goes on.

use super::space::Config;
use super::trial::{Evaluator, Measurements, ServerInfo, Stat, Status, TrialOutcome, TrialRequest};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The fields of a log line the replay needs (any other field is ignored).
#[derive(Debug, Clone, Deserialize)]
struct Recorded {
    kind: String,
    #[serde(default)]
    id: u64,
    #[serde(default)]
    config_order: Vec<(String, String)>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    measurements: Measurements,
    #[serde(default)]
    startup_s: f64,
    #[serde(default)]
    measure_s: f64,
}

/// One recorded server start: samples by key, de-drifted, and its cost.
#[derive(Debug, Clone)]
struct Start {
    samples: BTreeMap<String, Vec<f64>>,
    startup_s: f64,
    measure_s_per_repeat: f64,
}

/// Why a recorded grid cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A line does not parse.
    #[error("line {line} of the recorded grid does not parse: {message}\n(hint: record it with `rooftune tune SPEC --grid`)")]
    Parse {
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// No measured defaults.
    #[error("the recorded grid has no measured defaults\n(hint: record it with `rooftune tune SPEC --grid`)")]
    NoDefaults,
}

/// The replaying evaluator.
#[derive(Debug)]
pub struct ReplayEvaluator {
    starts: HashMap<Vec<(String, String)>, Vec<Start>>,
    /// Level of each recorded defaults block, by key, in recording order.
    drift: Vec<BTreeMap<String, f64>>,
    rng: StdRng,
    calls: usize,
    /// Trials between two drift levels (the recording's anchor interval).
    pub trials_per_level: usize,
}

fn key_means(m: &Measurements) -> BTreeMap<String, f64> {
    m.iter().map(|(k, s)| (k.clone(), s.mean)).collect()
}

impl ReplayEvaluator {
    /// Parse a recorded grid (JSONL text); `seed` drives the draws.
    pub fn parse(text: &str, seed: u64) -> Result<ReplayEvaluator, ReplayError> {
        let mut lines = Vec::new();
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let r: Recorded = serde_json::from_str(l).map_err(|e| ReplayError::Parse {
                line: i + 1,
                message: e.to_string(),
            })?;
            if r.kind == "trial" && r.status == "ok" && !r.measurements.is_empty() {
                lines.push(r);
            }
        }
        let is_default = |r: &Recorded| {
            r.config_order
                .iter()
                .all(|(_, v)| v == super::space::DEFAULT)
        };
        let defaults: Vec<(u64, BTreeMap<String, f64>)> = lines
            .iter()
            .filter(|r| is_default(r))
            .map(|r| (r.id, key_means(&r.measurements)))
            .collect();
        if defaults.is_empty() {
            return Err(ReplayError::NoDefaults);
        }
        // The defaults' overall level by key (geometric mean).
        let mut overall: BTreeMap<String, f64> = BTreeMap::new();
        for (_, m) in &defaults {
            for (k, v) in m {
                *overall.entry(k.clone()).or_default() += v.max(1e-12).ln() / defaults.len() as f64;
            }
        }
        let level = |m: &BTreeMap<String, f64>| -> BTreeMap<String, f64> {
            m.iter()
                .map(|(k, v)| (k.clone(), v / overall.get(k).map_or(1.0, |o| o.exp())))
                .collect()
        };
        let drift: Vec<BTreeMap<String, f64>> = defaults.iter().map(|(_, m)| level(m)).collect();
        let mut starts: HashMap<Vec<(String, String)>, Vec<Start>> = HashMap::new();
        for r in &lines {
            let near = defaults
                .iter()
                .enumerate()
                .min_by_key(|(_, (id, _))| id.abs_diff(r.id))
                .map_or(0, |(i, _)| i);
            let repeats = r
                .measurements
                .values()
                .map(|s| s.samples.len())
                .min()
                .unwrap_or(0);
            let samples = r
                .measurements
                .iter()
                .map(|(k, s)| {
                    let f = drift[near].get(k).copied().unwrap_or(1.0).max(1e-9);
                    (k.clone(), s.samples.iter().map(|x| x / f).collect())
                })
                .collect();
            let key = if is_default(r) {
                Vec::new()
            } else {
                r.config_order.clone()
            };
            starts.entry(key).or_default().push(Start {
                samples,
                startup_s: r.startup_s,
                measure_s_per_repeat: r.measure_s / repeats.max(1) as f64,
            });
        }
        Ok(ReplayEvaluator {
            starts,
            drift,
            rng: StdRng::seed_from_u64(seed),
            calls: 0,
            trials_per_level: 6,
        })
    }

    /// Configurations the recording holds (the defaults as an empty list).
    pub fn configs(&self) -> usize {
        self.starts.len()
    }

    fn draw(
        &mut self,
        start: &Start,
        level: &BTreeMap<String, f64>,
        repeats: u32,
        m: &mut Measurements,
    ) {
        let n = start.samples.values().map(Vec::len).min().unwrap_or(0);
        if n == 0 {
            return;
        }
        let mut taken: BTreeMap<String, Vec<f64>> = m
            .iter()
            .map(|(k, s)| (k.clone(), s.samples.clone()))
            .collect();
        for _ in 0..repeats {
            let i = self.rng.gen_range(0..n);
            for (k, v) in &start.samples {
                let f = level.get(k).copied().unwrap_or(1.0);
                taken.entry(k.clone()).or_default().push(v[i] * f);
            }
        }
        for (k, v) in taken {
            m.insert(k, Stat::of(&v));
        }
    }
}

impl Evaluator for ReplayEvaluator {
    fn server(&mut self) -> ServerInfo {
        ServerInfo {
            backend: "llama".into(),
            binary: "replay".into(),
            build: "recorded grid".into(),
        }
    }

    fn help_text(&mut self) -> Option<String> {
        None
    }

    fn evaluate(
        &mut self,
        req: &TrialRequest,
        promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> TrialOutcome {
        let key: Vec<(String, String)> = if req.config.args().is_empty() {
            Vec::new()
        } else {
            req.config.0.clone()
        };
        let Some(starts) = self.starts.get(&key).filter(|s| !s.is_empty()) else {
            return TrialOutcome {
                status: Some(Status::Skipped),
                reason: Some(format!(
                    "`{}` is not in the recorded grid",
                    Config(key).label()
                )),
                ..Default::default()
            };
        };
        let start = starts[self.rng.gen_range(0..starts.len())].clone();
        let level =
            self.drift[(self.calls / self.trials_per_level.max(1)) % self.drift.len()].clone();
        self.calls += 1;
        let mut m = Measurements::new();
        self.draw(&start, &level, req.screen_repeats, &mut m);
        let mut taken = req.screen_repeats;
        if req.full_repeats > req.screen_repeats && promote(&m) {
            self.draw(
                &start,
                &level,
                req.full_repeats - req.screen_repeats,
                &mut m,
            );
            taken = req.full_repeats;
        }
        TrialOutcome {
            status: Some(Status::Ok),
            full: taken >= req.full_repeats,
            startup_s: start.startup_s,
            measure_s: start.measure_s_per_repeat * taken as f64,
            measurements: m,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::Probe;

    fn line(id: u64, cfg: &[(&str, &str)], samples: &[f64]) -> String {
        let cfg: Vec<(String, String)> = cfg
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        serde_json::json!({
            "kind": "trial", "id": id, "status": "ok", "config_order": cfg,
            "measurements": {"decode_tok_s@0": Stat::of(samples)},
            "startup_s": 1.0, "measure_s": samples.len() as f64
        })
        .to_string()
    }

    #[test]
    fn replays_recorded_samples_with_the_recorded_drift() {
        // The defaults at 100 then 50 (drift); `-t 2` recorded beside the
        // slow anchor at 60 and 62: de-drifted, it is 20-24% better.
        let text = [
            line(0, &[], &[100.0, 100.0]),
            line(2, &[("-t", "2")], &[60.0, 62.0]),
            line(3, &[], &[50.0, 50.0]),
        ]
        .join("\n");
        let mut r = ReplayEvaluator::parse(&text, 1).unwrap();
        r.trials_per_level = 1;
        assert_eq!(r.configs(), 2);
        let req = |cfg: Config| TrialRequest {
            campaign: "c".into(),
            trial_id: 0,
            config: cfg,
            probes: vec![Probe::Decode {
                depth: 0,
                tokens: 8,
            }],
            screen_repeats: 1,
            full_repeats: 3,
            quality: None,
        };
        let t2 = Config(vec![("-t".into(), "2".into())]);
        // Level 0 (100/sqrt(100*50) = 1.41): the fast phase.
        let out = r.evaluate(&req(t2.clone()), &mut |_| true);
        assert!(out.full);
        let s = &out.measurements["decode_tok_s@0"];
        assert_eq!(s.samples.len(), 3);
        for x in &s.samples {
            let ratio = x / 100.0;
            assert!((1.19..=1.25).contains(&ratio), "{x}");
        }
        // Screened out: only the first look is taken and charged.
        let out = r.evaluate(&req(t2), &mut |_| false);
        assert!(!out.full);
        assert_eq!(out.measurements["decode_tok_s@0"].samples.len(), 1);
        assert!((out.measure_s - 1.0).abs() < 1e-9);
        let missing = r.evaluate(&req(Config(vec![("-t".into(), "1".into())])), &mut |_| true);
        assert_eq!(missing.status, Some(Status::Skipped));
        assert!(matches!(
            ReplayEvaluator::parse("{\"kind\":\"session\"}", 1),
            Err(ReplayError::NoDefaults)
        ));
    }
}
