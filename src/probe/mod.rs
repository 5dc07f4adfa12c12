//! `rooftune hw probe`: measure the machine at hand and turn it into a
//! hardware profile. Detection (`detect`, `macos`) says what the machine is;
//! `matching` ties a detected Apple chip or GPU to a bundled profile; the
//! kernels (`bandwidth`, `compute`) measure what it does; this module joins
//! them into a [`ProbeResult`] and a [`HardwareProfile`] whose every number
//! says it was measured here, on which date, and how; `save` writes it where
//! `--hw NAME` finds it.
//!
//! Bench and tune call [`probe_profile`] when no `--hw` is given.

pub mod bandwidth;
pub mod compute;
pub mod detect;
#[cfg(target_os = "macos")]
mod macos;
pub mod matching;
pub mod profile;
pub mod roofs;
pub mod save;

use crate::catalog::hardware::HardwareProfile;
use crate::catalog::{Catalog, CatalogError};
use bandwidth::{BandwidthConfig, BandwidthResult};
use compute::{ComputeConfig, ComputeResult};
use detect::Detected;
use matching::{AppleChip, GpuShare};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

const MIB: usize = 1024 * 1024;

/// Errors of the probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A buffer could not be allocated.
    #[error("cannot allocate {bytes} bytes for the {what}\n(hint: pass a smaller `--array-mib`)")]
    OutOfMemory {
        /// Which buffer.
        what: &'static str,
        /// Its size.
        bytes: u64,
    },
    /// A measurement came out zero, negative or not finite.
    #[error("the {what} measurement is {value}, not a positive number\n(hint: re-run; if it repeats, report it with `rooftune hw probe --json`)")]
    Measurement {
        /// Which figure.
        what: String,
        /// Its value.
        value: f64,
    },
    /// A kernel's result does not match its arithmetic.
    #[error("the {kernel} kernel's checksum is {got}, expected {expected}: the measurement cannot be trusted\n(hint: this points at a miscompile or faulty memory)")]
    Checksum {
        /// Which kernel.
        kernel: &'static str,
        /// Computed.
        got: f64,
        /// Expected.
        expected: f64,
    },
    /// `--save` names a bundled profile.
    #[error("`{name}` is a bundled hardware profile; `hw probe --save` does not overwrite it\n(hint: choose another name, e.g. `{name}-probed`)")]
    BundledName {
        /// The name.
        name: String,
    },
    /// `--save` names something `--hw` could not select.
    #[error("`{name}` is not a usable profile name: use lowercase letters, digits and dashes, starting with a letter or digit\n(hint: e.g. `--save my-desktop`)")]
    BadName {
        /// The name.
        name: String,
    },
    /// No config directory on this platform.
    #[error("no config directory found to save the profile in\n(hint: set ROOFTUNE_CONFIG_DIR)")]
    NoConfigDir,
    /// Writing the profile failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The profile could not be rendered as TOML.
    #[error("cannot render the profile as TOML: {0}")]
    Render(String),
    /// The profile built from the measurement is out of the schema's range.
    #[error("the probed profile is invalid: field `{field}`: {reason}")]
    Invalid {
        /// Field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The bundled catalog failed to load.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl ProbeError {
    /// True for errors in what the user asked for (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ProbeError::BundledName { .. } | ProbeError::BadName { .. }
        )
    }
}

/// How thorough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProbeOptions {
    /// Smaller arrays and fewer repetitions (about a second instead of a few).
    pub quick: bool,
    /// Bytes of each bandwidth array; `None` sizes them from the cache and the memory.
    pub array_bytes: Option<usize>,
}

/// A detected GPU and the bundled profile it matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuMatch {
    /// The GPU as detected.
    pub gpu: detect::Gpu,
    /// The bundled profile, when one matched.
    pub profile: Option<String>,
}

/// Everything a probe found and measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    /// Local date of the measurement, `YYYY-MM-DD`.
    pub date: String,
    /// rooftune version that measured.
    pub rooftune_version: &'static str,
    /// Options it ran with.
    pub options: ProbeOptions,
    /// What the machine reported.
    pub detected: Detected,
    /// The Apple chip, parsed from the brand string.
    pub apple_chip: Option<AppleChip>,
    /// The bundled profile the Apple chip matched.
    pub apple_profile: Option<String>,
    /// The GPU share of unified memory (Apple only).
    pub gpu_share: Option<GpuShare>,
    /// Detected GPUs and their matches.
    pub gpus: Vec<GpuMatch>,
    /// Memory bandwidth.
    pub bandwidth: BandwidthResult,
    /// CPU matmul compute: a measured rate (a lower bound on the machine), not a roof.
    pub compute: ComputeResult,
    /// The CPU's theoretical compute roofs per data path (upper bounds), when
    /// the architecture is known.
    pub roofs: Option<roofs::CpuRoofs>,
    /// Wall time of the whole probe, seconds.
    pub elapsed_s: f64,
    /// Things the reader should know (noise, debug build, small arrays, a profile that looks wrong).
    pub warnings: Vec<String>,
}

