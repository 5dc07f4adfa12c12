//! A probe result as a hardware profile. Every number's source says it was
//! measured by `rooftune hw probe` on which date and how, or which default or
//! bundled profile it was taken from.
//!
//! Two shapes: an Apple chip that matched a bundled profile keeps that
//! profile's GPU figures (bandwidth, compute, eta, overhead) with this Mac's
//! memory and wired limit, and records the CPU's measurement beside them;
//! everything else is a CPU profile (`memory_kind = "host"`) built from the
//! measurement, usable alone or as `--host` for a GPU.

use super::roofs::PathKind;
use super::{ProbeError, ProbeResult};
use crate::catalog::hardware::{Family, HardwareProfile, MemoryKind};
use crate::catalog::sourced::Sourced;
use crate::catalog::Catalog;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// The schema's lowest bandwidth, GB/s (see `HardwareProfile::validate`).
const MIN_BANDWIDTH_GB_S: f64 = 1.0;
/// The schema's lowest compute, TFLOP/s.
const MIN_TFLOPS: f64 = 0.01;

/// Two decimals: a capacity of 23.54 GiB, not 23.540588378906.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn src<T>(value: T, source: String) -> Sourced<T> {
    Sourced {
        value,
        source,
        verified: true,
        note: None,
    }
}

/// Build the profile named `name` from a probe.
pub fn build(
    r: &ProbeResult,
    name: &str,
    bundled: &Catalog,
) -> Result<HardwareProfile, ProbeError> {
    let base = r
        .apple_profile
        .as_deref()
        .and_then(|n| bundled.hardware(n).ok());
    let p = match base {
        Some(base) => apple(r, name, base),
        None => cpu(r, name),
    };
    p.validate()
        .map_err(|(field, reason)| ProbeError::Invalid { field, reason })?;
    Ok(p)
}

fn measured(r: &ProbeResult) -> String {
    format!("measured by rooftune hw probe on {}", r.date)
}

fn triad_source(r: &ProbeResult) -> String {
    let b = &r.bandwidth;
    format!(
        "{}: STREAM-style triad a[i] = b[i] + s*c[i], best of {} on {} threads over 3 x {} MiB arrays, counted as STREAM does (24 bytes per element); median {:.1} GB/s; read-only sum {:.1} GB/s",
        measured(r),
        b.config.repetitions,
        b.config.threads,
        b.config.array_bytes / (1024 * 1024),
        b.triad.median_gb_s,
        b.read.best_gb_s
    )
}

fn compute_source(r: &ProbeResult) -> String {
    let c = &r.compute;
    format!(
        "{}: blocked f32 matmul n = {} ({}) on {} threads, best of {}: {:.1} GFLOP/s. A measured rate from a plain Rust kernel, a lower bound on the machine: llama.cpp's kernels reach more, so it is never used as a roof",
        measured(r),
        c.config.n,
        c.isa,
        c.config.threads,
        c.config.repetitions,
        c.best_gflop_s
    )
}

/// A value measured below the schema's floor is raised to it, and says so.
fn floored(value: f64, floor: f64, mut s: Sourced<f64>) -> Sourced<f64> {
    if value < floor {
        s.note = Some(format!(
            "measured {value:.4}, below the profile schema's floor of {floor}; raised to it"
        ));
        s.verified = false;
        s.value = floor;
    } else {
        s.value = value;
    }
    s
}

fn origin(r: &ProbeResult) -> String {
    format!(
        "hw probe on {} (rooftune {}{})",
        r.date,
        r.rooftune_version,
        if r.options.quick { ", --quick" } else { "" }
    )
}

