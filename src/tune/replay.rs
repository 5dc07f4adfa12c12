//! An evaluator that replays a recorded grid (a `tune --grid` log), so a
//! solver variant can be scored over many seeds in seconds without a
//! server. Each trial draws its repeats from that configuration's recorded
//! samples (repeat by repeat, so a mix keeps its terms together), with the
//! drift the recording's measurements of the defaults saw: every recorded
//! block is first divided by the level of the clean defaults nearest it in
//! time, then multiplied by the level of a recorded defaults block chosen in
//! recording order as the replay goes on. A disturbance the recording caught
//! (an anchor logged as drifted, the trials its re-runs superseded) is
//! replayed through those levels only: it is neither a reference to
//! de-drift by nor a start a configuration draws from. A trial that asks
//! for the quality guard gets the sample the recording took on the start
//! it draws from.

use super::space::Config;
use super::trial::{
    Evaluator, Measurements, QualitySample, ServerInfo, Stat, Status, TrialOutcome, TrialRequest,
};
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
    reason: Option<String>,
    #[serde(default)]
    supersedes: Vec<u64>,
    #[serde(default)]
    measurements: Measurements,
    #[serde(default)]
    startup_s: f64,
    #[serde(default)]
    measure_s: f64,
    #[serde(default)]
    quality: Option<QualitySample>,
}

/// One recorded server start: samples by key, de-drifted, and its cost.
#[derive(Debug, Clone)]
struct Start {
    samples: BTreeMap<String, Vec<f64>>,
    startup_s: f64,
    measure_s_per_repeat: f64,
    /// The quality guard's sample the recording took on this start.
    quality: Option<QualitySample>,
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
        let mut lines: Vec<Recorded> = Vec::new();
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
        let drifted = |r: &Recorded| r.reason.as_deref().is_some_and(|x| x.starts_with("drift"));
        let superseded: std::collections::BTreeSet<u64> = lines
            .iter()
            .flat_map(|r| r.supersedes.iter().copied())
            .collect();
        let defaults: Vec<(u64, BTreeMap<String, f64>)> = lines
            .iter()
            .filter(|r| is_default(r))
            .map(|r| (r.id, key_means(&r.measurements)))
            .collect();
        // The references to de-drift by: the defaults not logged as drifted.
        let clean: Vec<(u64, BTreeMap<String, f64>)> = lines
            .iter()
            .filter(|r| is_default(r) && !drifted(r))
            .map(|r| (r.id, key_means(&r.measurements)))
            .collect();
        let clean = if clean.is_empty() {
            defaults.clone()
        } else {
            clean
        };
        if defaults.is_empty() {
            return Err(ReplayError::NoDefaults);
        }
        // The clean defaults' overall level by key (geometric mean).
        let mut overall: BTreeMap<String, f64> = BTreeMap::new();
        for (_, m) in &clean {
            for (k, v) in m {
                *overall.entry(k.clone()).or_default() += v.max(1e-12).ln() / clean.len() as f64;
            }
        }
        let level = |m: &BTreeMap<String, f64>| -> BTreeMap<String, f64> {
            m.iter()
                .map(|(k, v)| (k.clone(), v / overall.get(k).map_or(1.0, |o| o.exp())))
                .collect()
        };
        let drift: Vec<BTreeMap<String, f64>> = defaults.iter().map(|(_, m)| level(m)).collect();
        let reference: Vec<BTreeMap<String, f64>> = clean.iter().map(|(_, m)| level(m)).collect();
        let mut starts: HashMap<Vec<(String, String)>, Vec<Start>> = HashMap::new();
        for r in lines
            .iter()
            .filter(|r| !drifted(r) && !superseded.contains(&r.id))
        {
            let near = clean
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
                    let f = reference[near].get(k).copied().unwrap_or(1.0).max(1e-9);
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
                quality: r.quality.clone(),
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
            quality: req.quality.as_ref().and(start.quality),
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

    #[test]
    fn a_caught_disturbance_is_neither_a_reference_nor_a_start() {
        // Anchor 1 was logged as drifted (a transient: 50 where the clean
        // defaults measure 100); trial 2 was measured during it and
        // superseded by its re-run 3, measured beside the clean level.
        let mut drifted: serde_json::Value =
            serde_json::from_str(&line(1, &[], &[50.0, 50.0])).unwrap();
        drifted["reason"] = "drift: the defaults now score 0.500".into();
        let mut rerun: serde_json::Value =
            serde_json::from_str(&line(3, &[("-t", "2")], &[110.0, 110.0])).unwrap();
        rerun["supersedes"] = serde_json::json!([2]);
        let text = [
            line(0, &[], &[100.0, 100.0]),
            drifted.to_string(),
            line(2, &[("-t", "2")], &[55.0, 55.0]),
            rerun.to_string(),
            line(4, &[], &[100.0, 100.0]),
        ]
        .join("\n");
        let mut r = ReplayEvaluator::parse(&text, 3).unwrap();
        // A level that is the clean defaults' own (the first block).
        r.trials_per_level = 1000;
        let req = TrialRequest {
            campaign: "c".into(),
            trial_id: 0,
            config: Config(vec![("-t".into(), "2".into())]),
            probes: vec![Probe::Decode {
                depth: 0,
                tokens: 8,
            }],
            screen_repeats: 4,
            full_repeats: 4,
            quality: None,
        };
        for _ in 0..5 {
            let out = r.evaluate(&req, &mut |_| true);
            for x in &out.measurements["decode_tok_s@0"].samples {
                // De-drifted by the clean 100, never by the drifted 50, and
                // never drawn from the superseded 55.
                assert!((x - 110.0).abs() < 1e-6, "{x}");
            }
        }
    }
}
