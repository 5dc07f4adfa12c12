//! Ceilings for what was measured, and each measurement as a share of its
//! ceiling: the one definition every command, log line and JSON result uses.
//!
//! Rates (tok/s) have a ceiling. A rate above its ceiling is flagged
//! ([`VsCeiling::above_ceiling`]) and gets no percentage: the roofline is an
//! upper bound, so such a figure says the profile (bandwidth, FLOP/s) or the
//! model's shape is wrong.

use crate::bench::result::{BenchReport, Ceilings};
use crate::roofline::decode::{self, EtaBand};
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::Machine;
use crate::roofline::placement::{self, Placement};
use crate::roofline::prefill;
use crate::shape::ModelShape;
use crate::trial::{Probe, VsCeiling};
use std::collections::BTreeMap;

/// What a report says of a measurement above its ceiling.
pub const ABOVE_CEILING: &str = "above ceiling: wrong profile? (try `rooftune hw probe`)";

/// Relative slack for rounding before a rate counts as above its ceiling.
const SLACK: f64 = 1e-9;

/// `measured` as a percentage of `ceiling` (both rates), or None when either
/// is not a positive finite number or the measurement is above the ceiling.
pub fn pct_of_ceiling(measured: f64, ceiling: f64) -> Option<f64> {
    let valid = measured.is_finite() && ceiling.is_finite() && ceiling > 0.0 && measured >= 0.0;
    (valid && !above(measured, ceiling)).then(|| 100.0 * measured / ceiling)
}

/// True when a rate is above its ceiling.
pub fn above(measured: f64, ceiling: f64) -> bool {
    measured.is_finite() && ceiling > 0.0 && measured > ceiling * (1.0 + SLACK)
}

/// A rate next to its ceiling.
pub fn versus(measured: f64, ceiling: f64) -> VsCeiling {
    VsCeiling {
        ceiling,
        pct_of_ceiling: pct_of_ceiling(measured, ceiling),
        above_ceiling: above(measured, ceiling),
    }
}

/// The table cell for a rate against its ceiling: `72%`, the above-ceiling
/// warning, or `-` when there is no ceiling.
pub fn cell(v: Option<&VsCeiling>) -> String {
    match v {
        Some(v) if v.above_ceiling => ABOVE_CEILING.into(),
        Some(VsCeiling {
            pct_of_ceiling: Some(p),
            ..
        }) => format!("{p:.0}%"),
        _ => "-".into(),
    }
}

/// Decode ceiling at `depth` with every layer on the fastest tier.
pub fn decode_tok_s(shape: &ModelShape, machine: &Machine, depth: u64) -> f64 {
    let a = placement::assign(shape, machine, Placement::ALL);
    decode::at_depth(
        shape,
        machine,
        &a,
        depth,
        KvOptions::default(),
        EtaBand::default(),
    )
    .ceiling_tok_s
}

/// Prefill ceiling at depth 0 with the default micro-batch.
pub fn prefill_tok_s(shape: &ModelShape, machine: &Machine) -> f64 {
    prefill::at_depth(shape, machine, 0, KvOptions::default().ubatch).ceiling_tok_s
}

/// Ceilings (tok/s) for the single-stream rate probes, by probe key.
///
/// A prefill ceiling needs a peak-FLOP/s figure that is an upper bound: a
/// datasheet value is one, a probe's naive matmul is not (it can be 20x below
/// llama.cpp's kernels), so `compute_is_a_roof` says which the machine holds.
pub fn for_probes(
    shape: &ModelShape,
    machine: &Machine,
    probes: &[Probe],
    compute_is_a_roof: bool,
) -> BTreeMap<String, f64> {
    probes
        .iter()
        .filter_map(|p| {
            let v = match *p {
                Probe::Decode { depth, .. } => decode_tok_s(shape, machine, depth),
                Probe::Prefill { .. } if compute_is_a_roof => prefill_tok_s(shape, machine),
                _ => return None,
            };
            v.is_finite().then(|| (p.key(), v))
        })
        .collect()
}

/// Ceilings for a `bench` run at its decode depths.
pub fn for_bench(shape: &ModelShape, machine: &Machine, source: &str, depths: &[u64]) -> Ceilings {
    let ubatch = KvOptions::default().ubatch;
    let pre = prefill::at_depth(shape, machine, 0, ubatch);
    let dev = machine.primary();
    Ceilings {
        flops_per_token: pre.flops_per_token,
        bandwidth_gb_s: dev.map_or(f64::NAN, |d| d.bandwidth_gb_s),
        peak_flops: dev.map_or(f64::NAN, |d| d.flops),
        ubatch,
        hardware: machine.label(),
        source: source.into(),
        decode_tok_s: depths
            .iter()
            .map(|&d| (d, decode_tok_s(shape, machine, d)))
            .collect(),
        prefill_tok_s: prefill_tok_s(shape, machine),
        bytes_per_token: shape.active_weights().bytes,
    }
}

/// Put each measurement of a bench report next to its ceiling (the server's
/// median rate where it reports one, else the client's).
pub fn annotate_bench(r: &mut BenchReport) {
    let Some(c) = r.ceilings.clone() else {
        return;
    };
    let p = &mut r.measurement.prefill;
    let rate = p.server_tok_s.as_ref().or(p.client_tok_s.as_ref());
    p.vs_ceiling = rate.map(|s| versus(s.median, c.prefill_tok_s));
    for d in &mut r.measurement.decode {
        let rate = d.server_tok_s.as_ref().or(d.client_tok_s.as_ref());
        d.vs_ceiling = match (rate, c.decode_at(d.depth)) {
            (Some(s), Some(ceil)) => Some(versus(s.median, ceil)),
            _ => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ceiling_is_never_beaten() {
        assert_eq!(pct_of_ceiling(50.0, 100.0), Some(50.0));
        assert_eq!(pct_of_ceiling(100.0, 100.0), Some(100.0));
        assert_eq!(pct_of_ceiling(140.0, 100.0), None);
        assert!(versus(140.0, 100.0).above_ceiling);
        assert!(!versus(99.0, 100.0).above_ceiling);
        assert_eq!(pct_of_ceiling(5.0, 0.0), None);
        assert_eq!(pct_of_ceiling(f64::NAN, 10.0), None);
        assert_eq!(cell(Some(&versus(140.0, 100.0))), ABOVE_CEILING);
        assert_eq!(cell(Some(&versus(72.4, 100.0))), "72%");
        assert_eq!(cell(None), "-");
    }
}
