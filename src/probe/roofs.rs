//! CPU compute roofs: the theoretical peak of each data path llama.cpp's CPU
//! backend uses, from what the CPU says it has. These are upper bounds (no
//! kernel beats them), unlike the probe's matmul (`compute.rs`), which is a
//! measured rate and a lower bound on what the machine can do.
//!
//! peak ops/s = cores x max clock x (SIMD lanes x units x 2) per data path,
//! where the bracket is "ops per cycle per core" (a fused multiply-add counts
//! as two operations). Every figure carries its source:
//!
//! - cores: every logical CPU counts as a core (SMT siblings share a core's
//!   units, so this can only overstate; an upper bound even when a VM hides
//!   the topology);
//! - clock: `cpufreq/cpuinfo_max_freq` when the OS exposes it, else the
//!   highest boost clock any shipping core of the architecture reaches (a
//!   loose but safe bound; a VM rarely exposes cpufreq);
//! - units: two full-width vector FMA/multiply pipes on x86 (the most any
//!   x86 core has: Intel Golden Cove/Sapphire Rapids ports 0 and 1 (+5 for
//!   512-bit), AMD Zen 4/5 FP0/FP1), four 128-bit pipes on Arm (Apple
//!   Firestorm and later, Arm Neoverse V1/V2).
//!
//! Paths (llama.cpp `ggml/src/ggml-cpu`: `vec_dot_q*` kernels for quantized
//! weights, f32/f16 `ggml_vec_dot` and the sgemm/llamafile kernels for float
//! weights; KleidiAI/SME and AMX for the matrix units):
//! float: f32 FMA (SSE/AVX/AVX2+FMA/AVX-512; NEON), native f16 FMA
//! (AVX512-FP16; Arm FEAT_FP16). int8 dot product for quantized weights:
//! `pmaddubsw`/`vpmaddubsw` (SSSE3/AVX2/AVX512BW), `vpdpbusd` (AVX-VNNI,
//! AVX512-VNNI), AMX-INT8 tiles; Arm `sdot` (FEAT_DotProd), `smmla`
//! (FEAT_I8MM), SME outer products.

use serde::Serialize;
use std::collections::BTreeSet;

/// The instruction-set family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// x86-64.
    X86,
    /// AArch64.
    Arm,
    /// Anything else: no roof is computed.
    Other,
}

impl Arch {
    /// The architecture this binary runs on.
    pub fn native() -> Arch {
        if cfg!(target_arch = "x86_64") {
            Arch::X86
        } else if cfg!(target_arch = "aarch64") {
            Arch::Arm
        } else {
            Arch::Other
        }
    }
}

/// What the CPU says it has: its feature flags (Linux `/proc/cpuinfo` names:
/// `avx2`, `avx512_vnni`, `amx_int8`, `asimddp`, `i8mm`, `sme`, ...), its
/// maximum clock when known, and the SVE vector length when known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuFeatures {
    /// Instruction-set family.
    pub arch: Arch,
    /// Feature flags, lowercase, in `/proc/cpuinfo` spelling.
    pub flags: BTreeSet<String>,
    /// Maximum clock, MHz, and where it was read; None when the OS does not tell.
    pub max_clock_mhz: Option<(f64, String)>,
    /// SVE default vector length, bits (`/proc/sys/abi/sve_default_vector_length`).
    pub sve_vector_bits: Option<u32>,
}

/// Integer or floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// f32 or f16 fused multiply-add (float weights, attention).
    Float,
    /// int8 dot product (quantized weights: llama.cpp quantizes the
    /// activations to q8 and dots them with the weights' integers).
    Int8,
}

/// One data path's peak.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathRoof {
    /// Path name (`avx512 f32 fma`, `avx512-vnni vpdpbusd`).
    pub path: &'static str,
    /// Float or int8.
    pub kind: PathKind,
    /// Operations per cycle per core (lanes x units x 2).
    pub ops_per_cycle_per_core: f64,
    /// How that count is made and where it comes from.
    pub source: &'static str,
    /// Peak, GOP/s (GFLOP/s for float paths).
    pub peak_gop_s: f64,
}

/// The roofs of one CPU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuRoofs {
    /// Cores counted (logical CPUs).
    pub cores: usize,
    /// Clock used, GHz.
    pub clock_ghz: f64,
    /// Where the clock came from.
    pub clock_source: String,
    /// Every path the CPU has.
    pub paths: Vec<PathRoof>,
}

