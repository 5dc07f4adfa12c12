//! The quality guard: did the speed cost accuracy?
//!
//! Every trial asks the running server for greedy completions of a few fixed
//! prompts with the top-k log-probabilities of each generated token
//! (`/completion` with `n_probs`). Comparing the winner's sample with the
//! defaults' gives top-1 agreement (same token chosen) and a divergence
//! (KL of the defaults' top-k distribution from the winner's). A prompt is
//! compared up to and including the first position where the chosen tokens
//! differ: after it the two runs no longer see the same context.

use super::trial::{QualitySample, TokenStep};
use serde::Serialize;

/// How far one configuration's outputs are from the reference's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Divergence {
    /// Positions compared.
    pub positions: usize,
    /// Share of positions where both chose the same token, 0..=1.
    pub top1_agreement: f64,
    /// Mean KL(reference || candidate) over the reference's top-k, nats.
    pub mean_kl_nats: f64,
    /// Largest KL at one position, nats.
    pub max_kl_nats: f64,
}

/// KL over the reference's top-k tokens; a token missing from the
/// candidate's top-k gets the candidate's smallest listed probability
/// (an optimistic floor, so the figure is a lower bound).
pub fn kl_step(reference: &TokenStep, candidate: &TokenStep) -> f64 {
    let floor = candidate
        .top
        .iter()
        .map(|(_, lp)| *lp)
        .fold(f64::INFINITY, f64::min);
    let floor = if floor.is_finite() { floor } else { -30.0 };
    reference
        .top
        .iter()
        .map(|(id, lp)| {
            let q = candidate
                .top
                .iter()
                .find(|(c, _)| c == id)
                .map_or(floor, |(_, l)| *l);
            lp.exp() * (lp - q)
        })
        .sum::<f64>()
        .max(0.0)
}

/// Compare two quality samples (same prompts, same order).
pub fn compare(reference: &QualitySample, candidate: &QualitySample) -> Option<Divergence> {
    let (mut n, mut agree, mut kl_sum, mut kl_max) = (0usize, 0usize, 0.0, 0.0f64);
    for (r, c) in reference.iter().zip(candidate) {
        for (rs, cs) in r.iter().zip(c) {
            n += 1;
            let kl = kl_step(rs, cs);
            kl_sum += kl;
            kl_max = kl_max.max(kl);
            if rs.id == cs.id {
                agree += 1;
            } else {
                break;
            }
        }
    }
    (n > 0).then(|| Divergence {
        positions: n,
        top1_agreement: agree as f64 / n as f64,
        mean_kl_nats: kl_sum / n as f64,
        max_kl_nats: kl_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn step(id: i64, top: &[(i64, f64)]) -> TokenStep {
        TokenStep {
            id,
            top: top.iter().map(|(i, p)| (*i, p.ln())).collect(),
        }
    }

    #[test]
    fn identical_outputs_agree_fully() {
        let s = vec![vec![step(1, &[(1, 0.7), (2, 0.2)]), step(3, &[(3, 0.9)])]];
        let d = compare(&s, &s).unwrap();
        assert_eq!(d.positions, 2);
        assert_relative_eq!(d.top1_agreement, 1.0);
        assert_relative_eq!(d.mean_kl_nats, 0.0);
    }

    #[test]
    fn divergence_stops_at_the_first_different_token() {
        let a = vec![vec![step(1, &[(1, 0.6), (2, 0.3)]), step(3, &[(3, 0.9)])]];
        let b = vec![vec![step(2, &[(2, 0.6), (1, 0.3)]), step(4, &[(4, 0.9)])]];
        let d = compare(&a, &b).unwrap();
        assert_eq!(d.positions, 1);
        assert_relative_eq!(d.top1_agreement, 0.0);
        let want = 0.6 * (0.6f64 / 0.3).ln() + 0.3 * (0.3f64 / 0.6).ln();
        assert_relative_eq!(d.mean_kl_nats, want, epsilon = 1e-12);
        assert!(compare(&vec![], &vec![]).is_none());
    }
}
