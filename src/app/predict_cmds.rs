//! `predict`, `matrix`, `speculate`.

use super::build;
use super::output::Sink;
use crate::cli::{MatrixArgs, PredictArgs, SpeculateArgs};
use crate::compare::AsDevice;
use crate::exit::ExitCode;
use crate::report;
use crate::report::doc::Document;
use crate::report::format::Format;
use crate::roofline::kv::{KvOptions, KvTypes};
use crate::roofline::machine::Machine;
use crate::roofline::{self, speculative, Scenario};
use crate::units::{self, UnitError};
use anyhow::{bail, Context, Result};
use serde_json::json;

/// A KV cache type flag (`--ctk`, `--ctv`), checked.
pub(super) fn kv_type(s: &str, flag: &str) -> Result<crate::dtype::ggml::GgmlType> {
    let t: crate::dtype::ggml::GgmlType = s.parse().with_context(|| flag.to_string())?;
    if !t.is_kv_cache_type() {
        bail!(UnitError::Invalid {
            input: s.into(),
            what: "KV cache type",
            examples: "f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1, f32"
        });
    }
    Ok(t)
}

fn target(v: f64) -> Result<f64> {
    Ok(units::positive("--target (tok/s)", v, 1e6)?)
}

/// A published row's band: its family's, for its runtime.
fn row_band(
    cat: &crate::catalog::Catalog,
    c: &crate::compare::calibration::Checked,
) -> crate::roofline::decode::EtaBand {
    use crate::compare::calibration::{band_for_runtime, runtime_class};
    band_for_runtime(
        cat,
        &c.family,
        runtime_class(c.measurement.runtime.as_deref()),
    )
}

/// Refuse slot counts and depths the context cannot hold: `--np` above
/// `--ctx` leaves slots with no cells, and a depth beyond a slot's share
/// (`--ctx / --np`) would be priced for KV that is never allocated.
fn check_slots(ctx: u64, np: u64, deepest: u64) -> Result<(), UnitError> {
    if np > ctx {
        return Err(UnitError::OutOfRange {
            what: "--np".into(),
            rule: format!("at most --ctx ({ctx}) so that every slot holds some context"),
            value: np as f64,
        });
    }
    let slot = ctx / np.max(1);
    if deepest > slot {
        return Err(UnitError::OutOfRange {
            what: "--depth".into(),
            rule: format!(
                "within the context of a slot (--ctx {ctx} / --np {np} = {slot} tokens); raise --ctx to look deeper"
            ),
            value: deepest as f64,
        });
    }
    Ok(())
}

/// `rooftune predict`
pub fn predict(a: &PredictArgs) -> Result<ExitCode> {
    if let Some(spec) = &a.cluster {
        return super::cluster_cmds::predict(a, spec);
    }
    let sink = Sink::open(&a.out)?;
    let cat = build::catalog()?;
    let (mut machine, band) = build::machine(&cat, &a.machine)?;
    if let Some(name) = &a.calibration {
        let cal = cat.hardware(name)?.calibration.clone().with_context(|| {
            format!("profile `{name}` has no calibration (hint: `rooftune calibrate RESULTS.json... --save {name}`)")
        })?;
        if let Some(d) = machine.accel.first_mut().or(machine.host.as_mut()) {
            d.calibration = Some(cal);
        }
    }
    let shape = build::shape(&cat, &a.model)?;
    // An MLX quantization runs on MLX: its family's MLX band and factors.
    let band = match (&a.machine.hw, crate::compare::family::runtime_of(&shape)) {
        (Some(spec), runtime) if runtime != "llama.cpp" => {
            let (_, name) = crate::catalog::hardware::parse_multiplier(spec);
            let family = cat.hardware(name)?.family;
            crate::compare::family::band_for_runtime(&cat, family.as_str(), runtime)
        }
        _ => band,
    };
    let ctx = a.ctx;
    if ctx == 0 {
        bail!(UnitError::OutOfRange {
            what: "--ctx".into(),
            rule: "at least 1 token".into(),
            value: 0.0
        });
    }
    let depths = a.depth.clone();
    let deepest = depths.iter().copied().max().unwrap_or(0);
    let prompt = match a.prompt {
        Some(p) => p,
        None if deepest > 0 => deepest,
        None => 8192,
    };
    let cached = a.cached;
    if cached > prompt {
        bail!(UnitError::OutOfRange {
            what: "--cached".into(),
            rule: format!("at most the prompt ({prompt})"),
            value: cached as f64
        });
    }
    if a.np == 0 || a.ubatch == 0 {
        bail!(UnitError::OutOfRange {
            what: "--np and --ubatch".into(),
            rule: "at least 1".into(),
            value: 0.0
        });
    }
    check_slots(ctx, a.np, deepest)?;
    let scenario = Scenario {
        ctx,
        depths,
        kv: KvOptions {
            types: KvTypes {
                k: kv_type(&a.ctk, "--ctk")?.into(),
                v: kv_type(&a.ctv, "--ctv")?.into(),
            },
            n_seq: a.np,
            ubatch: a.ubatch,
            swa_full: false,
        },
        placement: a
            .placement
            .as_deref()
            .map(build::placement)
            .transpose()
            .context("--placement")?,
        target_tok_s: target(a.target)?,
        band,
        prompt_tokens: prompt,
        cached_tokens: cached,
        ..Scenario::default()
    };
    let p = roofline::predict(&shape, &machine, &scenario);
    let draw = matches!(sink.format, Format::Html | Format::Svg | Format::Markdown);
    let roofs = report::predict_charts::Roofs {
        bandwidth_bytes_s: machine.primary().map_or(0.0, |d| d.bandwidth_gb_s * 1e9),
        peak_flops: Some(roofline::estimate::peak_ops(&shape, &machine)),
    };
    sink.emit(
        &json!({ "prediction": p, "machine": machine, "band": band }),
        || {
            let text = report::predict::text(
                &p,
                &bandwidth_note(&machine, band, shape.expert_dispatches()),
                machine.primary().is_some_and(|d| d.calibration.is_some()),
            );
            let mut d = Document::from_text("", &text);
            if draw {
                for c in report::predict_charts::all(&p, roofs) {
                    d.chart(c);
                }
            }
            d
        },
    )?;
    Ok(ExitCode::OK)
}

