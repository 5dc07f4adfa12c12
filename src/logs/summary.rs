//! The tables: per source (or source and model) the calls' prompt depth and
//! cache share, time to first token and decode rate, the same by input depth,
//! and where the time went between the calls of each session.
//!
//! Definitions (the seed's, made exact):
//! - *median input* is the median of per-call prompt depth (cached included);
//! - *median cached ratio* the median of per-call `cached / input`;
//! - *cached share* `sum(cached) / sum(input)` over the calls;
//! - *decode rate* `output_tokens / (end - first token)`;
//! - quantiles interpolate linearly between ranks (the median of an even
//!   count is the mean of the middle two);
//! - *gaps* run from a response's end to the session's next request; gaps over
//!   [`IDLE_GAP_S`] are counted as idle (the person, not the harness);
//! - a *cache miss* is a call whose cached ratio fell more than
//!   [`MISS_MARGIN`] below its session's median; the wait misses *explain* is,
//!   over those calls, the TTFT above the session's median TTFT of the other
//!   calls.

use super::collect::{Collector, Key, Sample};
use super::record::{depth_bucket, Request, Source, DEPTH_BUCKETS};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// A gap longer than this (seconds) is idle time, not tool or harness time.
pub const IDLE_GAP_S: f64 = 300.0;
/// How far (as a ratio, 0..1) below its session's median cached ratio a call must fall to count as a miss.
pub const MISS_MARGIN: f64 = 0.10;

/// Rows per source, or per source and model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One row per source.
    Source,
    /// One row per source and model (`provider/model` for request logs).
    Model,
}

/// All tables.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// How rows are grouped.
    pub by: GroupBy,
    /// One row per group.
    pub groups: Vec<Group>,
    /// Per group and input-depth bucket.
    pub depth: Vec<DepthRow>,
    /// Where the time went, per group (groups with timestamps only).
    pub time: Vec<TimeRow>,
    /// Where the time went, per session (sessions with timestamps only).
    pub sessions: Vec<SessionTime>,
}

/// One source (or source and model).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The log it came from.
    pub source: Source,
    /// The model, with `--by model`.
    pub model: Option<String>,
    /// Distinct sessions.
    pub sessions: u64,
    /// Model calls.
    pub requests: u64,
    /// Sum of prompt depth, tokens.
    pub input_tokens: u64,
    /// Sum of cached input, tokens.
    pub cached_tokens: u64,
    /// Sum of output, tokens.
    pub output_tokens: u64,
    /// Median per-call prompt depth, tokens.
    pub median_input_tokens: Option<f64>,
    /// Median per-call cached ratio, 0..1.
    pub median_cached_ratio: Option<f64>,
    /// Cached tokens over input tokens, 0..1.
    pub cached_share: Option<f64>,
    /// Calls with a time to first token.
    pub timed_requests: u64,
    /// Median time to first token, s.
    pub ttft_p50_s: Option<f64>,
    /// 90th percentile time to first token, s.
    pub ttft_p90_s: Option<f64>,
    /// Median decode rate, tokens/s.
    pub decode_p50_tok_s: Option<f64>,
    /// 90th percentile decode rate, tokens/s.
    pub decode_p90_tok_s: Option<f64>,
    /// The deepest input bucket with a call.
    pub deepest_bucket: &'static str,
}

/// One group's calls in one input-depth bucket.
#[derive(Debug, Clone, Serialize)]
pub struct DepthRow {
    /// The log it came from.
    pub source: Source,
    /// The model, with `--by model`.
    pub model: Option<String>,
    /// `0-10k`, `10-30k`, `30-60k`, `60-120k`, `120k+`.
    pub bucket: &'static str,
    /// Model calls.
    pub requests: u64,
    /// Median prompt depth, tokens.
    pub median_input_tokens: Option<f64>,
    /// Median cached ratio, 0..1.
    pub median_cached_ratio: Option<f64>,
    /// Calls with a time to first token.
    pub timed_requests: u64,
    /// Median time to first token, s.
    pub ttft_p50_s: Option<f64>,
    /// 90th percentile time to first token, s.
    pub ttft_p90_s: Option<f64>,
    /// Median decode rate, tokens/s.
    pub decode_p50_tok_s: Option<f64>,
}

