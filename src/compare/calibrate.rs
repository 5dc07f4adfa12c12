//! `rooftune calibrate`: fit the estimate's terms on this machine's own
//! measurements and say how well they predict models left out of the fit.
//!
//! Input: `bench --json` results (each names its model file, whose GGUF
//! gives the shape), or [`Measured`] built by the caller from another source
//! (`app` reads campaign logs, which rank above this module, into it). Every decode depth becomes a decode point and the
//! prefill a prefill point (at the mean depth its tokens see, half the
//! prompt), with the features of `roofline::estimate` computed for the
//! machine the calibration will be saved with. `roofline::fit` then fits
//! them and validates leave-one-model-out; the largest held-out error
//! becomes the estimate's band.

use crate::catalog::calibrated::Calibration;
use crate::roofline::decode::{self, EtaBand};
use crate::roofline::estimate::{self, TypeColumns};
use crate::roofline::fit::{self, Fit, HeldOut, Point};
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::Machine;
use crate::roofline::placement::{self, Placement};
use crate::roofline::prefill;
use crate::shape::ModelShape;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Why a calibration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// A result file could not be read.
    #[error("cannot read {path}: {source}\n(hint: pass files written by `rooftune bench --json -o FILE`)")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not a bench result.
    #[error("{path} is not a `rooftune bench --json` result: {reason}\n(hint: write one with `rooftune bench --model M.gguf --json -o FILE`)")]
    NotBench {
        /// File.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The model file a result names cannot be read as a shape.
    #[error("{path}: its model `{model}` cannot be read ({reason})\n(hint: calibrate where the model files are, or keep them beside the results)")]
    Model {
        /// Result file.
        path: PathBuf,
        /// Model file named in it.
        model: String,
        /// Why.
        reason: String,
    },
    /// Too few models to validate a fit.
    #[error("calibration needs measurements of at least 2 models to hold one out, got {models}\n(hint: bench generated models of different shapes: `rooftune synth --hidden 512 --layers 24 -o b.gguf`)")]
    TooFewModels {
        /// Distinct models given.
        models: usize,
    },
}

/// One model's measurements.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Model label (file name).
    pub model: String,
    /// Its shape.
    pub shape: ModelShape,
    /// Decode: (depth, tok/s).
    pub decode: Vec<(u64, f64)>,
    /// Prefill: (prompt tokens, tok/s).
    pub prefill: Vec<(u64, f64)>,
}

fn median_of(v: &serde_json::Value, keys: &[&str]) -> Option<f64> {
    keys.iter()
        .find_map(|k| v.get(*k)?.get("median")?.as_f64())
        .filter(|x| x.is_finite() && *x > 0.0)
}

/// Read a `bench --json` result and the model it names (a relative model
/// path is tried from the working directory, then beside the result).
pub fn read_bench(path: &Path) -> Result<Measured, CalibrateError> {
    let text = std::fs::read_to_string(path).map_err(|source| CalibrateError::Read {
        path: path.into(),
        source,
    })?;
    let not = |reason: &str| CalibrateError::NotBench {
        path: path.into(),
        reason: reason.into(),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not(&format!("not JSON ({e})")))?;
    let model = v
        .pointer("/target/model")
        .and_then(|m| m.as_str())
        .ok_or_else(|| not("no target.model"))?;
    let m = v.get("measurement").ok_or_else(|| not("no measurement"))?;
    let rates = ["server_tok_s", "client_tok_s"];
    let decode = m
        .get("decode")
        .and_then(|d| d.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|d| Some((d.get("depth")?.as_u64()?, median_of(d, &rates)?)))
                .collect()
        })
        .unwrap_or_default();
    let prefill = m
        .get("prefill")
        .and_then(|p| Some((p.get("prompt_tokens")?.as_u64()?, median_of(p, &rates)?)))
        .into_iter()
        .collect();
    measured(path, model, decode, prefill)
}

/// One model's measurements from any source (`origin` is the file they came
/// from: a bench result or a campaign log); the model file's shape is read
/// from `model` (tried from the working directory, then beside `origin`).
pub fn measured(
    origin: &Path,
    model: &str,
    decode: Vec<(u64, f64)>,
    prefill: Vec<(u64, f64)>,
) -> Result<Measured, CalibrateError> {
    let shape = model_shape(origin, model)?;
    let label = Path::new(model)
        .file_name()
        .map_or(model.to_string(), |f| f.to_string_lossy().into_owned());
    Ok(Measured {
        model: label,
        shape,
        decode,
        prefill,
    })
}

