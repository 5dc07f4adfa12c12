//! Gathering the calls of every file into compact samples as the files are
//! read: ~48 bytes a call instead of a full [`Request`], so memory grows by
//! the number of calls, not by the size of the logs. Claude Code responses
//! copied across files are merged here (by `message.id` + `requestId`), and
//! calls before `--since` are dropped.

use super::record::{Request, Source};
use super::summary::GroupBy;
use std::collections::HashMap;
use std::sync::Arc;

/// One call, reduced to what the tables need.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Index into the collector's groups.
    pub group: u16,
    /// Index into the collector's sessions.
    pub session: u32,
    /// Prompt depth, tokens.
    pub input_tokens: u32,
    /// Cached input, tokens.
    pub cached_tokens: u32,
    /// Output, tokens.
    pub output_tokens: u32,
    /// Time to first token, µs (`u32::MAX`: not logged).
    ttft_us: u32,
    /// First token to end, µs (`u32::MAX`: not logged).
    decode_us: u32,
    /// Request time, ms since the epoch (`i64::MIN`: not logged).
    time_ms: i64,
    /// Response end, ms since the epoch (`i64::MIN`: not logged).
    end_ms: i64,
}

fn opt_s(us: u32) -> Option<f64> {
    (us != u32::MAX).then(|| f64::from(us) / 1e6)
}

/// Seconds to µs, saturating just below the "not logged" mark (71 minutes).
fn to_us(s: Option<f64>) -> u32 {
    s.map_or(u32::MAX, |s| {
        (s * 1e6).round().clamp(0.0, f64::from(u32::MAX - 1)) as u32
    })
}

fn opt_t(v: i64) -> Option<i64> {
    (v != i64::MIN).then_some(v)
}

impl Sample {
    /// Time to first token, s.
    pub fn ttft_s(&self) -> Option<f64> {
        opt_s(self.ttft_us)
    }
    /// First token to end, s.
    pub fn decode_s(&self) -> Option<f64> {
        opt_s(self.decode_us)
    }
    /// Request time, ms since the epoch.
    pub fn time_ms(&self) -> Option<i64> {
        opt_t(self.time_ms)
    }
    /// Response end, ms since the epoch.
    pub fn end_ms(&self) -> Option<i64> {
        opt_t(self.end_ms)
    }
    /// Cached share of the input, 0..=1 (0 for an empty input).
    pub fn cached_ratio(&self) -> f64 {
        if self.input_tokens == 0 {
            0.0
        } else {
            f64::from(self.cached_tokens) / f64::from(self.input_tokens)
        }
    }
    /// Output tokens per second of decoding.
    pub fn decode_tok_s(&self) -> Option<f64> {
        match self.decode_s() {
            Some(d) if d > 0.0 && self.output_tokens > 1 => Some(f64::from(self.output_tokens) / d),
            _ => None,
        }
    }
}

/// The group key: source, and model with `--by model`.
pub type Key = (Source, Option<String>);

/// Which copy of a Claude Code response is kept.
#[derive(Clone, Copy)]
struct Kept {
    at: usize,
    main: bool,
    total: u64,
    order: (usize, usize),
}

/// Samples of every call read so far.
pub struct Collector {
    by: GroupBy,
    since_ms: Option<i64>,
    /// Group keys, indexed by [`Sample::group`].
    pub groups: Vec<Key>,
    group_ids: HashMap<Key, u16>,
    /// Session ids, indexed by [`Sample::session`].
    pub sessions: Vec<Arc<str>>,
    session_ids: HashMap<Arc<str>, u32>,
    /// The calls.
    pub samples: Vec<Sample>,
    claude: HashMap<u64, Kept>,
    /// Rows merged into a copy of the same response from another file.
    pub merged: u64,
    /// Calls dropped by `--since`.
    pub before_since: u64,
}

impl Collector {
    /// An empty collector; calls stamped before `since_ms` are dropped.
    pub fn new(by: GroupBy, since_ms: Option<i64>) -> Self {
        Collector {
            by,
            since_ms,
            groups: Vec::new(),
            group_ids: HashMap::new(),
            sessions: Vec::new(),
            session_ids: HashMap::new(),
            samples: Vec::new(),
            claude: HashMap::new(),
            merged: 0,
            before_since: 0,
        }
    }

    /// How rows are grouped.
    pub fn by(&self) -> GroupBy {
        self.by
    }