fn cpu(r: &ProbeResult, name: &str) -> HardwareProfile {
    let d = &r.detected;
    let memory_gib = round2(d.total_memory_bytes as f64 / GIB);
    let is_apple = d.apple.is_some();
    let triad = r.bandwidth.triad.best_gb_s;
    HardwareProfile {
        schema: 1,
        name: name.to_string(),
        display_name: format!(
            "{} ({} cores, {:.0} GiB), probed",
            d.cpu_brand, d.physical_cores, memory_gib
        ),
        aliases: Vec::new(),
        family: if is_apple {
            Family::AppleSilicon
        } else {
            Family::Cpu
        },
        memory_kind: if is_apple {
            MemoryKind::Unified
        } else {
            MemoryKind::Host
        },
        capacity_gib: src(
            memory_gib,
            format!("{}: total memory reported by the OS (sysinfo)", measured(r)),
        ),
        capacity_options_gib: None,
        bandwidth_gb_s: floored(triad, MIN_BANDWIDTH_GB_S, src(0.0, triad_source(r))),
        measured_bandwidth_gb_s: None,
        gpu_usable_fraction: r.gpu_share.as_ref().map(|s| src(s.fraction, s.source.clone())),
        fp16_tflops: float_roof(r),
        int8_tops: int8_roof(r),
        measured_matmul_gflop_s: Some(src(r.compute.best_gflop_s, compute_source(r))),
        eta: src(
            0.85,
            "default for CPU decode against a probed triad: llama.cpp decode of a 1.43 GiB Q8_0 model read 16.4 GB/s where a STREAM-like triad measured 18.7 GB/s on the same Intel Xeon (87%, rooftune's development measurements); 0.85 leaves a little margin; calibrate with bench".into(),
        ),
        overhead_ms: Sourced {
            value: 0.3,
            source: "default for CPU decode (thread synchronisation per layer); to be calibrated".into(),
            verified: false,
            note: None,
        },
        calibration: None,
        notes: Some(format!(
            "Probed on {} ({} physical / {} logical cores, {}). The bandwidth is what the CPU cores reach{}.",
            d.os,
            d.physical_cores,
            d.logical_cores,
            d.cpu_brand,
            if r.gpus.is_empty() {
                String::new()
            } else {
                format!(
                    "; GPUs seen: {} (pair a GPU profile with this one as --host)",
                    gpu_list(r)
                )
            }
        )),
        origin: Some(origin(r)),
    }
}

/// The float roof (f32/f16 FMA) from the detected CPU; without one (an
/// unknown architecture) the measured matmul, flagged as not a roof.
fn float_roof(r: &ProbeResult) -> Sourced<f64> {
    let roof = r
        .roofs
        .as_ref()
        .and_then(|x| Some((x.best(PathKind::Float)?, x.source(PathKind::Float)?)));
    match roof {
        Some((p, source)) => floored(p.peak_gop_s / 1e3, MIN_TFLOPS, src(0.0, source)),
        None => {
            let mut s = floored(
                r.compute.best_gflop_s / 1e3,
                MIN_TFLOPS,
                src(0.0, compute_source(r)),
            );
            s.verified = false;
            s.note = Some("no roof for this CPU architecture: the measured matmul stands in, and ceilings built on it can be beaten".into());
            s
        }
    }
}

/// The int8 dot-product roof (quantized weights), TOP/s.
fn int8_roof(r: &ProbeResult) -> Option<Sourced<f64>> {
    let roofs = r.roofs.as_ref()?;
    let p = roofs.best(PathKind::Int8)?;
    Some(src(p.peak_gop_s / 1e3, roofs.source(PathKind::Int8)?))
}

