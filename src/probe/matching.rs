//! Matching what was detected to a bundled profile, by exact rules rather
//! than by closeness: `Apple M3 Ultra` is the `m3-ultra` chip (the profile
//! `m3-ultra-512`, or the capacity variant nearest the Mac's memory), a GPU
//! name matches a profile when every token of the profile's name appears in
//! it (`NVIDIA GeForce RTX 4090` -> `rtx-4090`), plus a few names NVIDIA and
//! AMD report that share no token with ours. And the share of unified memory
//! the GPU may wire, from `iogpu.wired_limit_mb` and `hw.memsize`.

use crate::catalog::hardware::{Family, HardwareProfile};
use serde::Serialize;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// An Apple M-series chip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppleChip {
    /// 1 for M1, 3 for M3 ...
    pub generation: u32,
    /// `pro`, `max`, `ultra`, or none for the base chip.
    pub tier: Option<String>,
}

impl AppleChip {
    /// Profile-style id: `m3-ultra`, `m4`.
    pub fn key(&self) -> String {
        match &self.tier {
            Some(t) => format!("m{}-{t}", self.generation),
            None => format!("m{}", self.generation),
        }
    }
}

/// Parse `machdep.cpu.brand_string`: `Apple M3 Ultra` -> m3 ultra. `None` for
/// anything that is not an Apple M chip (an Intel Mac, a Linux box).
pub fn parse_apple_chip(brand: &str) -> Option<AppleChip> {
    let lower = brand.to_ascii_lowercase();
    let mut words = lower.split_whitespace();
    if words.next()? != "apple" {
        return None;
    }
    let generation = words.next()?.strip_prefix('m')?.parse::<u32>().ok()?;
    let tier = words
        .next()
        .filter(|w| matches!(*w, "pro" | "max" | "ultra"))
        .map(str::to_string);
    Some(AppleChip { generation, tier })
}

/// The bundled Apple profile for a chip: its name or alias equals the chip's
/// key, or its name is the key plus a capacity (`m2-ultra-192`); among
/// several, the one whose capacity is nearest `memory_gib`.
pub fn match_apple<'a>(
    chip: &AppleChip,
    memory_gib: f64,
    profiles: &'a [HardwareProfile],
) -> Option<&'a HardwareProfile> {
    let key = chip.key();
    profiles
        .iter()
        .filter(|p| p.family == Family::AppleSilicon)
        .filter(|p| {
            p.name == key
                || p.aliases.contains(&key)
                || p.name
                    .strip_prefix(&key)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|cap| !cap.is_empty() && cap.chars().all(|c| c.is_ascii_digit()))
        })
        .min_by(|a, b| {
            let da = (a.capacity_gib.value - memory_gib).abs();
            let db = (b.capacity_gib.value - memory_gib).abs();
            da.total_cmp(&db)
        })
}

/// Names tools report that share no token with our profile names.
const GPU_RULES: &[(&[&str], &str)] = &[
    (&["gb10"], "dgx-spark"),
    (&["h100", "hbm3"], "h100-sxm"),
    (&["h100", "sxm5"], "h100-sxm"),
    (&["8060s"], "strix-halo"),
    (&["ryzen", "ai", "max", "395"], "strix-halo"),
];

/// Words that make a name a different product than the desktop card
/// whose tokens it contains (`RTX 4090 Laptop GPU` is not an `rtx-4090`).
const VARIANT_WORDS: &[&str] = &["laptop", "mobile", "max-q", "maxq"];

fn tokens(s: &str) -> Vec<String> {
    s.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The bundled GPU profile (NVIDIA, AMD, Intel) for a GPU name.
pub fn match_gpu<'a>(name: &str, profiles: &'a [HardwareProfile]) -> Option<&'a HardwareProfile> {
    let have = tokens(name);
    if have.iter().any(|t| VARIANT_WORDS.contains(&t.as_str())) {
        return None;
    }
    let gpus = || {
        profiles
            .iter()
            .filter(|p| !matches!(p.family, Family::Cpu | Family::AppleSilicon))
    };
    for (needed, profile) in GPU_RULES {
        if needed.iter().all(|n| have.iter().any(|t| t == n)) {
            if let Some(p) = gpus().find(|p| p.name == *profile) {
                return Some(p);
            }
        }
    }
    gpus()
        .filter(|p| {
            std::iter::once(&p.name)
                .chain(&p.aliases)
                .any(|id| tokens(id).iter().all(|t| have.contains(t)))
        })
        // The most specific name wins (`rtx-pro-6000` over a shorter one).
        .max_by_key(|p| tokens(&p.name).len())
}

/// The share of unified memory the GPU may use, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuShare {
    /// Fraction of `hw.memsize`, (0, 1].
    pub fraction: f64,
    /// Where it comes from.
    pub source: String,
}

