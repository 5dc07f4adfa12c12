//! Lists and detail views of the catalog.

use super::table;
use crate::catalog::hardware::HardwareProfile;
use crate::catalog::model_spec::ModelSpec;
use crate::catalog::sourced::Sourced;
use crate::shape::ModelShape;
use crate::units::{fmt_bytes, fmt_count, fmt_gb};
use std::fmt::Write;

/// `hw list`.
pub fn hw_list(hw: &[HardwareProfile]) -> String {
    let rows = hw
        .iter()
        .map(|h| {
            vec![
                h.name.clone(),
                h.display_name.clone(),
                format!("{:?}", h.memory_kind).to_lowercase(),
                format!("{:.0}", h.capacity_gib.value),
                format!("{:.0}", h.bandwidth_gb_s.value),
                format!("{:.1}", h.fp16_tflops.value),
            ]
        })
        .collect();
    table(
        &["name", "hardware", "memory", "GiB", "GB/s", "FP16 TFLOP/s"],
        rows,
    ) + "\n"
}

fn sourced<T: std::fmt::Debug>(o: &mut String, key: &str, v: &Sourced<T>) {
    let flag = if v.verified { "" } else { " [unverified]" };
    let _ = writeln!(
        o,
        "  {key:<26} {:?}{flag}\n  {:<26} source: {}",
        v.value, "", v.source
    );
}

/// `hw show`.
pub fn hw_show(h: &HardwareProfile) -> String {
    let mut o = format!(
        "{} ({})\nfamily {:?}, memory {:?}\n",
        h.display_name, h.name, h.family, h.memory_kind
    );
    sourced(&mut o, "capacity_gib", &h.capacity_gib);
    if let Some(c) = &h.capacity_options_gib {
        sourced(&mut o, "capacity_options_gib", c);
    }
    sourced(&mut o, "bandwidth_gb_s", &h.bandwidth_gb_s);
    if let Some(m) = &h.measured_bandwidth_gb_s {
        sourced(&mut o, "measured_bandwidth_gb_s", m);
    }
    if let Some(g) = &h.gpu_usable_fraction {
        sourced(&mut o, "gpu_usable_fraction", g);
    }
    sourced(&mut o, "fp16_tflops", &h.fp16_tflops);
    if let Some(i) = &h.int8_tops {
        sourced(&mut o, "int8_tops", i);
    }
    sourced(&mut o, "eta", &h.eta);
    sourced(&mut o, "overhead_ms", &h.overhead_ms);
    if let Some(n) = &h.notes {
        let _ = writeln!(o, "notes: {n}");
    }
    o
}

/// `model list`.
pub fn model_list(models: &[(ModelSpec, ModelShape)]) -> String {
    let rows = models
        .iter()
        .map(|(m, s)| {
            let kind = match (&m.arch.moe, &m.arch.mla, &m.arch.linear, &m.arch.swa) {
                (_, _, Some(_), _) => "hybrid linear",
                (_, Some(_), _, _) => "MLA",
                (_, _, _, Some(_)) => "sliding window",
                _ => "full",
            };
            vec![
                m.name.clone(),
                m.display_name.clone(),
                format!("{:.1}", s.total_weights().params / 1e9),
                format!("{:.1}", s.active_weights().params / 1e9),
                m.arch
                    .moe
                    .as_ref()
                    .map_or("-".into(), |e| format!("{}/{}", e.experts_used, e.experts)),
                kind.into(),
                fmt_count(m.context.train),
            ]
        })
        .collect();
    table(
        &[
            "name",
            "model",
            "params B",
            "active B",
            "experts",
            "attention",
            "train ctx",
        ],
        rows,
    ) + "\n"
}

/// `model show`.
pub fn model_show(m: &ModelSpec, s: &ModelShape) -> String {
    let mut o = format!(
        "{} ({}), llama.cpp arch {}\n",
        m.display_name,
        m.name,
        m.llama_arch.as_deref().unwrap_or("?")
    );
    let _ = writeln!(o, "source: {}", m.source);
    let total = s.total_weights();
    let active = s.active_weights();
    let _ = writeln!(
        o,
        "derived params: {:.2}B total, {:.2}B active",
        total.params / 1e9,
        active.params / 1e9
    );
    if let Some(t) = &m.params.total_b {
        let _ = writeln!(o, "published total: {}B ({})", t.value, t.source);
    }
    if let Some(a) = &m.params.active_b {
        let _ = writeln!(o, "published active: {}B ({})", a.value, a.source);
    }
    let _ = writeln!(
        o,
        "at {}: {} in memory, {} read per token",
        s.quant_label,
        fmt_bytes(total.bytes),
        fmt_gb(active.bytes)
    );
    let _ = writeln!(
        o,
        "layers {}, hidden {}, vocab {}, training window {}",
        m.arch.n_layers,
        m.arch.hidden,
        m.arch.vocab,
        fmt_count(m.context.train)
    );
    if !m.unverified.is_empty() {
        let _ = writeln!(o, "unverified fields: {}", m.unverified.join(", "));
    }
    if let Some(n) = &m.notes {
        let _ = writeln!(o, "notes: {n}");
    }
    o
}
