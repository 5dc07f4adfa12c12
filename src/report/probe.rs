//! `hw probe`: what was detected, what was measured, the profile it makes.

use super::table;
use crate::catalog::hardware::HardwareProfile;
use crate::probe::ProbeResult;
use std::fmt::Write;
use std::path::Path;

const MIB: u64 = 1024 * 1024;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The text report. `saved` is where the profile was written, if it was.
pub fn probe(r: &ProbeResult, p: &HardwareProfile, saved: Option<&Path>) -> String {
    let mut o = String::new();
    detected(&mut o, r);
    measured(&mut o, r);
    let _ = writeln!(
        o,
        "\nprofile `{}`: {} memory, {:.1} GiB, {:.1} GB/s, eta {:.2}, overhead {} ms, {:.2} TFLOP/s",
        p.name,
        format!("{:?}", p.memory_kind).to_lowercase(),
        p.capacity_gib.value,
        p.bandwidth_gb_s.value,
        p.eta.value,
        p.overhead_ms.value,
        p.fp16_tflops.value
    );
    match saved {
        Some(path) => {
            let _ = writeln!(
                o,
                "saved to {}: use it with `--hw {}` (or `--host {}` beside a GPU profile)",
                path.display(),
                p.name,
                p.name
            );
        }
        None => {
            let _ = writeln!(o, "not saved (hint: `rooftune hw probe --save NAME`)");
        }
    }
    for w in &r.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    o
}

fn detected(o: &mut String, r: &ProbeResult) {
    let d = &r.detected;
    let _ = writeln!(
        o,
        "rooftune hw probe, {} ({:.1} s{})",
        r.date,
        r.elapsed_s,
        if r.options.quick { ", --quick" } else { "" }
    );
    let llc = d.llc_bytes.map_or(String::new(), |b| {
        format!(", last-level cache {} MiB", b / MIB)
    });
    let _ = writeln!(
        o,
        "CPU     {}, {} physical / {} logical cores{llc}",
        d.cpu_brand, d.physical_cores, d.logical_cores
    );
    let _ = writeln!(o, "memory  {:.1} GiB", d.total_memory_bytes as f64 / GIB);
    if let Some(a) = &d.apple {
        let matched = r
            .apple_profile
            .as_ref()
            .map_or("no bundled profile".to_string(), |n| {
                format!("bundled profile `{n}`")
            });
        let _ = writeln!(o, "chip    {} -> {matched}", a.brand);
        if let Some(s) = &r.gpu_share {
            let _ = writeln!(
                o,
                "        the GPU may wire {:.0}% of memory: {}",
                s.fraction * 100.0,
                s.source
            );
        }
    }
    if r.gpus.is_empty() {
        let _ = writeln!(o, "GPU     none found (nvidia-smi, /sys/class/drm)");
    }
    for g in &r.gpus {
        let mem = g
            .gpu
            .memory_bytes
            .map_or(String::new(), |b| format!(", {:.0} GiB", b as f64 / GIB));
        let matched = g
            .profile
            .as_ref()
            .map_or("no bundled profile".to_string(), |n| {
                format!("bundled profile `{n}` (use --hw {n} --host <this profile>)")
            });
        let _ = writeln!(
            o,
            "GPU     {}{mem} ({}) -> {matched}",
            g.gpu.name, g.gpu.source
        );
    }
}

fn measured(o: &mut String, r: &ProbeResult) {
    let b = &r.bandwidth;
    let rows = [&b.read, &b.triad]
        .iter()
        .map(|k| {
            vec![
                k.kernel.to_string(),
                format!("{:.1}", k.best_gb_s),
                format!("{:.1}", k.median_gb_s),
                format!("{:.1}", k.worst_gb_s),
                format!("{}", k.bytes_per_rep / MIB),
            ]
        })
        .collect();
    let _ = writeln!(
        o,
        "\nmemory bandwidth: {} threads, 3 x {} MiB arrays, {} repetitions (decimal GB/s, STREAM counting)\n{}",
        b.config.threads,
        b.config.array_bytes as u64 / MIB,
        b.config.repetitions,
        table(
            &["kernel", "best GB/s", "median GB/s", "worst GB/s", "MiB per repetition"],
            rows
        )
    );
    let c = &r.compute;
    let _ = writeln!(
        o,
        "\nCPU compute, measured: f32 matmul n = {} ({}), {} threads: {:.1} GFLOP/s best, {:.1} median\n(a measured rate from a plain Rust kernel, a lower bound; the ceilings use the roofs below)",
        c.config.n, c.isa, c.config.threads, c.best_gflop_s, c.median_gflop_s
    );
    if let Some(roofs) = &r.roofs {
        let rows = roofs
            .paths
            .iter()
            .map(|p| {
                vec![
                    p.path.to_string(),
                    format!("{:?}", p.kind).to_lowercase(),
                    format!("{}", p.ops_per_cycle_per_core),
                    format!("{:.1}", p.peak_gop_s),
                ]
            })
            .collect();
        let _ = writeln!(
            o,
            "\nCPU compute roofs (upper bounds): {} cores x {:.2} GHz ({})\n{}",
            roofs.cores,
            roofs.clock_ghz,
            roofs.clock_source,
            table(&["data path", "kind", "ops/cycle/core", "peak GOP/s"], rows)
        );
    }
}