impl CpuRoofs {
    /// The fastest path of a kind.
    pub fn best(&self, kind: PathKind) -> Option<&PathRoof> {
        self.paths
            .iter()
            .filter(|p| p.kind == kind)
            .max_by(|a, b| a.peak_gop_s.total_cmp(&b.peak_gop_s))
    }

    /// The source text for a kind's roof: the arithmetic and each factor's origin.
    pub fn source(&self, kind: PathKind) -> Option<String> {
        let p = self.best(kind)?;
        Some(format!(
            "derived: theoretical peak of the {} path = {} cores (logical CPUs; SMT siblings share units, so an upper bound) x {:.2} GHz ({}) x {} ops/cycle/core ({}) = {:.1} GOP/s. An upper bound: no kernel reaches it",
            p.path, self.cores, self.clock_ghz, self.clock_source, p.ops_per_cycle_per_core, p.source, p.peak_gop_s
        ))
    }
}

/// Highest boost clock of any shipping x86 core, MHz.
const X86_MAX_MHZ: f64 = 6200.0;
const X86_MAX_SOURCE: &str = "the OS exposes no cpufreq maximum; 6.2 GHz is the highest shipping x86 boost clock (Intel Core i9-14900KS, ark.intel.com), a safe upper bound";
/// Highest clock of any shipping Arm core, MHz.
const ARM_MAX_MHZ: f64 = 4500.0;
const ARM_MAX_SOURCE: &str = "the OS exposes no maximum clock; 4.5 GHz is the highest shipping Arm core clock (Apple M4 P-core, 4.51 GHz), a safe upper bound";

/// One path: name, kind, lanes per instruction (multiplies), units, source.
struct Def {
    flag: &'static str,
    path: &'static str,
    kind: PathKind,
    macs_per_instr: f64,
    units: f64,
    source: &'static str,
}

const X86: &[Def] = &[
    Def { flag: "sse2", path: "sse2 f32 mul+add", kind: PathKind::Float, macs_per_instr: 4.0, units: 2.0,
        source: "mulps/addps xmm: 4 f32 lanes, at most two multiply and two add pipes (Skylake and later), a multiply and an add counted as one fused pair: 4 x 2 x 2" },
    Def { flag: "avx", path: "avx f32 mul+add", kind: PathKind::Float, macs_per_instr: 8.0, units: 2.0,
        source: "vmulps/vaddps ymm: 8 f32 lanes, at most two pipes each, a multiply and an add counted as one fused pair: 8 x 2 x 2" },
    Def { flag: "fma", path: "avx2/fma f32 fma", kind: PathKind::Float, macs_per_instr: 8.0, units: 2.0,
        source: "vfmadd231ps ymm: 8 f32 lanes, two FMA pipes (uops.info throughput 0.5 cycles on Skylake..Zen 5): 8 x 2 x 2" },
    Def { flag: "avx512f", path: "avx512 f32 fma", kind: PathKind::Float, macs_per_instr: 16.0, units: 2.0,
        source: "vfmadd231ps zmm: 16 f32 lanes, at most two 512-bit FMA pipes (Intel server cores, AMD Zen 5): 16 x 2 x 2" },
    Def { flag: "avx512_fp16", path: "avx512-fp16 f16 fma", kind: PathKind::Float, macs_per_instr: 32.0, units: 2.0,
        source: "vfmadd231ph zmm: 32 f16 lanes, two 512-bit FMA pipes (Sapphire Rapids): 32 x 2 x 2" },
    Def { flag: "ssse3", path: "ssse3 pmaddubsw", kind: PathKind::Int8, macs_per_instr: 16.0, units: 2.0,
        source: "pmaddubsw xmm: 16 u8 x s8 products per instruction, two pipes: 16 x 2 x 2" },
    Def { flag: "avx2", path: "avx2 vpmaddubsw", kind: PathKind::Int8, macs_per_instr: 32.0, units: 2.0,
        source: "vpmaddubsw ymm (llama.cpp's AVX2 q8 dot): 32 u8 x s8 products, two pipes (uops.info throughput 0.5 cycles): 32 x 2 x 2" },
    Def { flag: "avx_vnni", path: "avx-vnni vpdpbusd", kind: PathKind::Int8, macs_per_instr: 32.0, units: 2.0,
        source: "vpdpbusd ymm: 32 u8 x s8 multiply-accumulates, two pipes: 32 x 2 x 2" },
    Def { flag: "avx512bw", path: "avx512bw vpmaddubsw", kind: PathKind::Int8, macs_per_instr: 64.0, units: 2.0,
        source: "vpmaddubsw zmm: 64 u8 x s8 products, at most two 512-bit pipes: 64 x 2 x 2" },
    Def { flag: "avx512_vnni", path: "avx512-vnni vpdpbusd", kind: PathKind::Int8, macs_per_instr: 64.0, units: 2.0,
        source: "vpdpbusd zmm: 64 u8 x s8 multiply-accumulates, at most two 512-bit pipes: 64 x 2 x 2" },
    Def { flag: "amx_int8", path: "amx-int8 tdpbusd", kind: PathKind::Int8, macs_per_instr: 1024.0, units: 1.0,
        source: "one AMX tile unit per core, 1024 int8 multiply-accumulates per cycle (Intel: 2048 int8 ops/cycle/core on Sapphire Rapids): 1024 x 1 x 2" },
];

