//! What the machine says about itself: CPU, cores and memory (sysinfo), the
//! last-level cache (Linux sysfs), GPUs (`nvidia-smi`, `/sys/class/drm` for
//! AMD) and, on a Mac, the Apple chip and its GPU wired-memory limit (sysctl,
//! in `macos.rs`). Nothing here fails: what cannot be read is left out.
//! The parsers are plain functions over text so they are tested on any OS.

use serde::Serialize;
use std::path::Path;

/// Everything detected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detected {
    /// CPU brand string (`AMD EPYC 9654`, `Apple M3 Ultra`).
    pub cpu_brand: String,
    /// Physical cores (sysinfo; the logical count when unknown).
    pub physical_cores: usize,
    /// Logical CPUs.
    pub logical_cores: usize,
    /// Total RAM, bytes.
    pub total_memory_bytes: u64,
    /// Largest CPU cache (the last level), bytes, when the OS tells.
    pub llc_bytes: Option<u64>,
    /// Discrete or integrated GPUs found.
    pub gpus: Vec<Gpu>,
    /// The Apple chip, on a Mac with Apple Silicon.
    pub apple: Option<AppleInfo>,
    /// `linux`, `macos`, ...
    pub os: &'static str,
}

/// A GPU as a tool reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gpu {
    /// Name as reported (`NVIDIA GeForce RTX 4090`).
    pub name: String,
    /// Its own memory, bytes, when reported.
    pub memory_bytes: Option<u64>,
    /// Where the name came from (`nvidia-smi`, `/sys/class/drm/card0`).
    pub source: String,
}

/// An Apple Silicon Mac, from sysctl.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppleInfo {
    /// `machdep.cpu.brand_string` (`Apple M3 Ultra`).
    pub brand: String,
    /// `hw.memsize`, bytes.
    pub memsize_bytes: u64,
    /// `iogpu.wired_limit_mb` (0 = the macOS default; absent on older macOS).
    pub wired_limit_mb: Option<u64>,
}

/// Detect everything that can be detected.
pub fn detect() -> Detected {
    use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};
    let sys = System::new_with_specifics(
        RefreshKind::new()
            .with_cpu(CpuRefreshKind::new())
            .with_memory(MemoryRefreshKind::new().with_ram()),
    );
    let logical = sys.cpus().len().max(1);
    let cpu_brand = sys
        .cpus()
        .first()
        .map(|c| c.brand().trim().to_string())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "unknown CPU".into());
    let mut gpus = nvidia_gpus();
    gpus.extend(amd_gpus(Path::new("/sys/class/drm")));
    Detected {
        cpu_brand,
        physical_cores: sys.physical_core_count().unwrap_or(logical).max(1),
        logical_cores: logical,
        total_memory_bytes: sys.total_memory(),
        llc_bytes: llc_bytes(Path::new("/sys/devices/system/cpu/cpu0/cache")),
        gpus,
        apple: apple_info(),
        os: std::env::consts::OS,
    }
}

#[cfg(target_os = "macos")]
fn apple_info() -> Option<AppleInfo> {
    super::macos::apple_info()
}

#[cfg(not(target_os = "macos"))]
fn apple_info() -> Option<AppleInfo> {
    None
}

/// Ask `nvidia-smi` (when installed) for names and memory.
/// A wedged driver can make `nvidia-smi` hang: it gets 10 s, then is killed
/// (its whole process group) and the probe goes on without GPUs. A failing
/// `nvidia-smi` prints its error on stdout, so only a success is parsed.
fn nvidia_gpus() -> Vec<Gpu> {
    let args = ["--query-gpu=name,memory.total", "--format=csv,noheader"];
    match crate::child::run_briefly(
        Path::new("nvidia-smi"),
        &args,
        std::time::Duration::from_secs(10),
    ) {
        Ok(a) if a.status.success() => parse_nvidia_smi(&a.text),
        _ => Vec::new(),
    }
}

