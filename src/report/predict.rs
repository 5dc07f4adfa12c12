//! `rooftune predict`: the arithmetic, shown.

use super::{rate, table};
use crate::roofline::context::ContextVerdict;
use crate::roofline::Prediction;
use crate::units::{fmt_bytes, fmt_count, fmt_gb};
use std::fmt::Write;

/// Render a prediction as text.
pub fn text(p: &Prediction, bandwidth_note: &str, calibrated: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} at {} on {}", p.model, p.quant, p.machine);
    let _ = writeln!(
        o,
        "placement    {}{}",
        p.placement_flags,
        if p.placement_auto {
            "  (chosen: the fastest that fits)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "weights      {:.1}B params, {} in the file; {:.1}B active per token = {} read per token",
        p.total.params / 1e9,
        fmt_bytes(p.total.bytes),
        p.active.params / 1e9,
        fmt_gb(p.active.bytes)
    );
    let _ = writeln!(o, "bandwidth    {bandwidth_note}");
    let _ = writeln!(o);
    let estimate = if calibrated {
        "the calibrated terms (per weight type, KV, attention, per token, per layer)"
    } else {
        "1 / (bytes / (eta x bandwidth) + c)"
    };
    let _ = writeln!(
        o,
        "decode: ceiling = bandwidth / bytes per token; estimate = {estimate}"
    );
    let rows = p
        .decode
        .iter()
        .zip(&p.bars)
        .map(|(d, b)| {
            vec![
                fmt_count(d.depth),
                fmt_gb(d.weight_bytes),
                fmt_gb(d.kv_bytes),
                fmt_gb(d.bytes_per_token()),
                rate(d.ceiling_tok_s),
                format!(
                    "{} ({}-{})",
                    rate(d.estimate_tok_s),
                    rate(d.estimate_low_tok_s),
                    rate(d.estimate_high_tok_s)
                ),
                b.verdict.short().to_string(),
            ]
        })
        .collect();
    let target = format!("{} tok/s?", rate(p.target_tok_s));
    o.push_str(&table(
        &[
            "depth",
            "weights",
            "KV",
            "bytes/token",
            "ceiling tok/s",
            "estimate tok/s (band)",
            &target,
        ],
        rows,
    ));
    o.push('\n');
    if let Some(first) = p.decode.first() {
        if first.tiers.len() > 1 {
            let _ = writeln!(o, "\nper tier at depth {}:", fmt_count(first.depth));
            let total: f64 = first.tiers.iter().map(|t| t.ceiling_s).sum();
            for t in &first.tiers {
                let _ = writeln!(
                    o,
                    "  {:<28} {} weights + {} KV, {:.1} ms/token at full bandwidth ({:.0}% of the time)",
                    t.device,
                    fmt_gb(t.weight_bytes),
                    fmt_gb(t.kv_bytes),
                    t.ceiling_s * 1e3,
                    100.0 * t.ceiling_s / total
                );
            }
        }
    }
    let _ = writeln!(o);
    for pf in &p.prefill {
        let _ = writeln!(
            o,
            "prefill      depth {}: compute {} ({:.1} GFLOP/token), bandwidth {} tok/s (ubatch {}): {}-bound, ceiling {} tok/s",
            fmt_count(pf.depth),
            if pf.compute_tok_s.is_finite() {
                format!("{} tok/s", rate(pf.compute_tok_s))
            } else {
                "roof unknown (give --hw PROFILE)".to_string()
            },
            pf.flops_per_token / 1e9,
            rate(pf.bandwidth_tok_s),
            pf.ubatch,
            match pf.bound {
                crate::roofline::prefill::Bound::Compute => "compute",
                crate::roofline::prefill::Bound::Bandwidth => "bandwidth",
            },
            rate(pf.ceiling_tok_s)
        );
    }
    let _ = writeln!(
        o,
        "first token  {}-token prompt, {} cached: at least {:.2} s, about {:.2} s",
        fmt_count(p.ttft.prompt_tokens),
        fmt_count(p.ttft.cached_tokens),
        p.ttft.ceiling_s,
        p.ttft.estimate_s
    );
    let _ = writeln!(o);
    memory(&mut o, p);
    context(&mut o, p);
    let w = &p.what_it_takes;
    let deepest = p.decode.last().map_or(0, |d| d.depth);
    let _ = writeln!(
        o,
        "to reach {} tok/s at depth {}: one memory of {:.0} GB/s for the ceiling ({:.1}x today's){}; or at most {} of weights read per token here ({:.1}B active params at this quant's {:.2} bits, ceiling) / {} ({:.1}B, estimate)",
        rate(w.target_tok_s),
        fmt_count(deepest),
        w.bandwidth_for_ceiling_gb_s,
        p.decode.last().map_or(1.0, |d| w.target_tok_s / d.ceiling_tok_s),
        w.bandwidth_for_estimate_gb_s.map_or(", c alone exceeds the time budget".into(), |b| format!(", {b:.0} GB/s for the estimate")),
        fmt_gb(w.max_weight_bytes_ceiling),
        w.max_active_params_b_ceiling,
        8.0 * p.active.bytes / p.active.params.max(1.0),
        fmt_gb(w.max_weight_bytes_estimate),
        w.max_active_params_b_estimate,
    );
    o
}

