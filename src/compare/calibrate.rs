//! `rooftune calibrate`: fit the estimate's terms on this machine's own
//! measurements and say how well they predict models left out of the fit.
//!
//! Input: `bench --json` results (each names its model file, whose GGUF
//! gives the shape). Every decode depth becomes a decode point and the
//! prefill a prefill point (at the mean depth its tokens see, half the
//! prompt), with the features of `roofline::estimate` computed for the
//! machine the calibration will be saved with. `roofline::fit` then fits
//! them and validates leave-one-model-out; the largest held-out error
//! becomes the estimate's band.

use crate::catalog::calibrated::Calibration;
use crate::roofline::estimate::{self, DECODE_FEATURES, PREFILL_FEATURES};
use crate::roofline::fit::{self, Fit, Point};
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::Machine;
use crate::roofline::placement::{self, Placement};
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
    let shape = model_shape(path, model)?;
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

/// The fit of both phases, ready to save.
#[derive(Debug, Clone, Serialize)]
pub struct Calibrated {
    /// What is saved with the profile.
    pub calibration: Calibration,
    /// Decode fit and its held-out predictions.
    pub decode: Fit,
    /// Prefill fit, when prefill was measured.
    pub prefill: Option<Fit>,
}

/// Decode and prefill points of every model on `machine`.
pub fn points(machine: &Machine, runs: &[Measured]) -> (Vec<Point>, Vec<Point>) {
    let opts = KvOptions::default();
    let (mut dec, mut pre) = (Vec::new(), Vec::new());
    for r in runs {
        let a = placement::assign(&r.shape, machine, Placement::ALL);
        for &(depth, tok_s) in &r.decode {
            dec.push(Point {
                group: r.model.clone(),
                depth,
                features: estimate::decode_features(&r.shape, machine, &a, depth, opts).to_vec(),
                seconds: 1.0 / tok_s,
            });
        }
        for &(tokens, tok_s) in &r.prefill {
            let depth = tokens / 2;
            pre.push(Point {
                group: r.model.clone(),
                depth: tokens,
                features: estimate::prefill_features(&r.shape, machine, depth).to_vec(),
                seconds: 1.0 / tok_s,
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
    let (dec, pre) = points(machine, runs);
    let decode = fit::fit(&dec, DECODE_FEATURES);
    let prefill = (!pre.is_empty()).then(|| fit::fit(&pre, PREFILL_FEATURES));
    let calibration = Calibration {
        decode: estimate::decode_terms(&decode.coefficients),
        prefill: prefill
            .as_ref()
            .map(|f| estimate::prefill_terms(&f.coefficients)),
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
    })
}
