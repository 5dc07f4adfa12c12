//! Hardware profiles: memory bandwidth and capacity, compute, and the decode
//! efficiency defaults, each number with its source.

use super::sourced::Sourced;
use serde::{Deserialize, Serialize};

/// Platform family: decides defaults and how memory is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Apple M-series SoC (Metal).
    AppleSilicon,
    /// NVIDIA GPU or SoC (CUDA).
    Nvidia,
    /// AMD GPU or APU (ROCm/Vulkan).
    Amd,
    /// Intel GPU.
    Intel,
    /// A CPU reading system RAM.
    Cpu,
}

impl Family {
    /// The name as written in profiles (`apple-silicon`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::AppleSilicon => "apple-silicon",
            Family::Nvidia => "nvidia",
            Family::Amd => "amd",
            Family::Intel => "intel",
            Family::Cpu => "cpu",
        }
    }
}

/// What kind of memory the profile's bandwidth describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryKind {
    /// SoC memory the GPU and CPU share (Apple, DGX Spark, Strix Halo).
    Unified,
    /// A discrete GPU's own memory.
    Vram,
    /// System RAM read by the CPU.
    Host,
}

/// One hardware profile (`hardware-profiles/NAME.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareProfile {
    /// Format version of the file.
    pub schema: u32,
    /// Id used by `--hw`.
    pub name: String,
    /// Human name.
    pub display_name: String,
    /// Other ids that select this profile.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Platform family.
    pub family: Family,
    /// Kind of memory.
    pub memory_kind: MemoryKind,
    /// Memory capacity in GiB.
    pub capacity_gib: Sourced<f64>,
    /// Other capacities sold, GiB.
    #[serde(default)]
    pub capacity_options_gib: Option<Sourced<Vec<f64>>>,
    /// Spec memory bandwidth, decimal GB/s.
    pub bandwidth_gb_s: Sourced<f64>,
    /// A published measured bandwidth, GB/s.
    #[serde(default)]
    pub measured_bandwidth_gb_s: Option<Sourced<f64>>,
    /// Share of unified memory the GPU may use by default (Apple's wired limit).
    #[serde(default)]
    pub gpu_usable_fraction: Option<Sourced<f64>>,
    /// Peak dense FP16/BF16 compute, TFLOP/s.
    pub fp16_tflops: Sourced<f64>,
    /// Peak dense INT8 compute, TOP/s: the roof for quantized weights where
    /// the runtime dots them as integers (llama.cpp's CPU q8 dot products,
    /// CUDA MMQ).
    #[serde(default)]
    pub int8_tops: Option<Sourced<f64>>,
    /// A measured matrix-multiply rate, GFLOP/s (`hw probe`'s f32 matmul): a
    /// lower bound on what the machine computes, shown beside the roofs, never
    /// used as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_matmul_gflop_s: Option<Sourced<f64>>,
    /// Decode efficiency: fraction of bandwidth reached (eta).
    pub eta: Sourced<f64>,
    /// Fixed per-token overhead c, milliseconds.
    pub overhead_ms: Sourced<f64>,
    /// Estimate terms fitted on this machine's own measurements (`rooftune calibrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<super::calibrated::Calibration>,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
    /// Where this profile came from when it was not bundled (e.g. `hw probe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl HardwareProfile {
    /// Capacity in bytes.
    pub fn capacity_bytes(&self) -> f64 {
        self.capacity_gib.value * 1024f64.powi(3)
    }

    /// Bytes the model may occupy on this device by default: all of VRAM,
    /// the GPU-wired share of unified memory, or host RAM less an OS reserve.
    pub fn usable_bytes(&self) -> f64 {
        let fraction = match self.memory_kind {
            MemoryKind::Unified => self.gpu_usable_fraction.as_ref().map_or(0.75, |f| f.value),
            MemoryKind::Vram => 1.0,
            MemoryKind::Host => self.gpu_usable_fraction.as_ref().map_or(0.9, |f| f.value),
        };
        self.capacity_bytes() * fraction
    }

    /// Checks every number is in a physical range; returns the offending field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let checks: [(&str, f64, f64, f64); 5] = [
            ("capacity_gib", self.capacity_gib.value, 0.5, 1e5),
            ("bandwidth_gb_s", self.bandwidth_gb_s.value, 1.0, 1e5),
            ("fp16_tflops", self.fp16_tflops.value, 0.01, 1e5),
            ("eta", self.eta.value, 0.05, 1.0),
            ("overhead_ms", self.overhead_ms.value, 0.0, 1e3),
        ];
        for (field, v, lo, hi) in checks {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err((field.into(), format!("{v} is outside {lo}..={hi}")));
            }
        }
        if let Some(f) = &self.gpu_usable_fraction {
            if !(f.value > 0.0 && f.value <= 1.0) {
                return Err((
                    "gpu_usable_fraction".into(),
                    format!("{} is not in (0, 1]", f.value),
                ));
            }
        }
        Ok(())
    }
}

/// Split `2x rtx-3090` (or `2 x rtx-3090`, `2*rtx-3090`) into a count and a name.
pub fn parse_multiplier(spec: &str) -> (u32, &str) {
    let s = spec.trim();
    if let Some((n, rest)) = s.split_once(['x', '*']) {
        if let Ok(n) = n.trim().parse::<u32>() {
            if n >= 1 && !rest.trim().is_empty() {
                return (n, rest.trim());
            }
        }
    }
    (1, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_syntax() {
        assert_eq!(parse_multiplier("2x rtx-3090"), (2, "rtx-3090"));
        assert_eq!(parse_multiplier("4*h100-sxm"), (4, "h100-sxm"));
        assert_eq!(parse_multiplier("rtx-3090"), (1, "rtx-3090"));
        assert_eq!(parse_multiplier("mi300x"), (1, "mi300x"));
    }
}