/// From `iogpu.wired_limit_mb` (0 or absent = the macOS default) and
/// `hw.memsize`: a set limit divided by the memory; otherwise the default
/// Metal working set, about 2/3 of RAM up to 36 GiB and 3/4 above (see the
/// bundled m1 and m3-ultra-512 profiles for the measurements behind it).
pub fn gpu_usable_fraction(wired_limit_mb: Option<u64>, memsize_bytes: u64) -> GpuShare {
    let memory_gib = memsize_bytes as f64 / GIB;
    match wired_limit_mb {
        Some(mb) if mb > 0 && memsize_bytes > 0 => {
            let bytes = mb as f64 * 1024.0 * 1024.0;
            let fraction = (bytes / memsize_bytes as f64).clamp(0.01, 1.0);
            GpuShare {
                fraction,
                source: format!(
                    "sysctl iogpu.wired_limit_mb = {mb} of hw.memsize {memory_gib:.0} GiB{}",
                    if bytes > memsize_bytes as f64 {
                        " (limit above the memory: capped at 1)"
                    } else {
                        ""
                    }
                ),
            }
        }
        _ => {
            let fraction = if memory_gib <= 36.0 { 0.67 } else { 0.75 };
            GpuShare {
                fraction,
                source: format!(
                    "macOS default (sysctl iogpu.wired_limit_mb = {}): Metal's recommendedMaxWorkingSetSize is about 2/3 of RAM up to 36 GB and 3/4 above; {memory_gib:.0} GiB here. Raise with `sudo sysctl iogpu.wired_limit_mb=N`",
                    wired_limit_mb.map_or("absent".into(), |v| v.to_string())
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn bundled() -> &'static [HardwareProfile] {
        &Catalog::bundled().expect("bundled catalog").hardware
    }

    #[test]
    fn apple_brand_strings() {
        let c = parse_apple_chip("Apple M3 Ultra").expect("chip");
        assert_eq!(c.key(), "m3-ultra");
        assert_eq!(parse_apple_chip("Apple M1").expect("chip").key(), "m1");
        assert_eq!(
            parse_apple_chip("apple m4 max").expect("chip").key(),
            "m4-max"
        );
        assert_eq!(
            parse_apple_chip("Intel(R) Core(TM) i9-9980HK CPU @ 2.40GHz"),
            None
        );
        assert_eq!(parse_apple_chip("Apple"), None);
    }

    #[test]
    fn apple_chips_match_bundled_profiles() {
        let hw = bundled();
        let name = |brand: &str, gib: f64| {
            match_apple(&parse_apple_chip(brand).expect("chip"), gib, hw).map(|p| p.name.clone())
        };
        assert_eq!(
            name("Apple M3 Ultra", 512.0).as_deref(),
            Some("m3-ultra-512")
        );
        assert_eq!(
            name("Apple M3 Ultra", 96.0).as_deref(),
            Some("m3-ultra-512")
        );
        assert_eq!(name("Apple M4 Max", 128.0).as_deref(), Some("m4-max"));
        assert_eq!(
            name("Apple M2 Ultra", 192.0).as_deref(),
            Some("m2-ultra-192")
        );
        assert_eq!(name("Apple M1", 8.0).as_deref(), Some("m1"));
        // The base chip does not take a tiered profile, and vice versa.
        assert_eq!(name("Apple M3", 24.0), None);
        assert_eq!(name("Apple M3 Pro", 36.0), None);
    }

    #[test]
    fn gpu_names_match_bundled_profiles() {
        let hw = bundled();
        let name = |n: &str| match_gpu(n, hw).map(|p| p.name.clone());
        assert_eq!(name("NVIDIA GeForce RTX 4090").as_deref(), Some("rtx-4090"));
        assert_eq!(name("NVIDIA GeForce RTX 3090").as_deref(), Some("rtx-3090"));
        assert_eq!(
            name("NVIDIA RTX PRO 6000 Blackwell Workstation Edition").as_deref(),
            Some("rtx-pro-6000")
        );
        assert_eq!(name("NVIDIA A100-SXM4-80GB").as_deref(), Some("a100-80gb"));
        assert_eq!(name("NVIDIA H100 80GB HBM3").as_deref(), Some("h100-sxm"));
        assert_eq!(name("NVIDIA GB10").as_deref(), Some("dgx-spark"));
        assert_eq!(name("AMD Instinct MI300X").as_deref(), Some("mi300x"));
        assert_eq!(name("NVIDIA GeForce RTX 4090 Laptop GPU"), None);
        assert_eq!(name("NVIDIA GeForce RTX 4060"), None);
        assert_eq!(name("AMD GPU (PCI device 0x744c)"), None);
    }

    #[test]
    fn wired_limit_fraction() {
        let gib = 1u64 << 30;
        let set = gpu_usable_fraction(Some(480 * 1024), 512 * gib);
        approx::assert_relative_eq!(set.fraction, 480.0 / 512.0);
        assert!(set.source.contains("491520"));
        assert_eq!(gpu_usable_fraction(Some(0), 512 * gib).fraction, 0.75);
        assert_eq!(gpu_usable_fraction(None, 128 * gib).fraction, 0.75);
        assert_eq!(gpu_usable_fraction(Some(0), 16 * gib).fraction, 0.67);
        assert_eq!(gpu_usable_fraction(Some(0), 36 * gib).fraction, 0.67);
        assert_eq!(gpu_usable_fraction(Some(1 << 20), 64 * gib).fraction, 1.0);
        assert!(gpu_usable_fraction(Some(0), 64 * gib)
            .source
            .contains("wired_limit_mb"));
    }
}
