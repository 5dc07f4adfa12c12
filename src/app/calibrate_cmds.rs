//! `calibrate`: read bench results and campaign logs, fit the estimate's terms on the profile
//! they were measured with, print the fit with its held-out error, and save
//! it with the profile.

use super::build;
use super::output::Sink;
use crate::catalog::hardware::HardwareProfile;
use crate::cli::{CalibrateArgs, CalibrateRunArgs};
use crate::compare::calibrate::{self, Calibrated, Drift, Measured, MeasuredModel};
use crate::exit::ExitCode;
use crate::report;
use crate::units::UnitError;
use anyhow::{bail, Context, Result};
use serde::Serialize;

/// `rooftune calibrate`
pub fn calibrate(a: &CalibrateArgs) -> Result<ExitCode> {
    let sink = Sink::open(&a.out)?;
    let cat = build::catalog()?;
    if let Some(name) = &a.save {
        crate::probe::save::check_name(name, crate::catalog::Catalog::bundled()?)?;
    }
    check_run(&a.run)?;
    let mut runs: Vec<Measured> = super::calibrate_input::read_all(&a.results)?;
    let held_out: Vec<Measured> = super::calibrate_input::read_all(&a.held_out)?;
    let profile: HardwareProfile = match &a.hw {
        Some(h) => cat.hardware(h)?.clone(),
        None => crate::probe::probe_profile(true)
            .context("probing this machine (hint: pass --hw PROFILE)")?,
    };
    let machine = crate::compare::machine::single(&profile, profile.name.clone());
    let measured = if a.run.run {
        Some(super::calibrate_run::measure_all(&a.run, &machine)?)
    } else {
        None
    };
    if let Some(m) = &measured {
        runs.extend(m.train.iter().cloned());
    }
    let source = format!(
        "rooftune calibrate on {} from {} measured model run(s) against profile `{}`",
        chrono::Local::now().format("%Y-%m-%d"),
        runs.len(),
        profile.name
    );
    let mut fit = calibrate::calibrate(&machine, &runs, source)?;
    let mut validate = held_out;
    if let Some(m) = &measured {
        validate.extend(m.validate.iter().cloned());
    }
    if !validate.is_empty() {
        fit.validate(&machine, &validate);
    }
    let fit = Output {
        above_ceiling: measured
            .iter()
            .flat_map(|m| m.models.iter().flat_map(|x| x.above_ceiling()))
            .collect(),
        drift: measured.as_ref().and_then(|m| m.drift.clone()),
        models: measured.map(|m| m.models).unwrap_or_default(),
        fit,
    };
    let saved = match &a.save {
        Some(name) => {
            let mut p = profile.clone();
            p.name = name.clone();
            p.aliases.clear();
            p.calibration = Some(fit.fit.calibration.clone());
            let dir =
                crate::catalog::user_hardware_dir().ok_or(crate::probe::ProbeError::NoConfigDir)?;
            Some(crate::probe::save::save(&p, &dir)?)
        }
        None => None,
    };
    sink.emit(&fit, || {
        let mut d = report::calibrate::document(&fit.fit, &profile.name, saved.as_deref());
        report::calibrate::measured(&mut d, &fit.models, &fit.above_ceiling);
        report::calibrate::drift(&mut d, fit.drift.as_ref());
        d
    })?;
    Ok(ExitCode::OK)
}

/// What `calibrate` prints: the fit, and with `--run` what was measured.
#[derive(Debug, Serialize)]
struct Output {
    #[serde(flatten)]
    fit: Calibrated,
    /// With `--run`: every model measured, its rates next to their ceilings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    models: Vec<MeasuredModel>,
    /// With `--run`: rates above their ceilings (should be empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    above_ceiling: Vec<String>,
    /// With `--run`: the first model measured again at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<Drift>,
}

fn check_run(r: &CalibrateRunArgs) -> Result<()> {
    if !r.run {
        return Ok(());
    }
    let out_of_range = |what: &str, rule: &str, value: f64| UnitError::OutOfRange {
        what: what.into(),
        rule: rule.into(),
        value,
    };
    if r.n_predict < 2 {
        bail!(out_of_range(
            "--n-predict",
            "at least 2",
            r.n_predict as f64
        ));
    }
    if r.repeats == 0 {
        bail!(out_of_range("--repeats", "at least 1", 0.0));
    }
    if r.prompt_tokens == 0 {
        bail!(out_of_range("--prompt-tokens", "at least 1", 0.0));
    }
    Ok(())
}