fn model_shape(result: &Path, model: &str) -> Result<ModelShape, CalibrateError> {
    let direct = PathBuf::from(model);
    let beside = result
        .parent()
        .map(|d| d.join(direct.file_name().unwrap_or_default()));
    let file = std::iter::once(direct.clone())
        .chain(beside)
        .find(|p| p.is_file())
        .unwrap_or(direct);
    let err = |reason: String| CalibrateError::Model {
        path: result.into(),
        model: model.into(),
        reason,
    };
    let g = crate::gguf::reader::GgufModel::open(&file).map_err(|e| err(e.to_string()))?;
    crate::gguf::shape::model_shape(&g).map_err(|e| err(e.to_string()))
}

/// A measured model and how its rates sit against their ceilings.
#[derive(Debug, Clone, Serialize)]
pub struct MeasuredModel {
    /// Label (file name).
    pub model: String,
    /// Decode: (depth, measured tok/s, ceiling tok/s).
    pub decode: Vec<(u64, f64, f64)>,
    /// Prefill: (prompt tokens, measured tok/s, ceiling tok/s).
    pub prefill: Vec<(u64, f64, f64)>,
    /// Whether it was left out of the fit.
    pub validation: bool,
}

impl MeasuredModel {
    /// Rates above their ceilings, as `what measured > ceiling`.
    pub fn above_ceiling(&self) -> Vec<String> {
        let d = self.decode.iter().map(|(x, m, c)| ("decode", x, m, c));
        let p = self.prefill.iter().map(|(x, m, c)| ("prefill", x, m, c));
        d.chain(p)
            .filter(|(_, _, m, c)| super::ceiling::above(**m, **c))
            .map(|(what, x, m, c)| {
                format!("{}: {what}@{x} {m:.1} tok/s > ceiling {c:.1}", self.model)
            })
            .collect()
    }
}

/// The anchor: the first model's first decode point and its prefill,
/// measured with the first model and again after every few others.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Anchor {
    /// When, in models measured: the first model's own measurement is at
    /// 0.5 (the middle of model 0), one taken after `k` models at `k`.
    pub at: f64,
    /// Decode, tok/s.
    pub decode_tok_s: f64,
    /// Prefill, tok/s.
    pub prefill_tok_s: Option<f64>,
}

/// How far one server start's pace can be from the next over a
/// `calibrate --run`: the first model's first decode point and prefill,
/// measured first and again after every few models, each time in a new
/// server start. It is reported, not used to correct the rates: on the
/// 2-core VM this was built on the anchor alternated between two paces
/// from one start to the next (about 340 and 410 tok/s), noise per start
/// that no correction by time can follow. No held-out error smaller than
/// the spread means anything; `--starts N` averages N starts per model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// The anchor model.
    pub model: String,
    /// Its decode depth, tokens.
    pub depth: u64,
    /// Measured first, tok/s.
    pub first_tok_s: f64,
    /// Measured last, after every other model, tok/s.
    pub last_tok_s: f64,
    /// last / first - 1, %.
    pub drift_pct: f64,
    /// Largest / smallest decode rate of the anchors - 1, %.
    pub spread_pct: f64,
    /// Every anchor, in order.
    pub anchors: Vec<Anchor>,
}

impl Drift {
    /// From the anchors (None with fewer than two).
    pub fn new(model: String, depth: u64, anchors: Vec<Anchor>) -> Option<Drift> {
        let (first, last) = (*anchors.first()?, *anchors.last()?);
        let rates = || anchors.iter().map(|a| a.decode_tok_s);
        let (lo, hi) = (
            rates().fold(f64::INFINITY, f64::min),
            rates().fold(0.0, f64::max),
        );
        (anchors.len() >= 2 && lo > 0.0).then(|| Drift {
            model,
            depth,
            first_tok_s: first.decode_tok_s,
            last_tok_s: last.decode_tok_s,
            drift_pct: 100.0 * (last.decode_tok_s / first.decode_tok_s - 1.0),
            spread_pct: 100.0 * (hi / lo - 1.0),
            anchors,
        })
    }
}

