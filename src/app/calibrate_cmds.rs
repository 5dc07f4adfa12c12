//! `calibrate`: read bench results, fit the estimate's terms on the profile
//! they were measured with, print the fit with its held-out error, and save
//! it with the profile.

use super::build;
use super::output::Sink;
use crate::catalog::hardware::HardwareProfile;
use crate::cli::CalibrateArgs;
use crate::compare::calibrate::{self, Measured};
use crate::exit::ExitCode;
use crate::report;
use anyhow::{Context, Result};

/// `rooftune calibrate`
pub fn calibrate(a: &CalibrateArgs) -> Result<ExitCode> {
    let sink = Sink::open(&a.out)?;
    let cat = build::catalog()?;
    if let Some(name) = &a.save {
        crate::probe::save::check_name(name, crate::catalog::Catalog::bundled()?)?;
    }
    let runs: Vec<Measured> = a
        .results
        .iter()
        .map(|p| calibrate::read_bench(p))
        .collect::<Result<_, _>>()?;
    let profile: HardwareProfile = match &a.hw {
        Some(h) => cat.hardware(h)?.clone(),
        None => crate::probe::probe_profile(true)
            .context("probing this machine (hint: pass --hw PROFILE)")?,
    };
    let machine = crate::compare::machine::single(&profile, profile.name.clone());
    let source = format!(
        "rooftune calibrate on {} from {} bench result(s) against profile `{}`",
        chrono::Local::now().format("%Y-%m-%d"),
        runs.len(),
        profile.name
    );
    let fit = calibrate::calibrate(&machine, &runs, source)?;
    let saved = match &a.save {
        Some(name) => {
            let mut p = profile.clone();
            p.name = name.clone();
            p.aliases.clear();
            p.calibration = Some(fit.calibration.clone());
            let dir =
                crate::catalog::user_hardware_dir().ok_or(crate::probe::ProbeError::NoConfigDir)?;
            Some(crate::probe::save::save(&p, &dir)?)
        }
        None => None,
    };
    sink.emit(&fit, || {
        report::calibrate::document(&fit, &profile.name, saved.as_deref())
    })?;
    Ok(ExitCode::OK)
}
