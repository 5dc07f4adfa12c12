//! One normalised model call, whatever log it came from: who made it, which
//! model, when, how many tokens went in (cache-inclusive), how many of those
//! were served from the prompt cache, how many came out, and timings where the
//! log has them. A record never holds prompt or output text.

use serde::Serialize;
use std::sync::Arc;

/// Where a record came from. Claude Code's sidechains (subagents) are kept
/// apart from the main thread so that the two are never mixed in one median.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Codex CLI rollouts (`~/.codex/sessions`).
    Codex,
    /// Claude Code transcripts, main thread.
    Claude,
    /// Claude Code transcripts, sidechains and subagents.
    ClaudeSidechain,
    /// Generic request logs (CSV or JSONL, `docs/request-logs.md`).
    Requests,
}

impl Source {
    /// The label used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            Source::Codex => "codex",
            Source::Claude => "claude",
            Source::ClaudeSidechain => "claude-sidechain",
            Source::Requests => "requests",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One model call.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The log it came from.
    pub source: Source,
    /// Session (thread) id: the log's own, else the file's stem.
    pub session: Arc<str>,
    /// Model (for request logs `provider/model` when a provider is named).
    pub model: Arc<str>,
    /// When the request was sent (request logs) or logged (agents' logs), ms since the Unix epoch.
    pub time_ms: Option<i64>,
    /// Prompt depth: every input token, cached or not.
    pub input_tokens: u64,
    /// Input tokens read from the prompt cache (a subset of `input_tokens`).
    pub cached_tokens: u64,
    /// Output tokens (reasoning included).
    pub output_tokens: u64,
    /// Time to first token (request sent to first streamed delta), seconds.
    pub ttft_s: Option<f64>,
    /// First streamed delta to response end, seconds.
    pub decode_s: Option<f64>,
    /// Response end, ms since the Unix epoch (for the gap to the next request).
    pub end_ms: Option<i64>,
    /// Claude Code's `message.id` + `requestId`, hashed: rows of one response share it.
    pub dedupe_key: Option<u64>,
}

impl Request {
    /// Cached share of this request's input, 0..=1 (0 for an empty input).
    pub fn cached_ratio(&self) -> f64 {
        if self.input_tokens == 0 {
            0.0
        } else {
            self.cached_tokens as f64 / self.input_tokens as f64
        }
    }

    /// Output tokens per second of decoding, where the log has the timestamps.
    pub fn decode_tok_s(&self) -> Option<f64> {
        match self.decode_s {
            Some(d) if d > 0.0 && self.output_tokens > 1 => Some(self.output_tokens as f64 / d),
            _ => None,
        }
    }
}

/// Input depth buckets, the seed's rows: 0-10k, 10-30k, 30-60k, 60-120k, 120k+.
pub const DEPTH_BUCKETS: [(&str, u64); 5] = [
    ("0-10k", 10_000),
    ("10-30k", 30_000),
    ("30-60k", 60_000),
    ("60-120k", 120_000),
    ("120k+", u64::MAX),
];

/// The index into [`DEPTH_BUCKETS`] of an input depth (upper bounds exclusive).
pub fn depth_bucket(input_tokens: u64) -> usize {
    DEPTH_BUCKETS
        .iter()
        .position(|&(_, upper)| input_tokens < upper)
        .unwrap_or(DEPTH_BUCKETS.len() - 1)
}

/// Parse an RFC 3339 timestamp (`2026-01-10T10:00:01.234Z`) to ms since the epoch.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_have_exclusive_upper_bounds() {
        assert_eq!(depth_bucket(0), 0);
        assert_eq!(depth_bucket(9_999), 0);
        assert_eq!(depth_bucket(10_000), 1);
        assert_eq!(depth_bucket(59_999), 2);
        assert_eq!(depth_bucket(119_999), 3);
        assert_eq!(depth_bucket(120_000), 4);
        assert_eq!(depth_bucket(u64::MAX), 4);
    }

    #[test]
    fn times_parse_with_offsets() {
        assert_eq!(parse_time_ms("1970-01-01T00:00:01.500Z"), Some(1500));
        assert_eq!(parse_time_ms("1970-01-01T01:00:01+01:00"), Some(1000));
        assert_eq!(parse_time_ms("yesterday"), None);
    }
}