const ARM: &[Def] = &[
    Def { flag: "asimd", path: "neon f32 fma", kind: PathKind::Float, macs_per_instr: 4.0, units: 4.0,
        source: "fmla v.4s: 4 f32 lanes, at most four 128-bit FMA pipes (Apple Firestorm and later, Neoverse V1/V2): 4 x 4 x 2" },
    Def { flag: "asimdhp", path: "neon f16 fma", kind: PathKind::Float, macs_per_instr: 8.0, units: 4.0,
        source: "fmla v.8h (FEAT_FP16): 8 f16 lanes, four 128-bit pipes: 8 x 4 x 2" },
    Def { flag: "asimddp", path: "neon sdot", kind: PathKind::Int8, macs_per_instr: 16.0, units: 4.0,
        source: "sdot v.4s (FEAT_DotProd, llama.cpp's q8 dot): 16 int8 multiply-accumulates, four 128-bit pipes: 16 x 4 x 2" },
    Def { flag: "i8mm", path: "neon smmla", kind: PathKind::Int8, macs_per_instr: 32.0, units: 4.0,
        source: "smmla (FEAT_I8MM, llama.cpp's q4_0/q8_0 repacked gemm): a 2x8 by 8x2 int8 product = 32 multiply-accumulates, four 128-bit pipes: 32 x 4 x 2" },
    Def { flag: "sme", path: "sme fmopa f32", kind: PathKind::Float, macs_per_instr: 256.0, units: 1.0,
        source: "SME fmopa at a 512-bit streaming vector length (Apple M4): a 16 x 16 f32 outer product per cycle, one unit counted per core (it is per cluster): 256 x 1 x 2" },
    Def { flag: "sme", path: "sme smopa int8", kind: PathKind::Int8, macs_per_instr: 1024.0, units: 1.0,
        source: "SME smopa at 512 bits (Apple M4): a 16 x 16 outer product of 4-deep int8 dots = 1024 multiply-accumulates, one unit counted per core: 1024 x 1 x 2" },
];

/// Roofs from features and a core count; None when the architecture is unknown.
pub fn roofs(f: &CpuFeatures, cores: usize) -> Option<CpuRoofs> {
    let (defs, fallback_mhz, fallback_src) = match f.arch {
        Arch::X86 => (X86, X86_MAX_MHZ, X86_MAX_SOURCE),
        Arch::Arm => (ARM, ARM_MAX_MHZ, ARM_MAX_SOURCE),
        Arch::Other => return None,
    };
    let (mhz, clock_source) = match &f.max_clock_mhz {
        Some((m, s)) if *m > 0.0 => (*m, s.clone()),
        _ => (fallback_mhz, fallback_src.to_string()),
    };
    let cores = cores.max(1);
    let clock_ghz = mhz / 1e3;
    let mut paths: Vec<PathRoof> = defs
        .iter()
        .filter(|d| f.flags.contains(d.flag))
        .map(|d| {
            let ops = d.macs_per_instr * d.units * 2.0;
            PathRoof {
                path: d.path,
                kind: d.kind,
                ops_per_cycle_per_core: ops,
                source: d.source,
                peak_gop_s: cores as f64 * clock_ghz * ops,
            }
        })
        .collect();
    if f.arch == Arch::X86 && paths.iter().all(|p| p.kind != PathKind::Float) {
        // Every x86-64 CPU has SSE2 even when the flag list is empty.
        paths.extend(
            roofs(
                &CpuFeatures {
                    flags: ["sse2".to_string()].into(),
                    ..f.clone()
                },
                cores,
            )?
            .paths,
        );
    }
    if let (Arch::Arm, Some(bits)) = (f.arch, f.sve_vector_bits) {
        // Wider SVE vectors: two pipes of the vector length (A64FX: 2 x 512 bits).
        if f.flags.contains("sve") && bits > 256 {
            let ops = (bits / 32) as f64 * 2.0 * 2.0;
            paths.push(PathRoof {
                path: "sve f32 fma",
                kind: PathKind::Float,
                ops_per_cycle_per_core: ops,
                source: "SVE fmla at the kernel's default vector length, two pipes (A64FX): lanes x 2 x 2",
                peak_gop_s: cores as f64 * clock_ghz * ops,
            });
        }
    }
    Some(CpuRoofs {
        cores,
        clock_ghz,
        clock_source,
        paths,
    })
}