fn gpu_list(r: &ProbeResult) -> String {
    r.gpus
        .iter()
        .map(|g| match &g.profile {
            Some(p) => format!("{} (= {p})", g.gpu.name),
            None => g.gpu.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn apple(r: &ProbeResult, name: &str, base: &HardwareProfile) -> HardwareProfile {
    let memsize = r
        .detected
        .apple
        .as_ref()
        .map_or(r.detected.total_memory_bytes, |a| a.memsize_bytes);
    let memory_gib = round2(memsize as f64 / GIB);
    let mut p = base.clone();
    p.name = name.to_string();
    p.display_name = format!(
        "{} with {memory_gib:.0} GiB, probed (GPU figures from the bundled `{}`)",
        r.detected.cpu_brand, base.name
    );
    p.aliases = Vec::new();
    p.capacity_gib = src(memory_gib, format!("{}: sysctl hw.memsize", measured(r)));
    p.capacity_options_gib = None;
    p.measured_bandwidth_gb_s = Some(Sourced {
        note: Some(
            "the CPU cores alone; the GPU reads faster on Max and Ultra chips, so this is a lower bound"
                .into(),
        ),
        ..src(r.bandwidth.triad.best_gb_s, triad_source(r))
    });
    if let Some(s) = &r.gpu_share {
        p.gpu_usable_fraction = Some(src(s.fraction, format!("{}: {}", measured(r), s.source)));
    }
    p.measured_matmul_gflop_s = Some(src(r.compute.best_gflop_s, compute_source(r)));
    p.notes = Some(format!(
        "Bandwidth, compute, eta and overhead are the bundled `{}` profile's; memory and the GPU wired limit were read from this Mac. CPU matmul: {:.0} GFLOP/s.",
        base.name, r.compute.best_gflop_s
    ));
    p.origin = Some(origin(r));
    p
}

#[cfg(test)]
mod tests {
    use super::super::bandwidth::{BandwidthConfig, BandwidthResult, KernelResult};
    use super::super::compute::{ComputeConfig, ComputeResult};
    use super::super::detect::{AppleInfo, Detected};
    use super::super::matching::{gpu_usable_fraction, parse_apple_chip};
    use super::super::ProbeOptions;
    use super::*;

    fn kernel(kernel: &'static str, gb_s: f64) -> KernelResult {
        KernelResult {
            kernel,
            bytes_per_rep: 1,
            best_gb_s: gb_s,
            median_gb_s: gb_s,
            worst_gb_s: gb_s,
            checksum: 0.0,
            expected_checksum: 0.0,
        }
    }

    pub(crate) fn fake(apple: Option<AppleInfo>, triad_gb_s: f64, gflop_s: f64) -> ProbeResult {
        let brand = apple
            .as_ref()
            .map_or("AMD EPYC".to_string(), |a| a.brand.clone());
        ProbeResult {
            date: "2025-01-02".into(),
            rooftune_version: "0.0.0",
            options: ProbeOptions {
                quick: true,
                array_bytes: None,
            },
            detected: Detected {
                cpu_brand: brand.clone(),
                physical_cores: 2,
                logical_cores: 2,
                total_memory_bytes: 24 << 30,
                llc_bytes: None,
                gpus: Vec::new(),
                apple: apple.clone(),
                os: "linux",
            },
            apple_chip: parse_apple_chip(&brand),
            apple_profile: None,
            gpu_share: apple
                .as_ref()
                .map(|a| gpu_usable_fraction(a.wired_limit_mb, a.memsize_bytes)),
            gpus: Vec::new(),
            bandwidth: BandwidthResult {
                config: BandwidthConfig {
                    array_bytes: 128 << 20,
                    threads: 2,
                    repetitions: 5,
                },
                read: kernel("read", triad_gb_s * 1.1),
                triad: kernel("triad", triad_gb_s),
            },
            compute: ComputeResult {
                config: ComputeConfig {
                    n: 384,
                    threads: 2,
                    repetitions: 2,
                },
                best_gflop_s: gflop_s,
                median_gflop_s: gflop_s,
                isa: "avx2+fma",
            },
            roofs: super::super::roofs::roofs(
                &super::super::roofs::CpuFeatures {
                    arch: super::super::roofs::Arch::X86,
                    flags: ["avx".to_string(), "fma".into(), "avx2".into()].into(),
                    max_clock_mhz: Some((3000.0, "test".into())),
                    sve_vector_bits: None,
                },
                2,
            ),
            elapsed_s: 1.0,
            warnings: Vec::new(),
        }
    }

    fn bundled() -> &'static Catalog {
        Catalog::bundled().expect("bundled")
    }

    #[test]
    fn cpu_profile_carries_the_measurement() {
        let p = build(&fake(None, 18.7, 120.0), "box", bundled()).expect("profile");
        assert_eq!(p.name, "box");
        assert_eq!(p.family, Family::Cpu);
        assert_eq!(p.memory_kind, MemoryKind::Host);
        assert_eq!(p.bandwidth_gb_s.value, 18.7);
        assert!(p
            .bandwidth_gb_s
            .source
            .starts_with("measured by rooftune hw probe on 2025-01-02"));
        // 2 cores x 3 GHz x 32 (AVX2 FMA) = 192 GFLOP/s; x 128 (vpmaddubsw) = 768 GOP/s.
        approx::assert_relative_eq!(p.fp16_tflops.value, 0.192, max_relative = 1e-12);
        approx::assert_relative_eq!(
            p.int8_tops.as_ref().expect("int8").value,
            0.768,
            max_relative = 1e-12
        );
        assert!(p.fp16_tflops.source.contains("upper bound"));
        let m = p.measured_matmul_gflop_s.as_ref().expect("measured");
        assert_eq!(m.value, 120.0);
        assert!(m.source.contains("never used as a roof"));
        assert_eq!(p.eta.value, 0.85);
        assert_eq!(p.overhead_ms.value, 0.3);
        approx::assert_relative_eq!(p.capacity_gib.value, 24.0);
        assert!(p
            .origin
            .as_deref()
            .is_some_and(|o| o.starts_with("hw probe")));
    }

    #[test]
    fn figures_below_the_schema_floor_are_raised_and_flagged() {
        let p = build(&fake(None, 0.5, 2.0), "slow", bundled()).expect("profile");
        assert_eq!(p.bandwidth_gb_s.value, 1.0);
        assert!(!p.bandwidth_gb_s.verified);
        assert!(p.bandwidth_gb_s.note.is_some());
        assert!(p.fp16_tflops.value > 0.01, "a roof, not the slow matmul");
        let mut r = fake(None, 18.0, 2.0);
        r.roofs = None;
        let p = build(&r, "slow", bundled()).expect("profile");
        assert_eq!(p.fp16_tflops.value, 0.01);
        assert!(!p.fp16_tflops.verified);
    }

    #[test]
    fn apple_profile_keeps_gpu_figures_and_takes_this_macs_memory() {
        let mut r = fake(
            Some(AppleInfo {
                brand: "Apple M3 Ultra".into(),
                memsize_bytes: 256 << 30,
                wired_limit_mb: Some(240 * 1024),
            }),
            120.0,
            500.0,
        );
        r.apple_profile = Some("m3-ultra-512".into());
        let p = build(&r, "studio", bundled()).expect("profile");
        assert_eq!(p.family, Family::AppleSilicon);
        assert_eq!(p.bandwidth_gb_s.value, 819.0);
        approx::assert_relative_eq!(p.capacity_gib.value, 256.0);
        approx::assert_relative_eq!(
            p.gpu_usable_fraction.as_ref().expect("fraction").value,
            240.0 / 256.0
        );
        assert_eq!(
            p.measured_bandwidth_gb_s.as_ref().expect("measured").value,
            120.0
        );
        assert!(p.aliases.is_empty());
    }

    #[test]
    fn unmatched_apple_chip_is_unified_with_the_cpu_figures() {
        let r = fake(
            Some(AppleInfo {
                brand: "Apple M3 Pro".into(),
                memsize_bytes: 36 << 30,
                wired_limit_mb: Some(0),
            }),
            100.0,
            300.0,
        );
        let p = build(&r, "mbp", bundled()).expect("profile");
        assert_eq!(p.memory_kind, MemoryKind::Unified);
        assert_eq!(
            p.gpu_usable_fraction.as_ref().expect("fraction").value,
            0.67
        );
    }
}
