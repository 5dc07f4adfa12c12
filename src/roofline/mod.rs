//! The roofline engine: pure napkin math, no I/O.
//!
//! Decode is bounded by memory bandwidth (bytes read per token), prefill by
//! compute or by reading the weights once per micro-batch, and a model must
//! fit in memory with its KV cache. [`predict`] gathers all of it for one
//! model on one machine; the submodules hold one concept each.

pub mod bars;
pub mod calibration;
pub mod context;
pub mod decode;
pub mod estimate;
pub mod fit;
pub mod kv;
pub mod machine;
pub mod memory;
pub mod placement;
pub mod prefill;
pub mod speculative;
pub mod split;

use crate::shape::{Group, ModelShape};
use bars::{BarVerdict, WhatItTakes};
use context::ContextVerdict;
use decode::{DecodePoint, EtaBand};
use kv::KvOptions;
use machine::Machine;
use memory::MemoryFit;
use placement::Placement;
use prefill::PrefillPoint;
use serde::Serialize;

/// The question being asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Requested context (`-c`), tokens.
    pub ctx: u64,
    /// Depths at which to show decode (0 is always included).
    pub depths: Vec<u64>,
    /// KV cache options.
    pub kv: KvOptions,
    /// A fixed placement, or None to find the best that fits.
    pub placement: Option<Placement>,
    /// Decode target, tok/s.
    pub target_tok_s: f64,
    /// Estimate band.
    pub band: EtaBand,
    /// Prompt length for the time-to-first-token figure.
    pub prompt_tokens: u64,
    /// Tokens of that prompt already cached.
    pub cached_tokens: u64,
    /// Prefill efficiency for the TTFT estimate (share of the prefill ceiling).
    pub prefill_eff: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            ctx: 8192,
            depths: vec![0],
            kv: KvOptions::default(),
            placement: None,
            target_tok_s: 100.0,
            band: EtaBand::default(),
            prompt_tokens: 8192,
            cached_tokens: 0,
            prefill_eff: 0.5,
        }
    }
}

/// Time to first token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ttft {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Of which cached.
    pub cached_tokens: u64,
    /// Lower bound, seconds (prefill and decode at their ceilings).
    pub ceiling_s: f64,
    /// Estimate, seconds.
    pub estimate_s: f64,
}

/// The verdict at one depth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthBar {
    /// Depth, tokens.
    pub depth: u64,
    /// Verdict.
    pub verdict: BarVerdict,
}

/// Everything predicted for one model on one machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Model name.
    pub model: String,
    /// Quantization label.
    pub quant: String,
    /// Machine label.
    pub machine: String,
    /// Placement used.
    pub placement: Placement,
    /// The placement as llama.cpp flags.
    pub placement_flags: String,
    /// Whether the placement was chosen by rooftune.
    pub placement_auto: bool,
    /// Weights read per token.
    pub active: Group,
    /// All weights.
    pub total: Group,
    /// Decode at each depth.
    pub decode: Vec<DecodePoint>,
    /// Prefill at depth 0 and at the deepest depth.
    pub prefill: Vec<PrefillPoint>,
    /// Time to first token.
    pub ttft: Ttft,
    /// Memory fit.
    pub memory: MemoryFit,
    /// Context verdict.
    pub context: ContextVerdict,
    /// Whether a 1M-token window would be native.
    pub million_native: bool,
    /// Decode target.
    pub target_tok_s: f64,
    /// Bar verdict per depth.
    pub bars: Vec<DepthBar>,
    /// What it would take, at the deepest depth asked.
    pub what_it_takes: WhatItTakes,
}

fn depths(s: &Scenario) -> Vec<u64> {
    let mut d = s.depths.clone();
    d.push(0);
    d.sort_unstable();
    d.dedup();
    d
}