/// Parse `/proc/cpuinfo`: the first `flags` (x86) or `Features` (Arm) line.
pub fn parse_cpuinfo_flags(text: &str) -> BTreeSet<String> {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "flags" | "Features").then_some(v)
        })
        .map(|v| v.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default()
}

/// `cpuinfo_max_freq` (kHz) as MHz.
pub fn parse_max_freq_khz(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|k| *k > 0.0)
        .map(|k| k / 1e3)
}

/// What this machine's CPU says it has (Linux files; sysctl on macOS).
pub fn detect() -> CpuFeatures {
    let mut f = CpuFeatures {
        arch: Arch::native(),
        flags: BTreeSet::new(),
        max_clock_mhz: None,
        sve_vector_bits: None,
    };
    if let Ok(t) = std::fs::read_to_string("/proc/cpuinfo") {
        f.flags = parse_cpuinfo_flags(&t);
    }
    let freq = "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq";
    if let Some(mhz) = std::fs::read_to_string(freq)
        .ok()
        .and_then(|t| parse_max_freq_khz(&t))
    {
        f.max_clock_mhz = Some((mhz, format!("{freq} (measured by the OS)")));
    }
    f.sve_vector_bits = std::fs::read_to_string("/proc/sys/abi/sve_default_vector_length")
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .map(|bytes| bytes * 8);
    macos_flags(&mut f);
    f
}

#[cfg(target_os = "macos")]
fn macos_flags(f: &mut CpuFeatures) {
    f.flags.extend(super::macos::arm_features());
}

#[cfg(not(target_os = "macos"))]
fn macos_flags(_: &mut CpuFeatures) {}