/// One model measured in several server starts: the mean of each point's
/// rate over the starts that measured it (a mean, not a median: with two
/// paces per start, the median of a few starts still lands on one of them).
pub fn mean_of_starts(starts: &[Measured]) -> Option<Measured> {
    let first = starts.first()?;
    let mean = |pick: &dyn Fn(&Measured) -> &Vec<(u64, f64)>| -> Vec<(u64, f64)> {
        pick(first)
            .iter()
            .map(|&(x, _)| {
                let v: Vec<f64> = starts
                    .iter()
                    .filter_map(|m| pick(m).iter().find(|p| p.0 == x).map(|p| p.1))
                    .collect();
                (x, v.iter().sum::<f64>() / v.len().max(1) as f64)
            })
            .collect()
    };
    Some(Measured {
        model: first.model.clone(),
        shape: first.shape.clone(),
        decode: mean(&|m| &m.decode),
        prefill: mean(&|m| &m.prefill),
    })
}

/// The fit of both phases, ready to save.
#[derive(Debug, Clone, Serialize)]
pub struct Calibrated {
    /// What is saved with the profile.
    pub calibration: Calibration,
    /// Decode fit and its held-out predictions.
    pub decode: Fit,
    /// Prefill fit, when prefill was measured.
    pub prefill: Option<Fit>,
    /// Models measured but left out of the fit, predicted by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
}

/// Models left out of the fit altogether (another shape, the real model),
/// each point predicted by the fit on the others.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Validation {
    /// Decode predictions.
    pub decode: Vec<HeldOut>,
    /// Prefill predictions.
    pub prefill: Vec<HeldOut>,
    /// Largest absolute decode error, %.
    pub decode_max_pct: Option<f64>,
    /// Largest absolute prefill error, %.
    pub prefill_max_pct: Option<f64>,
}

fn predicted(c: &[f64], points: &[Point]) -> Vec<HeldOut> {
    points
        .iter()
        .map(|p| {
            let pred = fit::predict(c, p);
            HeldOut {
                group: p.group.clone(),
                depth: p.depth,
                measured_tok_s: 1.0 / p.seconds,
                predicted_tok_s: if pred > 0.0 {
                    1.0 / pred
                } else {
                    f64::INFINITY
                },
                error_pct: 100.0 * (p.seconds / pred - 1.0),
            }
        })
        .collect()
}

fn max_abs(v: &[HeldOut]) -> Option<f64> {
    v.iter().map(|h| h.error_pct.abs()).reduce(f64::max)
}

impl Calibrated {
    /// Predict `runs` (left out of the fit) with it; a larger error than the
    /// leave-one-out band widens the band saved with the profile.
    pub fn validate(&mut self, machine: &Machine, runs: &[Measured]) {
        let cols = TypeColumns::of_factors(&self.calibration.decode.types);
        let (dec, pre) = points(machine, runs, &cols);
        let decode = predicted(&self.decode.coefficients, &dec);
        let prefill = match &self.prefill {
            Some(f) => predicted(&f.coefficients, &pre),
            None => Vec::new(),
        };
        let v = Validation {
            decode_max_pct: max_abs(&decode),
            prefill_max_pct: max_abs(&prefill),
            decode,
            prefill,
        };
        let cal = &mut self.calibration;
        if let Some(d) = v.decode_max_pct {
            cal.decode_holdout_pct = cal.decode_holdout_pct.max(d);
        }
        if let (Some(p), Some(band)) = (v.prefill_max_pct, cal.prefill_holdout_pct.as_mut()) {
            *band = band.max(p);
        }
        self.validation = Some(v);
    }
}