/// Where the time went, summed over a group's (or one session's) timed calls.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Time {
    /// Calls with a time to first token.
    pub requests: u64,
    /// Waiting for the first token (prefill and queueing), s.
    pub first_token_wait_s: f64,
    /// Decoding (first token to response end), s.
    pub decoding_s: f64,
    /// Response end to the next request, gaps up to [`IDLE_GAP_S`] (tools, harness), s.
    pub gaps_s: f64,
    /// Gaps over [`IDLE_GAP_S`], s.
    pub idle_s: f64,
    /// Calls whose cached ratio fell below the session's usual ([`MISS_MARGIN`]).
    pub miss_requests: u64,
    /// Their time to first token, s.
    pub miss_wait_s: f64,
    /// Their time to first token above the session's median for the other calls, s.
    pub miss_explained_s: f64,
}

impl Time {
    fn add(&mut self, o: &Time) {
        self.requests += o.requests;
        self.first_token_wait_s += o.first_token_wait_s;
        self.decoding_s += o.decoding_s;
        self.gaps_s += o.gaps_s;
        self.idle_s += o.idle_s;
        self.miss_requests += o.miss_requests;
        self.miss_wait_s += o.miss_wait_s;
        self.miss_explained_s += o.miss_explained_s;
    }
}

/// Where a group's time went.
#[derive(Debug, Clone, Serialize)]
pub struct TimeRow {
    /// The log it came from.
    pub source: Source,
    /// The model, with `--by model`.
    pub model: Option<String>,
    /// Sessions with timed calls.
    pub sessions: u64,
    /// The sums.
    #[serde(flatten)]
    pub time: Time,
}

/// Where one session's time went.
#[derive(Debug, Clone, Serialize)]
pub struct SessionTime {
    /// The log it came from.
    pub source: Source,
    /// The model, with `--by model`.
    pub model: Option<String>,
    /// The session id.
    pub session: String,
    /// The session's median cached ratio, 0..1.
    pub median_cached_ratio: Option<f64>,
    /// The sums.
    #[serde(flatten)]
    pub time: Time,
}

/// The `q` quantile (0..=1) of `v`, linear between ranks; sorts `v`.
pub fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// Summarise records (their order does not matter; Claude Code copies are merged).
pub fn summarize(records: &[Request], by: GroupBy) -> Summary {
    let mut c = Collector::new(by, None);
    c.add_file(0, records.to_vec());
    from_collector(&c)
}

/// Summarise what a [`Collector`] gathered.
pub fn from_collector(c: &Collector) -> Summary {
    let mut groups: BTreeMap<&Key, Vec<&Sample>> = BTreeMap::new();
    for r in &c.samples {
        groups
            .entry(&c.groups[usize::from(r.group)])
            .or_default()
            .push(r);
    }
    let mut out = Summary {
        by: c.by(),
        groups: Vec::new(),
        depth: Vec::new(),
        time: Vec::new(),
        sessions: Vec::new(),
    };
    for ((source, model), rs) in groups {
        let source = *source;
        out.groups.push(group_row(source, model, &rs));
        for (b, (label, _)) in DEPTH_BUCKETS.iter().enumerate() {
            let in_b: Vec<&Sample> = rs
                .iter()
                .copied()
                .filter(|r| depth_bucket(u64::from(r.input_tokens)) == b)
                .collect();
            if !in_b.is_empty() {
                out.depth.push(depth_row(source, model, label, &in_b));
            }
        }
        let sessions = session_times(source, model, &rs, &c.sessions);
        if !sessions.is_empty() {
            let mut total = Time::default();
            sessions.iter().for_each(|s| total.add(&s.time));
            out.time.push(TimeRow {
                source,
                model: model.clone(),
                sessions: sessions.len() as u64,
                time: total,
            });
            out.sessions.extend(sessions);
        }
    }
    out
}

struct Stats {
    median_input_tokens: Option<f64>,
    median_cached_ratio: Option<f64>,
    timed: u64,
    ttft_p50_s: Option<f64>,
    ttft_p90_s: Option<f64>,
    decode_p50_tok_s: Option<f64>,
    decode_p90_tok_s: Option<f64>,
}

