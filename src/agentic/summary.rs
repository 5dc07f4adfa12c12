//! A replay summarised: requests bucketed by input depth (the buckets
//! `logs` uses for agents' usage logs: 0-10k, 10-30k, 30-60k, 60-120k, 120k+)
//! with median and p90 time to first token, median decode rate and the
//! cached share of input; and where the run's wall time went.

use super::replay::{RequestResult, Run};
use crate::logs::record::{depth_bucket, DEPTH_BUCKETS};
use crate::logs::summary::quantile;
use serde::Serialize;

/// One depth bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// `0-10k`.
    pub label: &'static str,
    /// Requests whose prompt falls in it.
    pub requests: usize,
    /// Median time to first token, seconds.
    pub ttft_median_s: Option<f64>,
    /// 90th percentile time to first token, seconds (linear between ranks).
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

/// The median (linear between ranks, as `logs` defines it).
pub fn median(v: &[f64]) -> Option<f64> {
    quantile(
        &mut v
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect::<Vec<_>>(),
        0.5,
    )
}

/// The `q` quantile (0..=1), linear between ranks.
pub fn percentile(v: &[f64], q: f64) -> Option<f64> {
    quantile(
        &mut v
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect::<Vec<_>>(),
        q,
    )
}

/// The summary of some requests under `label`.
fn summarise(label: &'static str, rs: &[&RequestResult]) -> Bucket {
    let ttft: Vec<f64> = rs.iter().filter_map(|r| r.ttft_s).collect();
    let decode: Vec<f64> = rs.iter().filter_map(|r| r.decode_tok_s).collect();
    let prompt: u64 = rs.iter().filter_map(|r| r.prompt_tokens).sum();
    let reused: Option<u64> = rs.iter().map(|r| r.reused_tokens).sum();
    Bucket {
        label,
        requests: rs.len(),
        ttft_median_s: median(&ttft),
        ttft_p90_s: percentile(&ttft, 0.9),
        decode_median_tok_s: median(&decode),
        cached_share: reused
            .filter(|_| prompt > 0)
            .map(|c| c as f64 / prompt as f64),
    }
}

/// All of a run's requests as one bucket (`all`).
pub fn overall(requests: &[RequestResult]) -> Bucket {
    summarise("all", &requests.iter().collect::<Vec<_>>())
}

/// The non-empty depth buckets of a run.
pub fn buckets(requests: &[RequestResult]) -> Vec<Bucket> {
    DEPTH_BUCKETS
        .iter()
        .enumerate()
        .filter_map(|(i, &(label, _))| {
            let rs: Vec<&RequestResult> = requests
                .iter()
                .filter(|r| r.prompt_tokens.is_some_and(|n| depth_bucket(n) == i))
                .collect();
            (!rs.is_empty()).then(|| summarise(label, &rs))
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
    fn median_and_p90_follow_the_logs_definition() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let v: Vec<f64> = (0..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.9), Some(9.0));
        assert_eq!(percentile(&[5.0], 0.9), Some(5.0));
    }
}