    /// Add one file's calls; `file` is the file's place in the walk (for a
    /// tie-break that does not depend on which thread finished first).
    pub fn add_file(&mut self, file: usize, records: Vec<Request>) {
        for (row, r) in records.into_iter().enumerate() {
            self.add(r, (file, row));
        }
    }

    fn add(&mut self, r: Request, order: (usize, usize)) {
        if let (Some(cutoff), Some(t)) = (self.since_ms, r.time_ms) {
            if t < cutoff {
                self.before_since += 1;
                return;
            }
        }
        let sample = self.sample(&r);
        let Some(key) = r.dedupe_key else {
            self.samples.push(sample);
            return;
        };
        let this = Kept {
            at: self.samples.len(),
            main: r.source != Source::ClaudeSidechain,
            total: r.input_tokens + r.output_tokens,
            order,
        };
        match self.claude.get(&key).copied() {
            None => {
                self.claude.insert(key, this);
                self.samples.push(sample);
            }
            Some(kept) => {
                self.merged += 1;
                // The main-thread copy, then the larger total, then the earlier in the walk.
                if (this.main, this.total, std::cmp::Reverse(this.order))
                    > (kept.main, kept.total, std::cmp::Reverse(kept.order))
                {
                    self.samples[kept.at] = sample;
                    self.claude.insert(
                        key,
                        Kept {
                            at: kept.at,
                            ..this
                        },
                    );
                }
            }
        }
    }

    fn sample(&mut self, r: &Request) -> Sample {
        let model = match self.by {
            GroupBy::Source => None,
            GroupBy::Model => Some(r.model.to_string()),
        };
        let key = (r.source, model);
        let group = match self.group_ids.get(&key) {
            Some(&g) => g,
            None => {
                let g = u16::try_from(self.groups.len()).unwrap_or(u16::MAX);
                self.groups.push(key.clone());
                self.group_ids.insert(key, g);
                g
            }
        };
        let session = match self.session_ids.get(&r.session) {
            Some(&s) => s,
            None => {
                let s = self.sessions.len() as u32;
                self.sessions.push(r.session.clone());
                self.session_ids.insert(r.session.clone(), s);
                s
            }
        };
        let tok = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Sample {
            group,
            session,
            input_tokens: tok(r.input_tokens),
            cached_tokens: tok(r.cached_tokens.min(r.input_tokens)),
            output_tokens: tok(r.output_tokens),
            ttft_us: to_us(r.ttft_s),
            decode_us: to_us(r.decode_s),
            time_ms: r.time_ms.unwrap_or(i64::MIN),
            end_ms: r.end_ms.unwrap_or(i64::MIN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claude(session: &str, side: bool, out: u64, key: u64, t: i64) -> Request {
        Request {
            source: if side {
                Source::ClaudeSidechain
            } else {
                Source::Claude
            },
            session: Arc::from(session),
            model: Arc::from("m"),
            time_ms: Some(t),
            input_tokens: 100,
            cached_tokens: 90,
            output_tokens: out,
            ttft_s: None,
            decode_s: None,
            end_ms: None,
            dedupe_key: Some(key),
        }
    }

    #[test]
    fn copies_across_files_merge_whatever_the_arrival_order() {
        for flip in [false, true] {
            let mut c = Collector::new(GroupBy::Source, None);
            let a = vec![claude("resumed", false, 50, 1, 10)];
            let b = vec![
                claude("original", false, 50, 1, 10),
                claude("original", true, 9, 2, 10),
            ];
            if flip {
                c.add_file(1, b);
                c.add_file(0, a);
            } else {
                c.add_file(0, a);
                c.add_file(1, b);
            }
            assert_eq!((c.samples.len(), c.merged), (2, 1));
            let kept = &c.sessions[c.samples[0].session as usize];
            assert_eq!(
                &**kept, "resumed",
                "the earlier file wins a tie (flip {flip})"
            );
        }
    }

    #[test]
    fn since_drops_earlier_calls_and_keeps_unstamped_ones() {
        let mut c = Collector::new(GroupBy::Source, Some(100));
        let mut r = claude("s", false, 1, 1, 99);
        r.dedupe_key = None;
        let mut later = r.clone();
        later.time_ms = Some(100);
        let mut unstamped = r.clone();
        unstamped.time_ms = None;
        c.add_file(0, vec![r, later, unstamped]);
        assert_eq!((c.samples.len(), c.before_since), (2, 1));
    }
}
