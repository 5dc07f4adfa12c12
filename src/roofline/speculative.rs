//! Speculative decoding: a cheap drafter proposes `gamma` tokens, the target
//! verifies them in one pass.
//!
//! With per-token acceptance rate alpha, draft length gamma and a draft step
//! costing c of a target step, the expected speedup over plain decode is
//! (Leviathan, Kalman, Matias, "Fast Inference from Transformers via
//! Speculative Decoding", ICML 2023, Theorem 3.8 / eq. 1):
//!
//!   tokens per cycle  E = (1 - alpha^(gamma+1)) / (1 - alpha)
//!   speedup           S = E / (gamma * c + 1)
//!
//! Prompt-lookup decoding drafts from n-grams of the prompt: c is about 0,
//! and alpha is high only on grounded (copying) tasks.

use serde::Serialize;

/// Inputs of the estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpecParams {
    /// Per-token acceptance rate alpha, 0..1.
    pub acceptance: f64,
    /// Draft length gamma.
    pub draft_len: u32,
    /// Draft step cost as a share of a target step.
    pub cost_ratio: f64,
}

/// Expected tokens produced per verification cycle.
pub fn tokens_per_cycle(p: SpecParams) -> f64 {
    let a = p.acceptance.clamp(0.0, 1.0);
    let g = p.draft_len as f64;
    if (1.0 - a).abs() < 1e-12 {
        return g + 1.0;
    }
    (1.0 - a.powf(g + 1.0)) / (1.0 - a)
}

/// Expected wall-time speedup over plain decode.
pub fn speedup(p: SpecParams) -> f64 {
    tokens_per_cycle(p) / (p.draft_len as f64 * p.cost_ratio.max(0.0) + 1.0)
}

/// The largest speedup any draft of up to `max_len` tokens can give at this
/// acceptance and cost, and the draft length that gives it.
pub fn best_speedup(acceptance: f64, cost_ratio: f64, max_len: u32) -> (u32, f64) {
    (1..=max_len.max(1))
        .map(|g| {
            (
                g,
                speedup(SpecParams {
                    acceptance,
                    draft_len: g,
                    cost_ratio,
                }),
            )
        })
        .fold((1, 0.0), |best, x| if x.1 > best.1 { x } else { best })
}

/// Acceptance rate needed for `target` speedup at this draft length and cost
/// (bisection; None if unreachable even at alpha = 1).
pub fn acceptance_needed(target: f64, draft_len: u32, cost_ratio: f64) -> Option<f64> {
    let s = |a| {
        speedup(SpecParams {
            acceptance: a,
            draft_len,
            cost_ratio,
        })
    };
    if s(1.0) < target {
        return None;
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if s(mid) < target {
            lo = mid
        } else {
            hi = mid
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn no_acceptance_costs_the_draft() {
        let p = SpecParams {
            acceptance: 0.0,
            draft_len: 4,
            cost_ratio: 0.1,
        };
        assert_relative_eq!(speedup(p), 1.0 / 1.4);
    }

    #[test]
    fn perfect_free_draft_gives_gamma_plus_one() {
        let p = SpecParams {
            acceptance: 1.0,
            draft_len: 4,
            cost_ratio: 0.0,
        };
        assert_relative_eq!(speedup(p), 5.0);
    }

    #[test]
    fn seed_27b_with_4b_draft_needs_plausible_acceptance() {
        // The seed measured 1.52x with a 4B draft on a 27B target (both Q4): c ~ 4/27.
        let a = acceptance_needed(1.52, 4, 4.0 / 27.0).expect("reachable");
        assert!(a > 0.5 && a < 0.9, "alpha {a}");
        // The 2.7x the 100 tok/s bar demanded is out of reach for that draft at gamma 4
        // unless nearly every token is accepted.
        assert!(acceptance_needed(2.7, 4, 4.0 / 27.0).is_none_or(|a| a > 0.9));
    }
}