fn bandwidth_note(m: &Machine, band: roofline::decode::EtaBand, expert_dispatches: f64) -> String {
    let experts = if band.per_expert_s > 0.0 && expert_dispatches > 0.0 {
        format!(
            " + {:.0} us x {expert_dispatches:.0} routed experts per token",
            band.per_expert_s * 1e6
        )
    } else {
        String::new()
    };
    let depth = band.depth.map_or(String::new(), |f| {
        format!(
            "; at depth + {:.2} x the KV read time at eta + {:.1} x the attention FLOPs at the compute roof (fitted on published depth rows: `rooftune published`)",
            f.kv, f.attn
        )
    });
    let prefill = band.prefill.map_or(String::new(), |f| {
        format!(
            "; prefill {:.2} x the dense weight FLOPs + {:.2} x the routed expert FLOPs + {:.1} x the attention FLOPs at the compute roof (fitted on published prefill rows)",
            f.weights, f.experts, f.attn
        )
    });
    m.devices()
        .map(|d| {
            if let Some(cal) = &d.calibration {
                return format!(
                    "{}: {:.0} GB/s; estimate from the calibrated terms ({} models, band +-{:.0}%: their held-out error; `rooftune calibrate`)",
                    d.label, d.bandwidth_gb_s, cal.models, cal.decode_holdout_pct
                );
            }
            format!(
                "{}: {:.0} GB/s, eta {:.2} (band x{:.2}-{:.2}), c {:.2} ms{experts}{depth}{prefill}",
                d.label,
                d.bandwidth_gb_s,
                d.eta,
                band.low,
                band.high,
                d.overhead_s * 1e3
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `rooftune matrix`
pub fn matrix(a: &MatrixArgs) -> Result<ExitCode> {
    let sink = Sink::open(&a.out)?;
    let cat = build::catalog()?;
    let quant = cat.quant(&a.quant)?;
    let (ctx, depth) = (a.ctx, a.depth);
    let host = a.host.as_deref().map(|h| cat.hardware(h)).transpose()?;
    let target = target(a.target)?;
    let shapes: Vec<_> = cat
        .models
        .iter()
        .map(|m| (m.name.clone(), m.shape(&quant)))
        .collect();
    let mut rows = Vec::new();
    for hw in &cat.hardware {
        let dev = hw.device(hw.name.clone());
        let machine = match (hw.memory_kind, host) {
            (crate::catalog::hardware::MemoryKind::Host, _) => Machine::cpu_only(dev),
            (crate::catalog::hardware::MemoryKind::Vram, Some(h)) => Machine {
                accel: vec![dev],
                host: Some(h.device(format!("host {}", h.name))),
                tensor_split: vec![1.0],
            },
            _ => Machine::single(dev),
        };
        let band = crate::compare::family::band_for(&cat, hw.family.as_str());
        for (name, shape) in &shapes {
            let s = Scenario {
                ctx,
                depths: vec![depth],
                target_tok_s: target,
                band,
                prompt_tokens: depth.max(1),
                ..Scenario::default()
            };
            let p = roofline::predict(shape, &machine, &s);
            let d = p.decode.last().cloned();
            rows.push(report::matrix::MatrixRow {
                hw: hw.name.clone(),
                model: name.clone(),
                quant: quant.label(),
                placement: p.placement_flags.clone(),
                ceiling_tok_s: d.as_ref().map_or(0.0, |d| d.ceiling_tok_s),
                estimate_tok_s: d.as_ref().map_or(0.0, |d| d.estimate_tok_s),
                fits: p.memory.fits(),
                verdict: p
                    .bars
                    .last()
                    .map_or(crate::roofline::bars::BarVerdict::No, |b| b.verdict),
            });
        }
    }
    sink.emit_text(
        &json!({ "target_tok_s": target, "quant": quant.label(), "ctx": ctx, "depth": depth, "rows": rows }),
        || report::matrix::text(&rows, target),
    )?;
    Ok(ExitCode::OK)
}

/// `rooftune speculate`
pub fn speculate(a: &SpeculateArgs) -> Result<ExitCode> {
    let sink = Sink::open(&a.out)?;
    if !(0.0..=1.0).contains(&a.acceptance) {
        bail!(UnitError::OutOfRange {
            what: "--acceptance".into(),
            rule: "between 0 and 1".into(),
            value: a.acceptance
        });
    }
    if !(0.0..=10.0).contains(&a.cost) {
        bail!(UnitError::OutOfRange {
            what: "--cost".into(),
            rule: "between 0 and 10 (share of a target step)".into(),
            value: a.cost
        });
    }
    if a.draft_len == 0 || a.draft_len > 64 {
        bail!(UnitError::OutOfRange {
            what: "--draft-len".into(),
            rule: "1 to 64".into(),
            value: a.draft_len as f64
        });
    }
    let p = speculative::SpecParams {
        acceptance: a.acceptance,
        draft_len: a.draft_len,
        cost_ratio: a.cost,
    };
    let s = speculative::speedup(p);
    let e = speculative::tokens_per_cycle(p);
    let (best_len, best) = speculative::best_speedup(a.acceptance, a.cost, 16);
    let needed = match (a.base, a.target) {
        (Some(b), Some(t)) => Some((
            t / b,
            speculative::acceptance_needed(t / b, a.draft_len, a.cost),
        )),
        _ => None,
    };
    let data = json!({
        "params": p, "tokens_per_cycle": e, "speedup": s,
        "best_draft_len": best_len, "best_speedup": best,
        "base_tok_s": a.base, "expected_tok_s": a.base.map(|b| b * s),
        "needed": needed.map(|(x, acc)| json!({"speedup": x, "acceptance": acc})),
    });
    sink.emit_text(&data, || {
        let mut t = String::new();
        t.push_str("speedup = E / (gamma x c + 1), E = (1 - alpha^(gamma+1)) / (1 - alpha)   [Leviathan et al., ICML 2023]\n");
        t.push_str(&format!(
            "alpha {:.2}, gamma {}, c {:.3}: E = {:.2} tokens per cycle, speedup {:.2}x\n",
            a.acceptance, a.draft_len, a.cost, e, s
        ));
        t.push_str(&format!(
            "best draft length up to 16 at this alpha and c: {best_len} ({best:.2}x)\n"
        ));
        if let Some(b) = a.base {
            t.push_str(&format!("{:.1} tok/s plain -> about {:.1} tok/s\n", b, b * s));
        }
        if let Some((x, acc)) = needed {
            t.push_str(&match acc {
                Some(acc) => format!("to reach {:.1}x at gamma {}: acceptance >= {:.2}\n", x, a.draft_len, acc),
                None => format!("{x:.1}x is out of reach at gamma {} and c {:.3}, even if every draft token were accepted\n", a.draft_len, a.cost),
            });
        }
        t
    })?;
    Ok(ExitCode::OK)
}

/// `rooftune published`
pub fn published(out: &crate::cli::OutputArgs) -> Result<ExitCode> {
    let sink = Sink::open(out)?;
    let cat = build::catalog()?;
    let rows = crate::compare::calibration::check_all(&cat)?;
    let fits = crate::compare::calibration::family_bands(&cat);
    let depth = crate::compare::depth::held_out(&crate::compare::depth::rows(&cat)?);
    let depth_summary = crate::compare::depth::summary(&depth);
    let prefill = crate::compare::prefill::held_out(&crate::compare::prefill::rows(&cat)?);
    let prefill_summary = crate::compare::prefill::summary(&prefill);
    let data = {
        let rows: Vec<_> = rows
            .iter()
            .map(|c| {
                let band = row_band(&cat, c);
                json!({
                    "measurement": c.measurement, "family": c.family,
                    "ceiling_tok_s": c.point.ceiling_tok_s, "estimate_tok_s": c.point.estimate_tok_s,
                    "band_tok_s": [c.point.estimate_tok_s * band.low, (c.point.estimate_tok_s * band.high).min(c.point.ceiling_tok_s)],
                    "pct_of_ceiling": c.pct_of_ceiling(),
                })
            })
            .collect();
        json!({
            "rows": rows, "families": fits, "depth_held_out": depth, "depth_summary": depth_summary,
            "prefill_held_out": prefill, "prefill_summary": prefill_summary,
        })
    };
    sink.emit_text(&data, || {
        report::published::text(&rows, fits, |c| row_band(&cat, c))
            + &report::published::depth_text(&depth, &depth_summary)
            + &report::published::prefill_text(&prefill_summary)
    })?;
    Ok(ExitCode::OK)
}
