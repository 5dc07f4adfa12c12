//! Probes as bench plans: which requests measure a set of [`Probe`]s on one
//! running server, and which samples of those requests answer each probe.
//!
//! Shared by the tuner's evaluator and a hand-run `bench --log` trial, so
//! both log the same figures for the same probe.

use super::measure::{Kind, Plan, Sample};
use crate::trial::Probe;
use std::collections::BTreeMap;

/// Bench plans that cover a set of probes: one single-stream plan for the
/// prompt lengths and decode depths, one per concurrency level.
pub fn plans(probes: &[Probe], repeats: u32) -> Vec<Plan> {
    let mut prompt_lens: Vec<u64> = probes
        .iter()
        .filter_map(|p| match *p {
            Probe::Prefill { tokens } => Some(tokens),
            Probe::Ttft { depth } => Some(depth.max(1)),
            _ => None,
        })
        .collect();
    prompt_lens.sort_unstable();
    prompt_lens.dedup();
    let mut depths: Vec<u64> = probes
        .iter()
        .filter_map(|p| match *p {
            Probe::Decode { depth, .. } => Some(depth),
            _ => None,
        })
        .collect();
    depths.sort_unstable();
    depths.dedup();
    let n_predict = probes
        .iter()
        .filter_map(|p| match *p {
            Probe::Decode { tokens, .. } => Some(tokens),
            _ => None,
        })
        .max()
        .unwrap_or(2)
        .max(2);
    let mut out = Vec::new();
    let first_len = prompt_lens.first().copied().unwrap_or(32);
    if !depths.is_empty() || !prompt_lens.is_empty() {
        out.push(Plan {
            prompt_tokens: first_len,
            depths,
            n_predict,
            repeats,
            concurrency: 1,
        });
    }
    for &len in prompt_lens.iter().skip(1) {
        out.push(Plan {
            prompt_tokens: len,
            depths: Vec::new(),
            n_predict: 2,
            repeats,
            concurrency: 1,
        });
    }
    for p in probes {
        if let Probe::Aggregate { streams, tokens } = *p {
            out.push(Plan {
                prompt_tokens: 32,
                depths: vec![0],
                n_predict: tokens.max(2),
                repeats,
                concurrency: streams.max(1),
            });
        }
    }
    out
}

/// Per-repeat samples of a probe from the requests of one plan run.
pub fn samples(probe: &Probe, plan: &Plan, reqs: &[Sample]) -> Vec<f64> {
    let single = plan.concurrency == 1;
    match *probe {
        Probe::Decode { depth, .. } if single => reqs
            .iter()
            .filter(|s| s.kind == Kind::Decode && s.depth == depth)
            .filter_map(|s| {
                s.record
                    .server_decode_tok_s()
                    .or_else(|| s.record.client_decode_tok_s())
            })
            .collect(),
        Probe::Prefill { tokens } if single && plan.prompt_tokens == tokens => reqs
            .iter()
            .filter(|s| s.kind == Kind::Prefill)
            // The server's timing where it reports one (llama-server), else
            // the client's: prompt tokens over time to first token (mlx).
            .filter_map(|s| {
                s.record.server_prefill_tok_s().or_else(|| {
                    let t = s.record.first_token_s.filter(|t| *t > 0.0)?;
                    Some(s.record.prompt_tokens()? as f64 / t)
                })
            })
            .collect(),
        Probe::Ttft { depth } if single && plan.prompt_tokens == depth.max(1) => reqs
            .iter()
            .filter(|s| s.kind == Kind::Prefill)
            .filter_map(|s| s.record.first_token_s)
            .collect(),
        Probe::Aggregate { streams, .. } if plan.concurrency == streams.max(1) => {
            let mut by_rep: BTreeMap<u32, Vec<&Sample>> = BTreeMap::new();
            for s in reqs.iter().filter(|s| s.kind == Kind::Decode) {
                by_rep.entry(s.rep).or_default().push(s);
            }
            by_rep
                .values()
                .filter_map(|recs| {
                    let start = recs
                        .iter()
                        .map(|r| r.record.sent_at_s)
                        .fold(f64::INFINITY, f64::min);
                    let end = recs
                        .iter()
                        .map(|r| r.record.sent_at_s + r.record.end_s)
                        .fold(0.0, f64::max);
                    let tokens: u64 = recs.iter().map(|r| r.record.generated_tokens()).sum();
                    (end > start).then(|| tokens as f64 / (end - start))
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_every_probe() {
        let probes = [
            Probe::Decode {
                depth: 0,
                tokens: 16,
            },
            Probe::Decode {
                depth: 512,
                tokens: 32,
            },
            Probe::Prefill { tokens: 256 },
            Probe::Ttft { depth: 1024 },
            Probe::Aggregate {
                streams: 4,
                tokens: 16,
            },
        ];
        let p = plans(&probes, 3);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].depths, vec![0, 512]);
        assert_eq!(p[0].n_predict, 32);
        assert_eq!(p[0].prompt_tokens, 256);
        assert_eq!(p[1].prompt_tokens, 1024);
        assert_eq!(p[2].concurrency, 4);
        assert!(p.iter().all(|x| x.repeats == 3));
    }
}