fn stats(rs: &[&Sample]) -> Stats {
    let mut input: Vec<f64> = rs.iter().map(|r| f64::from(r.input_tokens)).collect();
    let mut ratio: Vec<f64> = rs
        .iter()
        .filter(|r| r.input_tokens > 0)
        .map(|r| r.cached_ratio())
        .collect();
    let mut ttft: Vec<f64> = rs.iter().filter_map(|r| r.ttft_s()).collect();
    let mut rate: Vec<f64> = rs.iter().filter_map(|r| r.decode_tok_s()).collect();
    Stats {
        median_input_tokens: quantile(&mut input, 0.5),
        median_cached_ratio: quantile(&mut ratio, 0.5),
        timed: ttft.len() as u64,
        ttft_p50_s: quantile(&mut ttft, 0.5),
        ttft_p90_s: quantile(&mut ttft, 0.9),
        decode_p50_tok_s: quantile(&mut rate, 0.5),
        decode_p90_tok_s: quantile(&mut rate, 0.9),
    }
}

fn group_row(source: Source, model: &Option<String>, rs: &[&Sample]) -> Group {
    let s = stats(rs);
    let input: u64 = rs.iter().map(|r| u64::from(r.input_tokens)).sum();
    let cached: u64 = rs.iter().map(|r| u64::from(r.cached_tokens)).sum();
    let deepest = rs
        .iter()
        .map(|r| depth_bucket(u64::from(r.input_tokens)))
        .max()
        .unwrap_or(0);
    Group {
        source,
        model: model.clone(),
        sessions: rs.iter().map(|r| r.session).collect::<HashSet<_>>().len() as u64,
        requests: rs.len() as u64,
        input_tokens: input,
        cached_tokens: cached,
        output_tokens: rs.iter().map(|r| u64::from(r.output_tokens)).sum(),
        median_input_tokens: s.median_input_tokens,
        median_cached_ratio: s.median_cached_ratio,
        cached_share: (input > 0).then(|| cached as f64 / input as f64),
        timed_requests: s.timed,
        ttft_p50_s: s.ttft_p50_s,
        ttft_p90_s: s.ttft_p90_s,
        decode_p50_tok_s: s.decode_p50_tok_s,
        decode_p90_tok_s: s.decode_p90_tok_s,
        deepest_bucket: DEPTH_BUCKETS[deepest].0,
    }
}

fn depth_row(
    source: Source,
    model: &Option<String>,
    bucket: &'static str,
    rs: &[&Sample],
) -> DepthRow {
    let s = stats(rs);
    DepthRow {
        source,
        model: model.clone(),
        bucket,
        requests: rs.len() as u64,
        median_input_tokens: s.median_input_tokens,
        median_cached_ratio: s.median_cached_ratio,
        timed_requests: s.timed,
        ttft_p50_s: s.ttft_p50_s,
        ttft_p90_s: s.ttft_p90_s,
        decode_p50_tok_s: s.decode_p50_tok_s,
    }
}

/// Per session with timed calls, in session-id order.
fn session_times(
    source: Source,
    model: &Option<String>,
    rs: &[&Sample],
    names: &[std::sync::Arc<str>],
) -> Vec<SessionTime> {
    let mut by_session: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for r in rs.iter().filter(|r| r.ttft_s().is_some()) {
        let name = names.get(r.session as usize).map_or("", |n| &**n);
        by_session.entry(name).or_default().push(r);
    }
    by_session
        .into_iter()
        .map(|(session, mut calls)| {
            calls.sort_by_key(|r| {
                (
                    r.time_ms().unwrap_or(i64::MAX),
                    r.end_ms().unwrap_or(i64::MAX),
                    r.input_tokens,
                    r.output_tokens,
                )
            });
            let mut ratios: Vec<f64> = calls.iter().map(|r| r.cached_ratio()).collect();
            let usual = quantile(&mut ratios, 0.5);
            SessionTime {
                source,
                model: model.clone(),
                session: session.to_string(),
                median_cached_ratio: usual,
                time: session_time(&calls, usual.unwrap_or(0.0)),
            }
        })
        .collect()
}