/// macOS `hw.optional.arm.FEAT_*` sysctls in `/proc/cpuinfo` spelling.
pub const MACOS_FEATURES: &[(&str, &str)] = &[
    ("hw.optional.AdvSIMD", "asimd"),
    ("hw.optional.arm.FEAT_FP16", "asimdhp"),
    ("hw.optional.arm.FEAT_DotProd", "asimddp"),
    ("hw.optional.arm.FEAT_I8MM", "i8mm"),
    ("hw.optional.arm.FEAT_SME", "sme"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(arch: Arch, flags: &str, mhz: Option<f64>) -> CpuFeatures {
        CpuFeatures {
            arch,
            flags: parse_cpuinfo_flags(&format!("flags\t: {flags}\n")),
            max_clock_mhz: mhz.map(|m| (m, "test".to_string())),
            sve_vector_bits: None,
        }
    }

    /// AMD EPYC 9654 (Zen 4): 96 cores, boost 3.7 GHz (amd.com), AVX-512 with VNNI.
    /// float: 96 x 3.7 x 64 = 22,732.8 GFLOP/s; int8 vpdpbusd zmm: 96 x 3.7 x 256 = 90,931.2 GOP/s.
    #[test]
    fn epyc_9654() {
        let f = cpu(
            Arch::X86,
            "sse2 ssse3 avx fma avx2 avx512f avx512bw avx512_vnni avx512_bf16",
            Some(3700.0),
        );
        let r = roofs(&f, 96).expect("x86");
        let fl = r.best(PathKind::Float).expect("float");
        assert_eq!(fl.path, "avx512 f32 fma");
        approx::assert_relative_eq!(fl.peak_gop_s, 22_732.8, max_relative = 1e-12);
        let i = r.best(PathKind::Int8).expect("int8");
        approx::assert_relative_eq!(i.peak_gop_s, 90_931.2, max_relative = 1e-12);
    }

    /// Intel Xeon Platinum 8480+ (Sapphire Rapids): 56 cores, max turbo 3.8 GHz (ark.intel.com), AMX.
    /// int8 AMX: 56 x 3.8 x 2048 = 435,814.4 GOP/s; f16 avx512-fp16: 56 x 3.8 x 128 = 27,238.4 GFLOP/s.
    #[test]
    fn xeon_8480_has_amx() {
        let f = cpu(
            Arch::X86,
            "avx2 fma avx512f avx512bw avx512_vnni avx512_fp16 amx_int8 amx_bf16",
            Some(3800.0),
        );
        let r = roofs(&f, 56).expect("x86");
        let i = r.best(PathKind::Int8).expect("int8");
        assert_eq!(i.path, "amx-int8 tdpbusd");
        approx::assert_relative_eq!(i.peak_gop_s, 435_814.4, max_relative = 1e-12);
        approx::assert_relative_eq!(
            r.best(PathKind::Float).expect("float").peak_gop_s,
            27_238.4,
            max_relative = 1e-12
        );
    }

    /// Intel Core i7-8700 (Coffee Lake): 6 cores / 12 threads, turbo 4.6 GHz, AVX2.
    /// Counted on 12 logical CPUs: f32 12 x 4.6 x 32 = 1,766.4; int8 12 x 4.6 x 128 = 7,065.6.
    #[test]
    fn coffee_lake_avx2() {
        let f = cpu(Arch::X86, "sse2 ssse3 avx fma avx2", Some(4600.0));
        let r = roofs(&f, 12).expect("x86");
        approx::assert_relative_eq!(
            r.best(PathKind::Float).expect("float").peak_gop_s,
            1_766.4,
            max_relative = 1e-12
        );
        let i = r.best(PathKind::Int8).expect("int8");
        assert_eq!(i.path, "avx2 vpmaddubsw");
        approx::assert_relative_eq!(i.peak_gop_s, 7_065.6, max_relative = 1e-12);
        assert!(r
            .source(PathKind::Int8)
            .is_some_and(|s| s.contains("12 cores") && s.contains("4.60 GHz")));
    }

    /// Raspberry Pi 5 (Cortex-A76): 4 cores, 2.4 GHz, `asimd asimdhp asimddp`.
    /// f16: 4 x 2.4 x 64 = 614.4 GFLOP/s; sdot: 4 x 2.4 x 128 = 1,228.8 GOP/s.
    #[test]
    fn raspberry_pi_5() {
        let text = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n";
        let f = CpuFeatures {
            arch: Arch::Arm,
            flags: parse_cpuinfo_flags(text),
            max_clock_mhz: parse_max_freq_khz("2400000\n").map(|m| (m, "sysfs".into())),
            sve_vector_bits: None,
        };
        let r = roofs(&f, 4).expect("arm");
        approx::assert_relative_eq!(
            r.best(PathKind::Float).expect("float").peak_gop_s,
            614.4,
            max_relative = 1e-12
        );
        let i = r.best(PathKind::Int8).expect("int8");
        assert_eq!(i.path, "neon sdot");
        approx::assert_relative_eq!(i.peak_gop_s, 1_228.8, max_relative = 1e-12);
    }

    #[test]
    fn unknown_clock_takes_the_architectures_highest() {
        let r = roofs(&cpu(Arch::X86, "", None), 2).expect("x86");
        assert_eq!(r.clock_ghz, 6.2);
        // No flags at all: still the SSE2 float path every x86-64 has.
        assert_eq!(
            r.best(PathKind::Float).expect("float").path,
            "sse2 f32 mul+add"
        );
        assert!(r.best(PathKind::Int8).is_none());
        assert!(roofs(&cpu(Arch::Other, "avx2", None), 2).is_none());
    }

    #[test]
    fn detect_reads_this_machine() {
        let f = detect();
        if f.arch != Arch::Other {
            let r = roofs(&f, 1).expect("roofs");
            assert!(r.best(PathKind::Float).is_some());
        }
    }
}
