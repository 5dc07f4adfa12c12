//! `hw probe [--save NAME] [--json] [--quick] [--array-mib N]`.

use crate::catalog::{user_hardware_dir, Catalog};
use crate::cli::ProbeArgs;
use crate::exit::ExitCode;
use crate::probe::{self, save, ProbeError, ProbeOptions};
use crate::report;
use anyhow::{Context, Result};
use serde_json::json;
use std::io::IsTerminal;

/// `rooftune hw probe`
pub fn probe(a: &ProbeArgs) -> Result<ExitCode> {
    let sink = super::output::Sink::open(&a.out)?;
    let bundled = Catalog::bundled()?;
    // Everything that can be wrong with the request fails before measuring.
    let save_dir = match &a.save {
        Some(name) => {
            save::check_name(name, bundled).context("--save")?;
            Some(user_hardware_dir().ok_or(ProbeError::NoConfigDir)?)
        }
        None => None,
    };
    let array_bytes = match a.array_mib {
        Some(mib) if (1..=1 << 20).contains(&mib) => Some(mib as usize * 1024 * 1024),
        Some(mib) => anyhow::bail!(crate::units::UnitError::OutOfRange {
            what: "--array-mib".into(),
            rule: "between 1 and 1048576".into(),
            value: mib as f64,
        }),
        None => None,
    };
    if !sink.is_json() && std::io::stderr().is_terminal() {
        eprintln!("probing: detecting hardware, measuring memory bandwidth and CPU compute...");
    }
    let result = probe::probe(ProbeOptions {
        quick: a.quick,
        array_bytes,
    })?;
    let name = a.save.as_deref().unwrap_or("probe");
    let profile = probe::profile::build(&result, name, bundled)?;
    let saved = match &save_dir {
        Some(dir) => Some(save::save(&profile, dir)?),
        None => None,
    };
    sink.emit_text(
        &json!({ "probe": result, "profile": profile, "saved": saved }),
        || report::probe::probe(&result, &profile, saved.as_deref()),
    )?;
    Ok(ExitCode::OK)
}
