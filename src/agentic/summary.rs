//! A replay summarised: requests bucketed by input depth (the buckets of
//! the seed's TerminalBench tables: 0-10k, 10-30k, 30-60k, 60-120k, 120k+)
//! with median and p90 time to first token, median decode rate and the
//! cached share of input; and where the run's wall time went.

use super::replay::{RequestResult, Run};
use serde::Serialize;

/// Bucket bounds, tokens: `[lo, hi)`, the last open.
pub const BUCKETS: [(u64, u64, &str); 5] = [
    (0, 10_000, "0-10k"),
    (10_000, 30_000, "10-30k"),
    (30_000, 60_000, "30-60k"),
    (60_000, 120_000, "60-120k"),
    (120_000, u64::MAX, "120k+"),
];

/// One depth bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// `0-10k`.
    pub label: &'static str,
    /// Requests whose prompt falls in it.
    pub requests: usize,
    /// Median time to first token, seconds.
    pub ttft_median_s: Option<f64>,
    /// 90th percentile (nearest rank) time to first token, seconds.
    pub ttft_p90_s: Option<f64>,
    /// Median decode rate, tok/s.
    pub decode_median_tok_s: Option<f64>,
    /// Reused tokens over prompt tokens, summed over the bucket.
    pub cached_share: Option<f64>,
}

/// Where a run's wall time went, seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WallSplit {
    /// The whole run.
    pub total_s: f64,
    /// Waiting for first tokens (sum of TTFT).
    pub first_token_s: f64,
    /// From first token to the end of each request.
    pub decoding_s: f64,
    /// Between requests (recorded gaps kept, rendering, client work).
    pub between_s: f64,
}

/// The median of `v` (None when empty).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// The nearest-rank percentile `p` (0..100) of `v`.
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    Some(s[rank.min(s.len()) - 1])
}

/// The non-empty depth buckets of a run.
pub fn buckets(requests: &[RequestResult]) -> Vec<Bucket> {
    BUCKETS
        .iter()
        .filter_map(|&(lo, hi, label)| {
            let rs: Vec<&RequestResult> = requests
                .iter()
                .filter(|r| r.prompt_tokens.is_some_and(|n| n >= lo && n < hi))
                .collect();
            if rs.is_empty() {
                return None;
            }
            let ttft: Vec<f64> = rs.iter().filter_map(|r| r.ttft_s).collect();
            let decode: Vec<f64> = rs.iter().filter_map(|r| r.decode_tok_s).collect();
            let prompt: u64 = rs.iter().filter_map(|r| r.prompt_tokens).sum();
            let reused: Option<u64> = rs.iter().map(|r| r.reused_tokens).sum();
            Some(Bucket {
                label,
                requests: rs.len(),
                ttft_median_s: median(&ttft),
                ttft_p90_s: percentile(&ttft, 90.0),
                decode_median_tok_s: median(&decode),
                cached_share: reused
                    .filter(|_| prompt > 0)
                    .map(|c| c as f64 / prompt as f64),
            })
        })
        .collect()
}

/// Where the run's wall time went.
pub fn wall_split(run: &Run) -> WallSplit {
    let first: f64 = run.requests.iter().filter_map(|r| r.ttft_s).sum();
    let busy: f64 = run.requests.iter().map(|r| r.wall_s).sum();
    WallSplit {
        total_s: run.wall_s,
        first_token_s: first,
        decoding_s: (busy - first).max(0.0),
        between_s: (run.wall_s - busy).max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_nearest_rank_p90() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 90.0), Some(9.0));
        assert_eq!(percentile(&[5.0], 90.0), Some(5.0));
    }
}