/// Candidate placements, best first when they fit: all on the accelerators,
/// then experts moved to the host layer by layer, then layers moved.
fn candidates(shape: &ModelShape, machine: &Machine) -> Vec<Placement> {
    let mut c = vec![Placement::ALL];
    if machine.host.is_none() || machine.accel.is_empty() {
        return c;
    }
    let n = shape.layers.len() as u32;
    if shape.experts.is_some() {
        c.extend((1..=n).map(|k| Placement {
            n_gpu_layers: None,
            n_cpu_moe: k,
        }));
    }
    c.extend((0..=n).rev().map(|g| Placement {
        n_gpu_layers: Some(g),
        n_cpu_moe: 0,
    }));
    c
}

/// Predict decode, prefill, TTFT, memory fit, context and bars.
pub fn predict(shape: &ModelShape, machine: &Machine, s: &Scenario) -> Prediction {
    let ds = depths(s);
    let deepest = *ds.last().unwrap_or(&0);
    let evaluate = |p: Placement| {
        let a = placement::assign(shape, machine, p);
        let fit = memory::fit(shape, machine, &a, s.ctx, s.kv);
        let d0 = decode::at_depth(shape, machine, &a, 0, s.kv, s.band);
        (p, a, fit, d0)
    };
    let (placement, assignment, fit, _) = match s.placement {
        Some(p) => evaluate(p),
        None => {
            let all: Vec<_> = candidates(shape, machine)
                .into_iter()
                .map(evaluate)
                .collect();
            let best_fit = all
                .iter()
                .filter(|c| c.2.fits())
                .max_by(|x, y| x.3.estimate_tok_s.total_cmp(&y.3.estimate_tok_s))
                .cloned();
            best_fit.unwrap_or_else(|| {
                all.into_iter()
                    .next()
                    .unwrap_or_else(|| evaluate(Placement::ALL))
            })
        }
    };
    let decode: Vec<DecodePoint> = ds
        .iter()
        .map(|&d| decode::at_depth(shape, machine, &assignment, d, s.kv, s.band))
        .collect();
    let ubatch = s.kv.ubatch;
    let prefill = ds
        .iter()
        .filter(|&&d| d == 0 || d == deepest)
        .map(|&d| prefill::at_depth(shape, machine, d, ubatch))
        .collect();
    let step_at = |d: u64| decode::at_depth(shape, machine, &assignment, d, s.kv, s.band);
    let last = step_at(s.prompt_tokens);
    let ttft = Ttft {
        prompt_tokens: s.prompt_tokens,
        cached_tokens: s.cached_tokens,
        ceiling_s: prefill::ttft_s(
            shape,
            machine,
            s.prompt_tokens,
            s.cached_tokens,
            ubatch,
            1.0,
            None,
            1.0 / last.ceiling_tok_s,
        ),
        estimate_s: estimate::ttft_s(shape, machine, s.prompt_tokens, s.cached_tokens, s.kv)
            .unwrap_or_else(|| {
                prefill::ttft_s(
                    shape,
                    machine,
                    s.prompt_tokens,
                    s.cached_tokens,
                    ubatch,
                    s.prefill_eff,
                    s.band.prefill,
                    1.0 / last.estimate_tok_s,
                )
            }),
    };
    let active = shape.active_weights();
    let active_bpw = 8.0 * active.bytes / active.params.max(1.0);
    let deepest_point = decode.last().cloned().unwrap_or_else(|| step_at(0));
    Prediction {
        model: shape.name.clone(),
        quant: shape.quant_label.clone(),
        machine: machine.label(),
        placement,
        placement_flags: placement.flags(),
        placement_auto: s.placement.is_none(),
        active,
        total: shape.total_weights(),
        bars: decode
            .iter()
            .map(|p| DepthBar {
                depth: p.depth,
                verdict: bars::verdict(p, s.target_tok_s),
            })
            .collect(),
        what_it_takes: bars::what_it_takes(&deepest_point, machine, s.target_tok_s, active_bpw),
        decode,
        prefill,
        ttft,
        memory: fit,
        context: context::judge(shape, s.ctx),
        million_native: context::judge(shape, 1_000_000).is_native(),
        target_tok_s: s.target_tok_s,
    }
}