/// Decode and prefill points of every model on `machine`, with a weight
/// column for each of `cols`.
pub fn points(
    machine: &Machine,
    runs: &[Measured],
    cols: &TypeColumns,
) -> (Vec<Point>, Vec<Point>) {
    let opts = KvOptions::default();
    let (mut dec, mut pre) = (Vec::new(), Vec::new());
    for r in runs {
        let a = placement::assign(&r.shape, machine, Placement::ALL);
        for &(depth, tok_s) in &r.decode {
            let ceiling = decode::at_depth(&r.shape, machine, &a, depth, opts, EtaBand::default());
            dec.push(Point {
                group: r.model.clone(),
                depth,
                features: estimate::decode_features(&r.shape, machine, &a, depth, opts, cols),
                seconds: 1.0 / tok_s,
                floor_s: 1.0 / ceiling.ceiling_tok_s,
            });
        }
        for &(tokens, tok_s) in &r.prefill {
            let depth = tokens / 2;
            // The micro-batch of the whole prompt: the highest ceiling, so the loosest floor.
            let ceiling = prefill::at_depth(&r.shape, machine, depth, tokens.max(1));
            pre.push(Point {
                group: r.model.clone(),
                depth: tokens,
                features: estimate::prefill_features(&r.shape, machine, depth, cols),
                seconds: 1.0 / tok_s,
                floor_s: 1.0 / ceiling.ceiling_tok_s,
            });
        }
    }
    (dec, pre)
}

/// Fit the terms on `runs` for `machine`.
pub fn calibrate(
    machine: &Machine,
    runs: &[Measured],
    source: String,
) -> Result<Calibrated, CalibrateError> {
    let mut models: Vec<&str> = runs.iter().map(|r| r.model.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    if models.len() < 2 {
        return Err(CalibrateError::TooFewModels {
            models: models.len(),
        });
    }
    // A column per weight type fitted on; held out, a type only the left-out
    // model has takes the factor of the nearest fitted type (`TypeColumns`).
    let cols = TypeColumns::of(runs.iter().map(|r| &r.shape));
    let (dec, pre) = points(machine, runs, &cols);
    let decode = fit::fit_filled(
        &dec,
        2 * cols.len() + estimate::DECODE_TAIL.len(),
        &|c, has| cols.fill(c, has, 2),
    );
    let prefill = (!pre.is_empty()).then(|| {
        fit::fit_filled(
            &pre,
            cols.len() + estimate::PREFILL_TAIL.len(),
            &|c, has| cols.fill(c, has, 1),
        )
    });
    let calibration = Calibration {
        decode: estimate::decode_terms(&decode.coefficients, &cols),
        prefill: prefill
            .as_ref()
            .map(|f| estimate::prefill_terms(&f.coefficients, &cols)),
        decode_holdout_pct: decode.holdout_max_pct.unwrap_or(0.0),
        prefill_holdout_pct: prefill.as_ref().and_then(|f| f.holdout_max_pct),
        points: dec.len() + pre.len(),
        models: models.len(),
        source,
    };
    Ok(Calibrated {
        calibration,
        decode,
        prefill,
        validation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(at: f64, decode_tok_s: f64) -> Anchor {
        Anchor {
            at,
            decode_tok_s,
            prefill_tok_s: Some(2.0 * decode_tok_s),
        }
    }

    #[test]
    fn anchors_give_the_drift_and_the_spread_between_starts() {
        let d = Drift::new(
            "a".into(),
            0,
            vec![
                anchor(0.5, 340.0),
                anchor(4.0, 410.0),
                anchor(8.0, 332.0),
                anchor(12.0, 413.0),
            ],
        )
        .expect("anchors");
        approx::assert_relative_eq!(
            d.drift_pct,
            100.0 * (413.0 / 340.0 - 1.0),
            max_relative = 1e-12
        );
        approx::assert_relative_eq!(
            d.spread_pct,
            100.0 * (413.0 / 332.0 - 1.0),
            max_relative = 1e-12
        );
        // One anchor is no drift.
        assert!(Drift::new("a".into(), 0, vec![anchor(0.5, 1.0)]).is_none());
    }

    #[test]
    fn starts_are_averaged_point_by_point() {
        let m = |d0: f64, d4k: f64, p: f64| Measured {
            model: "m".into(),
            shape: crate::roofline::decode::tests::shape(),
            decode: vec![(0, d0), (4096, d4k)],
            prefill: vec![(512, p)],
        };
        let avg = mean_of_starts(&[m(340.0, 50.0, 800.0), m(410.0, 60.0, 900.0)]).expect("mean");
        assert_eq!(avg.decode, [(0, 375.0), (4096, 55.0)]);
        assert_eq!(avg.prefill, [(512, 850.0)]);
        assert!(mean_of_starts(&[]).is_none());
    }
}