fn memory(o: &mut String, p: &Prediction) {
    let m = &p.memory;
    let kv = &m.kv;
    let mut parts = vec![format!("{} cells", fmt_count(kv.cells))];
    if kv.kv_bytes > 0.0 {
        parts.push(format!(
            "KV {:.2} MiB ({})",
            kv.kv_bytes / 1048576.0,
            fmt_bytes(kv.kv_bytes)
        ));
    }
    if kv.swa_bytes > 0.0 {
        parts.push(format!(
            "sliding-window {} ({} cells)",
            fmt_bytes(kv.swa_bytes),
            fmt_count(kv.swa_cells)
        ));
    }
    if kv.indexer_bytes > 0.0 {
        parts.push(format!(
            "sparse-attention indexer {}",
            fmt_bytes(kv.indexer_bytes)
        ));
    }
    if kv.recurrent_bytes > 0.0 {
        parts.push(format!(
            "recurrent state {} (f32)",
            fmt_bytes(kv.recurrent_bytes)
        ));
    }
    let _ = writeln!(
        o,
        "KV cache     {} = {} in all (as llama.cpp b11434 allocates)",
        parts.join(", "),
        fmt_bytes(kv.total())
    );
    for d in &m.devices {
        if !d.usable_bytes.is_finite() {
            let _ = writeln!(
                o,
                "memory       {}: weights {} + KV {} + compute {} = {}; fit unknown (pass --memory SIZE or --hw PROFILE)",
                d.device,
                fmt_bytes(d.weights_bytes),
                fmt_bytes(d.kv_bytes),
                fmt_bytes(d.compute_bytes),
                fmt_bytes(d.needed()),
            );
            continue;
        }
        let verdict = if d.fits() {
            "fits".to_string()
        } else if d.unified && d.fits_capacity() {
            format!(
                "does not fit the default GPU wired limit; raise it: sudo sysctl iogpu.wired_limit_mb={}",
                ((d.needed() / 1048576.0) * 1.05).ceil() as u64
            )
        } else {
            "does NOT fit".to_string()
        };
        let _ = writeln!(
            o,
            "memory       {}: weights {} + KV {} + compute {} = {} of {} usable ({} total): {}",
            d.device,
            fmt_bytes(d.weights_bytes),
            fmt_bytes(d.kv_bytes),
            fmt_bytes(d.compute_bytes),
            fmt_bytes(d.needed()),
            fmt_bytes(d.usable_bytes),
            fmt_bytes(d.capacity_bytes),
            verdict
        );
    }
}

fn context(o: &mut String, p: &Prediction) {
    let line = match &p.context {
        ContextVerdict::Native { requested, native } => {
            format!("{} tokens: native (trained window {})", fmt_count(*requested), fmt_count(*native))
        }
        ContextVerdict::Extended { requested, native, extended, method, factor } => format!(
            "{} tokens: extended by {method} x{factor} past the native {} (up to {}); expect weaker recall past {}",
            fmt_count(*requested),
            fmt_count(*native),
            fmt_count(*extended),
            fmt_count(*native)
        ),
        ContextVerdict::Capped { requested, allocated_cells, capped_to } => format!(
            "{} tokens requested: beyond the training window. llama.cpp allocates {} cells, warns, and llama-server caps each slot at {}",
            fmt_count(*requested),
            fmt_count(*allocated_cells),
            fmt_count(*capped_to)
        ),
    };
    let _ = writeln!(o, "context      {line}");
    let _ = writeln!(
        o,
        "1M native?   {}",
        if p.million_native { "yes" } else { "no" }
    );
}