/// Detect, measure and match.
pub fn probe(opts: ProbeOptions) -> Result<ProbeResult, ProbeError> {
    let t0 = Instant::now();
    let bundled = Catalog::bundled()?;
    let detected = detect::detect();
    let threads = detected.physical_cores;
    let bw_cfg = BandwidthConfig {
        array_bytes: opts
            .array_bytes
            .unwrap_or_else(|| default_array_bytes(&detected, opts.quick)),
        threads,
        repetitions: if opts.quick { 5 } else { 20 },
    };
    let total = 3 * bw_cfg.array_bytes as u64;
    if total > detected.total_memory_bytes / 2 {
        return Err(ProbeError::OutOfMemory {
            what: "three bandwidth arrays (more than half the memory)",
            bytes: total,
        });
    }
    let bandwidth = bandwidth::measure(bw_cfg)?;
    let compute = compute::measure(ComputeConfig {
        n: if opts.quick { 384 } else { 1024 },
        threads,
        repetitions: if opts.quick { 2 } else { 3 },
    })?;
    let apple_chip = detected
        .apple
        .as_ref()
        .and_then(|a| matching::parse_apple_chip(&a.brand));
    let apple_profile = match (&apple_chip, &detected.apple) {
        (Some(chip), Some(a)) => {
            matching::match_apple(chip, a.memsize_bytes as f64 / GIB_F, &bundled.hardware)
                .map(|p| p.name.clone())
        }
        _ => None,
    };
    let gpu_share = detected
        .apple
        .as_ref()
        .map(|a| matching::gpu_usable_fraction(a.wired_limit_mb, a.memsize_bytes));
    let gpus = detected
        .gpus
        .iter()
        .map(|g| GpuMatch {
            gpu: g.clone(),
            profile: matching::match_gpu(&g.name, &bundled.hardware).map(|p| p.name.clone()),
        })
        .collect();
    let roofs = roofs::roofs(&roofs::detect(), detected.logical_cores);
    let mut result = ProbeResult {
        date: chrono::Local::now().format("%Y-%m-%d").to_string(),
        rooftune_version: env!("CARGO_PKG_VERSION"),
        options: opts,
        detected,
        apple_chip,
        apple_profile,
        gpu_share,
        gpus,
        bandwidth,
        compute,
        roofs,
        elapsed_s: 0.0,
        warnings: Vec::new(),
    };
    result.warnings = warnings(&result, bundled);
    result.elapsed_s = t0.elapsed().as_secs_f64();
    Ok(result)
}

/// Probe and return the machine's profile (named `probe`), for bench and tune
/// when no `--hw` is given. `quick` keeps it to about a second or two.
pub fn probe_profile(quick: bool) -> Result<HardwareProfile, ProbeError> {
    let r = probe(ProbeOptions {
        quick,
        array_bytes: None,
    })?;
    profile::build(&r, "probe", Catalog::bundled()?)
}

const GIB_F: f64 = 1024.0 * 1024.0 * 1024.0;

/// Each array: 256 MiB (128 with `--quick`), at least 4x the last-level cache
/// (STREAM's rule), at most 1/16 of RAM so the three together stay under a fifth.
fn default_array_bytes(d: &Detected, quick: bool) -> usize {
    let base = if quick { 128 * MIB } else { 256 * MIB };
    let llc_rule = d.llc_bytes.map_or(0, |b| 4 * b as usize);
    let cap = (d.total_memory_bytes / 16) as usize;
    base.max(llc_rule).min(cap.max(8 * MIB))
}

fn warnings(r: &ProbeResult, bundled: &Catalog) -> Vec<String> {
    let mut w = Vec::new();
    if cfg!(debug_assertions) {
        w.push("this is a debug build: the kernels are not optimised and every figure understates the machine (hint: build with `cargo build --release`)".into());
    }
    if let Some(llc) = r.detected.llc_bytes {
        if (r.bandwidth.config.array_bytes as u64) < 4 * llc {
            w.push(format!(
                "each array ({} MiB) is less than 4x the last-level cache ({} MiB): the bandwidth may include cache hits (hint: raise --array-mib)",
                r.bandwidth.config.array_bytes / MIB,
                llc / MIB as u64
            ));
        }
    }
    for k in [&r.bandwidth.read, &r.bandwidth.triad] {
        let spread = 1.0 - k.median_gb_s / k.best_gb_s;
        if spread > 0.10 {
            w.push(format!(
                "{} repetitions spread widely (median {:.1} vs best {:.1} GB/s): the machine may be busy (hint: re-run when it is idle)",
                k.kernel, k.median_gb_s, k.best_gb_s
            ));
        }
    }
    if let Some(name) = &r.apple_profile {
        if let Ok(p) = bundled.hardware(name) {
            if r.bandwidth.triad.best_gb_s > p.bandwidth_gb_s.value {
                w.push(format!(
                    "the CPU alone measured {:.0} GB/s, above the {:.0} GB/s of the bundled profile `{name}`: that profile looks wrong for this machine (hint: report it)",
                    r.bandwidth.triad.best_gb_s, p.bandwidth_gb_s.value
                ));
            }
        }
    }
    if r.detected.apple.is_some() && r.apple_profile.is_none() {
        w.push(format!(
            "no bundled profile for `{}`: the saved profile uses the CPU's bandwidth, which the GPU may exceed",
            r.detected.cpu_brand
        ));
    }
    w
}
