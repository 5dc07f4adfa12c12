//! The bars a local coding model must clear (seed 004): about 100 tok/s
//! decode, and a native long window. A verdict from the ceiling and from the
//! estimate band, and what it would take to clear the bar.

use super::decode::DecodePoint;
use super::machine::Machine;
use serde::Serialize;

/// Does decode clear the target?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BarVerdict {
    /// Even the ceiling is below the target.
    No,
    /// Only the ceiling clears it; the whole estimate band is below.
    OnlyAtCeiling,
    /// The estimate band straddles the target.
    Uncertain,
    /// The whole estimate band clears it.
    Yes,
}

impl BarVerdict {
    /// A short label for tables.
    pub fn short(self) -> &'static str {
        match self {
            BarVerdict::No => "no",
            BarVerdict::OnlyAtCeiling => "only at ceiling",
            BarVerdict::Uncertain => "uncertain",
            BarVerdict::Yes => "yes",
        }
    }

    /// Words for reports.
    pub fn words(self) -> &'static str {
        match self {
            BarVerdict::No => "no (even the ceiling is below)",
            BarVerdict::OnlyAtCeiling => "only at the ceiling (the realistic estimate is below)",
            BarVerdict::Uncertain => "uncertain (the estimate band straddles it)",
            BarVerdict::Yes => "yes",
        }
    }
}

/// Verdict for one decode point.
pub fn verdict(p: &DecodePoint, target_tok_s: f64) -> BarVerdict {
    if p.ceiling_tok_s < target_tok_s {
        BarVerdict::No
    } else if p.estimate_high_tok_s < target_tok_s {
        BarVerdict::OnlyAtCeiling
    } else if p.estimate_low_tok_s < target_tok_s {
        BarVerdict::Uncertain
    } else {
        BarVerdict::Yes
    }
}

/// What clearing the target would take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatItTakes {
    /// Target, tok/s.
    pub target_tok_s: f64,
    /// Bandwidth of one memory holding every byte read per token whose ceiling
    /// reaches the target at today's bytes per token, GB/s.
    pub bandwidth_for_ceiling_gb_s: f64,
    /// Bandwidth the estimate needs (eta and c applied), GB/s; None if c alone exceeds the time budget.
    pub bandwidth_for_estimate_gb_s: Option<f64>,
    /// Largest active weight bytes per token whose ceiling clears the target here (KV at this depth kept).
    pub max_weight_bytes_ceiling: f64,
    /// Same for the estimate.
    pub max_weight_bytes_estimate: f64,
    /// Those bytes as parameters at this model's active bits per weight, billions.
    pub max_active_params_b_ceiling: f64,
    /// Same for the estimate.
    pub max_active_params_b_estimate: f64,
}

/// What it would take for `p` to reach `target` on `machine` (single-tier view
/// of the primary device), with `active_bpw` bits per active weight.
pub fn what_it_takes(
    p: &DecodePoint,
    machine: &Machine,
    target: f64,
    active_bpw: f64,
) -> WhatItTakes {
    let dev = machine.primary();
    let bw_now = dev.map_or(1.0, |d| d.bandwidth_gb_s);
    let eta = dev.map_or(1.0, |d| d.eta);
    let c = dev.map_or(0.0, |d| d.overhead_s);
    let budget = 1.0 / target;
    let bytes = p.bytes_per_token();
    let bw_est = (budget > c).then(|| bytes / (eta * (budget - c)) / 1e9);
    let max_ceiling = (bw_now * 1e9 * budget - p.kv_bytes).max(0.0);
    let max_est = (eta * bw_now * 1e9 * (budget - c).max(0.0) - p.kv_bytes).max(0.0);
    let to_params = |b: f64| b * 8.0 / active_bpw.max(0.1) / 1e9;
    WhatItTakes {
        target_tok_s: target,
        bandwidth_for_ceiling_gb_s: bytes * target / 1e9,
        bandwidth_for_estimate_gb_s: bw_est,
        max_weight_bytes_ceiling: max_ceiling,
        max_weight_bytes_estimate: max_est,
        max_active_params_b_ceiling: to_params(max_ceiling),
        max_active_params_b_estimate: to_params(max_est),
    }
}