/// Parse `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader`:
/// one `NVIDIA GeForce RTX 4090, 24564 MiB` line per GPU.
pub fn parse_nvidia_smi(text: &str) -> Vec<Gpu> {
    text.lines()
        .filter_map(|line| {
            let (name, mem) = line.rsplit_once(',')?;
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            let mib = mem
                .trim()
                .strip_suffix("MiB")
                .and_then(|v| v.trim().parse::<u64>().ok());
            Some(Gpu {
                name: name.to_string(),
                memory_bytes: mib.map(|m| m * 1024 * 1024),
                source: "nvidia-smi".into(),
            })
        })
        .collect()
}

/// AMD GPUs under `/sys/class/drm/card*/device` (PCI vendor 0x1002): the
/// product name where the driver exposes one, and `mem_info_vram_total`.
pub fn amd_gpus(drm: &Path) -> Vec<Gpu> {
    let Ok(entries) = std::fs::read_dir(drm) else {
        return Vec::new();
    };
    let mut cards: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("card") && !n.contains('-'))
        })
        .collect();
    cards.sort();
    cards
        .into_iter()
        .filter_map(|card| {
            let dev = card.join("device");
            let read = |f: &str| std::fs::read_to_string(dev.join(f)).ok();
            if read("vendor")?.trim() != "0x1002" {
                return None;
            }
            let name = read("product_name")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| {
                    format!(
                        "AMD GPU (PCI device {})",
                        read("device").map_or("?".into(), |d| d.trim().to_string())
                    )
                });
            Some(Gpu {
                name,
                memory_bytes: read("mem_info_vram_total").and_then(|v| v.trim().parse().ok()),
                source: card.display().to_string(),
            })
        })
        .collect()
}

/// The largest cache under `/sys/devices/system/cpu/cpu0/cache/index*/size`.
pub fn llc_bytes(cache_dir: &Path) -> Option<u64> {
    std::fs::read_dir(cache_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("size")).ok())
        .filter_map(|s| parse_cache_size(&s))
        .max()
}

/// `32768K` -> 33554432; also `M`, `G` and plain bytes.
pub fn parse_cache_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1024),
        'M' | 'm' => (&s[..s.len() - 1], 1024 * 1024),
        'G' | 'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok().map(|n| n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_smi_lines() {
        let g = parse_nvidia_smi(
            "NVIDIA GeForce RTX 4090, 24564 MiB\nNVIDIA A100-SXM4-80GB, 81920 MiB\n\n",
        );
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].name, "NVIDIA GeForce RTX 4090");
        assert_eq!(g[0].memory_bytes, Some(24564 * 1024 * 1024));
        assert_eq!(g[1].name, "NVIDIA A100-SXM4-80GB");
        assert_eq!(parse_nvidia_smi("NVIDIA GB10, [N/A]")[0].memory_bytes, None);
    }

    #[test]
    fn cache_sizes() {
        assert_eq!(parse_cache_size("32768K\n"), Some(32 << 20));
        assert_eq!(parse_cache_size("1M"), Some(1 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("x"), None);
    }

    #[test]
    fn amd_cards_from_a_fake_sysfs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dev = dir.path().join("card1/device");
        std::fs::create_dir_all(&dev).expect("mkdir");
        std::fs::write(dev.join("vendor"), "0x1002\n").expect("write");
        std::fs::write(dev.join("product_name"), "AMD Instinct MI300X\n").expect("write");
        std::fs::write(dev.join("mem_info_vram_total"), "206141652992\n").expect("write");
        let other = dir.path().join("card0/device");
        std::fs::create_dir_all(&other).expect("mkdir");
        std::fs::write(other.join("vendor"), "0x10de\n").expect("write");
        std::fs::create_dir_all(dir.path().join("card1-DP-1")).expect("mkdir");
        let g = amd_gpus(dir.path());
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].name, "AMD Instinct MI300X");
        assert_eq!(g[0].memory_bytes, Some(206141652992));
    }

    #[test]
    fn detect_finds_something() {
        let d = detect();
        assert!(d.logical_cores >= 1 && d.physical_cores >= 1);
        assert!(d.total_memory_bytes > 0);
    }
}