/// Where one session's time went; `calls` in request order, all timed.
fn session_time(calls: &[&Sample], usual_ratio: f64) -> Time {
    let mut t = Time::default();
    let is_miss = |r: &Sample| r.cached_ratio() < usual_ratio - MISS_MARGIN;
    let mut hit_ttft: Vec<f64> = calls
        .iter()
        .filter(|r| !is_miss(r))
        .filter_map(|r| r.ttft_s())
        .collect();
    let hit_median = quantile(&mut hit_ttft, 0.5);
    for (i, r) in calls.iter().enumerate() {
        let ttft = r.ttft_s().unwrap_or(0.0);
        t.requests += 1;
        t.first_token_wait_s += ttft;
        t.decoding_s += r.decode_s().unwrap_or(0.0);
        if is_miss(r) {
            t.miss_requests += 1;
            t.miss_wait_s += ttft;
            t.miss_explained_s += hit_median.map_or(0.0, |m| (ttft - m).max(0.0));
        }
        if let Some(next) = calls.get(i + 1) {
            if let (Some(end), Some(start)) = (r.end_ms(), next.time_ms()) {
                let gap_s = (start - end).max(0) as f64 / 1000.0;
                if gap_s > IDLE_GAP_S {
                    t.idle_s += gap_s;
                } else {
                    t.gaps_s += gap_s;
                }
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn call(
        session: &str,
        t_s: i64,
        input: u64,
        cached: u64,
        ttft: f64,
        dec: f64,
        out: u64,
    ) -> Request {
        Request {
            source: Source::Requests,
            session: Arc::from(session),
            model: Arc::from("m"),
            time_ms: Some(t_s * 1000),
            input_tokens: input,
            cached_tokens: cached,
            output_tokens: out,
            ttft_s: Some(ttft),
            decode_s: Some(dec),
            end_ms: Some(t_s * 1000 + ((ttft + dec) * 1000.0) as i64),
            dedupe_key: None,
        }
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&mut [5.0], 0.9), Some(5.0));
        assert_eq!(
            quantile(
                &mut [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0],
                0.9
            ),
            Some(10.0)
        );
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn where_the_time_went_with_one_miss() {
        // Four calls: 10 s apart except one idle hour; the third misses the cache.
        let rs = [
            call("s", 0, 20_000, 19_000, 1.0, 2.0, 100),
            call("s", 10, 21_000, 20_000, 1.0, 2.0, 100),
            call("s", 20, 22_000, 1_000, 5.0, 2.0, 100),
            call("s", 3_630, 23_000, 22_000, 2.0, 2.0, 100),
        ];
        let s = summarize(&rs, GroupBy::Source);
        let t = &s.time[0].time;
        assert_eq!(t.requests, 4);
        assert_eq!(t.first_token_wait_s, 9.0);
        assert_eq!(t.decoding_s, 8.0);
        // gaps: 10-3, 20-13; then 3630-27 = 3603 s idle.
        assert_eq!(t.gaps_s, 14.0);
        assert_eq!(t.idle_s, 3603.0);
        assert_eq!(t.miss_requests, 1);
        assert_eq!(t.miss_wait_s, 5.0);
        assert_eq!(
            t.miss_explained_s, 4.0,
            "5 s against the others' median 1 s"
        );
        let g = &s.groups[0];
        assert_eq!(
            (g.requests, g.sessions, g.input_tokens, g.cached_tokens),
            (4, 1, 86_000, 62_000)
        );
        assert_eq!(g.median_input_tokens, Some(21_500.0));
        assert_eq!(g.decode_p50_tok_s, Some(50.0));
        assert_eq!(g.deepest_bucket, "10-30k");
        assert_eq!(s.depth.len(), 1);
    }

    #[test]
    fn by_model_splits_rows() {
        let mut a = call("s", 0, 5_000, 0, 1.0, 1.0, 2);
        a.model = Arc::from("other");
        let rs = [a, call("s", 10, 50_000, 40_000, 1.0, 1.0, 2)];
        let s = summarize(&rs, GroupBy::Model);
        let models: Vec<_> = s
            .groups
            .iter()
            .map(|g| g.model.clone().unwrap_or_default())
            .collect();
        assert_eq!(models, vec!["m", "other"]);
        assert_eq!(
            s.depth.iter().map(|d| d.bucket).collect::<Vec<_>>(),
            vec!["30-60k", "0-10k"]
        );
    }
}
