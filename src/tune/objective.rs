//! The objective: what "better" means for a campaign.
//!
//! One or more terms, each a probe with a weight. A configuration's score is
//! the weighted geometric mean of its ratio to a reference configuration
//! (llama-server's defaults, measured first) on each term, with times
//! inverted so that higher is always better. A score of 1.25 reads "25%
//! better than the defaults", whatever the units of the terms, so a mix of
//! decode tok/s and TTFT seconds is well defined.

use super::trial::{Measurements, Probe};
use serde::Serialize;

/// One term of the objective.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Term {
    /// What is measured.
    pub probe: Probe,
    /// Relative weight (> 0).
    pub weight: f64,
}

/// The campaign's objective.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    /// Terms (one for a plain objective).
    pub terms: Vec<Term>,
}

impl Objective {
    /// A one-term objective.
    pub fn single(probe: Probe) -> Objective {
        Objective {
            terms: vec![Term { probe, weight: 1.0 }],
        }
    }

    /// A label such as `decode_tok_s@0` or `mix(0.7 decode_tok_s@0, 0.3 prefill_tok_s@512)`.
    pub fn label(&self) -> String {
        match self.terms.as_slice() {
            [t] => t.probe.key(),
            ts => format!(
                "mix({})",
                ts.iter()
                    .map(|t| format!("{} {}", t.weight, t.probe.key()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Rebuild an objective from its [`Objective::label`] (as a log stores it).
    /// Generated-token counts are not in the label and come back as 0.
    pub fn from_label(label: &str) -> Option<Objective> {
        let probe = |key: &str| -> Option<Probe> {
            let (kind, n) = key.split_once('@')?;
            if kind == "agentic_s" {
                let stat = crate::trial::AgenticStat::ALL
                    .into_iter()
                    .find(|s| s.name() == n)?;
                return Some(Probe::Agentic { stat });
            }
            let n: u64 = n.parse().ok()?;
            Some(match kind {
                "decode_tok_s" => Probe::Decode {
                    depth: n,
                    tokens: 0,
                },
                "prefill_tok_s" => Probe::Prefill { tokens: n },
                "ttft_s" => Probe::Ttft { depth: n },
                "aggregate_tok_s" => Probe::Aggregate {
                    streams: n as u32,
                    tokens: 0,
                },
                _ => return None,
            })
        };
        match label.strip_prefix("mix(").and_then(|r| r.strip_suffix(')')) {
            Some(inner) => {
                let terms = inner
                    .split(", ")
                    .map(|t| {
                        let (w, k) = t.split_once(' ')?;
                        Some(Term {
                            probe: probe(k)?,
                            weight: w.parse().ok()?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Objective { terms })
            }
            None => Some(Objective::single(probe(label)?)),
        }
    }

    /// The probes the objective needs.
    pub fn probes(&self) -> Vec<Probe> {
        self.terms.iter().map(|t| t.probe).collect()
    }

    /// Whether the objective is one term whose value is shown as is.
    pub fn is_single(&self) -> bool {
        self.terms.len() == 1
    }

    /// The objective's own value: the measured mean of a single term (in its
    /// unit), or None for a mix (use the score).
    pub fn value(&self, m: &Measurements) -> Option<f64> {
        match self.terms.as_slice() {
            [t] => m.get(&t.probe.key()).map(|s| s.mean),
            _ => None,
        }
    }

    /// Score against a reference: 1.0 = as good as the reference, higher is better.
    /// None when a term is missing or not positive.
    pub fn score(&self, m: &Measurements, reference: &Measurements) -> Option<f64> {
        let total: f64 = self.terms.iter().map(|t| t.weight).sum();
        if total <= 0.0 {
            return None;
        }
        let mut log_sum = 0.0;
        for t in &self.terms {
            let key = t.probe.key();
            let v = m.get(&key)?.mean;
            let r = reference.get(&key)?.mean;
            if !(v > 0.0 && r > 0.0) {
                return None;
            }
            let ratio = if t.probe.higher_is_better() {
                v / r
            } else {
                r / v
            };
            log_sum += t.weight / total * ratio.ln();
        }
        Some(log_sum.exp())
    }

    /// Log performance of each repeat: the weighted mean of `ln(value)` over
    /// the terms (times negated), so the difference of two configurations'
    /// means is the log of their score ratio. Repeats are matched by index
    /// (every repeat measures every term); a repeat with a value that is not
    /// positive is left out.
    pub fn log_perf(&self, m: &Measurements) -> Vec<f64> {
        let total: f64 = self.terms.iter().map(|t| t.weight).sum();
        let stats: Option<Vec<_>> = self.terms.iter().map(|t| m.get(&t.probe.key())).collect();
        let Some(stats) = stats.filter(|_| total > 0.0) else {
            return Vec::new();
        };
        let n = stats.iter().map(|s| s.samples.len()).min().unwrap_or(0);
        (0..n)
            .filter_map(|k| {
                let mut sum = 0.0;
                for (t, s) in self.terms.iter().zip(&stats) {
                    let v = s.samples[k];
                    if v.is_nan() || v <= 0.0 {
                        return None;
                    }
                    let sign = if t.probe.higher_is_better() {
                        1.0
                    } else {
                        -1.0
                    };
                    sum += t.weight / total * sign * v.ln();
                }
                Some(sum)
            })
            .collect()
    }

    /// Relative noise of a score: the largest noise ([`crate::trial::Stat::noise`]) of its terms.
    pub fn noise(&self, m: &Measurements) -> f64 {
        self.terms
            .iter()
            .filter_map(|t| m.get(&t.probe.key()))
            .map(|s| s.noise())
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::trial::Stat;
    use approx::assert_relative_eq;

    fn m(pairs: &[(&str, f64)]) -> Measurements {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Stat::of(&[*v])))
            .collect()
    }

    #[test]
    fn single_score_is_a_ratio() {
        let o = Objective::single(Probe::Decode {
            depth: 0,
            tokens: 32,
        });
        let s = o
            .score(
                &m(&[("decode_tok_s@0", 12.0)]),
                &m(&[("decode_tok_s@0", 10.0)]),
            )
            .unwrap();
        assert_relative_eq!(s, 1.2);
        assert_eq!(o.value(&m(&[("decode_tok_s@0", 12.0)])), Some(12.0));
        assert!(o.score(&m(&[]), &m(&[("decode_tok_s@0", 10.0)])).is_none());
    }

    #[test]
    fn times_are_inverted_and_mixes_are_geometric() {
        let o = Objective {
            terms: vec![
                Term {
                    probe: Probe::Ttft { depth: 512 },
                    weight: 1.0,
                },
                Term {
                    probe: Probe::Prefill { tokens: 512 },
                    weight: 1.0,
                },
            ],
        };
        let reference = m(&[("ttft_s@512", 2.0), ("prefill_tok_s@512", 100.0)]);
        let better = m(&[("ttft_s@512", 1.0), ("prefill_tok_s@512", 200.0)]);
        assert_relative_eq!(o.score(&better, &reference).unwrap(), 2.0);
        assert!(o.label().starts_with("mix("));
        assert_eq!(
            Objective::from_label(&o.label()).unwrap().label(),
            o.label()
        );
        assert_eq!(
            Objective::from_label("decode_tok_s@512").unwrap().label(),
            "decode_tok_s@512"
        );
        assert!(Objective::from_label("speed").is_none());
        assert_eq!(o.value(&better), None);
        // Log performance per repeat: the score's log, term by term.
        let lp = o.log_perf(&better)[0] - o.log_perf(&reference)[0];
        assert_relative_eq!(lp, 2f64.ln(), epsilon = 1e-12);
        assert!(o.log_perf(&m(&[("ttft_s@512", 1.0)])).is_empty());
    }
}
