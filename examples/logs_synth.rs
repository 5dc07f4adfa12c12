//! Writes a synthetic corpus of agent logs for `benches/logs-speed.sh`:
//! Codex CLI rollouts and Claude Code transcripts (half the bytes each) with
//! tool outputs and replies of filler text, repeated token counts and streamed
//! rows as the real ones have, plus one TerminalBench-style request log.
//!
//!     cargo run --release --example logs_synth -- OUT_DIR [SIZE_MB] [SEED]
//!
//! Sessions grow their prompt turn by turn with a ~97-99% cached prefix and
//! an occasional cache miss; request-log TTFT grows with the uncached part.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

const WORDS: &[&str] = &[
    "SECRET",
    "fn",
    "let",
    "the",
    "cache",
    "prefill",
    "token",
    "error:",
    "cargo",
    "test",
    "src/lib.rs",
    "passed",
    "failed",
    "warning",
    "{",
    "}",
    "=>",
    "match",
    "self",
    "impl",
    "struct",
    "line",
    "42",
];

fn filler(rng: &mut SmallRng, size: std::ops::Range<usize>) -> String {
    let bytes = rng.gen_range(size);
    let mut s = String::with_capacity(bytes + 16);
    while s.len() < bytes {
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
        s.push(' ');
    }
    s
}

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// One session's calls: (prompt depth, cached, output).
fn calls(rng: &mut SmallRng) -> Vec<(u64, u64, u64)> {
    let n = rng.gen_range(20..160);
    let mut depth: u64 = rng.gen_range(6_000..16_000);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let cached = if i == 0 || rng.gen_bool(0.04) {
            rng.gen_range(0..depth / 4)
        } else {
            depth - rng.gen_range(200..(depth / 40).max(201))
        };
        let output = rng.gen_range(40..1_500);
        out.push((depth, cached.min(depth), output));
        depth += output + rng.gen_range(300..6_000);
        if depth > 250_000 {
            depth = rng.gen_range(20_000..40_000); // compaction
        }
    }
    out
}

fn codex(dir: &Path, k: u64, rng: &mut SmallRng, start_ms: i64) -> std::io::Result<u64> {
    let id = format!("019b{k:04x}-0000-7000-8000-{k:012x}");
    let day = ts(start_ms);
    let path = dir.join(format!(
        "codex/sessions/{}/{}/{}/rollout-{}-{id}.jsonl",
        &day[0..4],
        &day[5..7],
        &day[8..10],
        &day[0..10]
    ));
    fs::create_dir_all(path.parent().unwrap_or(dir))?;
    let mut w = BufWriter::new(File::create(&path)?);
    let mut t = start_ms;
    writeln!(
        w,
        r#"{{"timestamp":"{}","type":"session_meta","payload":{{"id":"{id}","cwd":"/home/u/p{k}","originator":"codex_cli_rs","cli_version":"0.58.0","source":"cli","model_provider":"openai"}}}}"#,
        ts(t)
    )?;
    writeln!(
        w,
        r#"{{"timestamp":"{}","type":"turn_context","payload":{{"cwd":"/home/u/p{k}","approval_policy":"on-request","model":"gpt-5-codex","effort":"medium"}}}}"#,
        ts(t)
    )?;
    let (mut ti, mut tc, mut to) = (0u64, 0u64, 0u64);
    for (depth, cached, output) in calls(rng) {
        t += rng.gen_range(2_000..40_000);
        let text = filler(rng, 300..9_000);
        writeln!(
            w,
            r#"{{"timestamp":"{}","type":"response_item","payload":{{"type":"function_call_output","call_id":"c","output":"{text}"}}}}"#,
            ts(t)
        )?;
        let text = filler(rng, 100..1_500);
        writeln!(
            w,
            r#"{{"timestamp":"{}","type":"response_item","payload":{{"type":"message","role":"assistant","content":[{{"type":"output_text","text":"{text}"}}]}}}}"#,
            ts(t)
        )?;
        (ti, tc, to) = (ti + depth, tc + cached, to + output);
        let u = |i: u64, c: u64, o: u64| {
            format!(
                r#"{{"input_tokens":{i},"cached_input_tokens":{c},"output_tokens":{o},"reasoning_output_tokens":{},"total_tokens":{}}}"#,
                o / 3,
                i + o
            )
        };
        let line = format!(
            r#"{{"timestamp":"{}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{},"last_token_usage":{},"model_context_window":272000}},"rate_limits":{{"primary":{{"used_percent":12.0,"window_minutes":300}}}}}}}}"#,
            ts(t),
            u(ti, tc, to),
            u(depth, cached, output)
        );
        writeln!(w, "{line}")?;
        if rng.gen_bool(0.3) {
            writeln!(w, "{line}")?; // the repeated event
        }
    }
    w.flush()?;
    Ok(fs::metadata(&path)?.len())
}

fn claude(dir: &Path, k: u64, rng: &mut SmallRng, start_ms: i64) -> std::io::Result<u64> {
    let sid = format!("5f0c{k:04x}-0000-4000-8000-{k:012x}");
    let path = dir.join(format!("claude/projects/-home-u-p{}/{sid}.jsonl", k % 7));
    fs::create_dir_all(path.parent().unwrap_or(dir))?;
    let mut w = BufWriter::new(File::create(&path)?);
    let mut t = start_ms;
    for (n, (depth, cached, output)) in calls(rng).into_iter().enumerate() {
        t += rng.gen_range(2_000..40_000);
        let text = filler(rng, 300..9_000);
        writeln!(
            w,
            r#"{{"parentUuid":"a{n}","isSidechain":false,"userType":"external","cwd":"/home/u/p","sessionId":"{sid}","version":"2.1.5","gitBranch":"main","type":"user","message":{{"role":"user","content":[{{"tool_use_id":"toolu_{n}","type":"tool_result","content":"{text}"}}]}},"uuid":"u{n}","timestamp":"{}"}}"#,
            ts(t)
        )?;
        let creation = (depth - cached).saturating_sub(3);
        let text = filler(rng, 100..1_500);
        let rows = rng.gen_range(1..=3);
        for r in 1..=rows {
            let out = if r == rows { output } else { 1 };
            writeln!(
                w,
                r#"{{"parentUuid":"u{n}","isSidechain":false,"userType":"external","cwd":"/home/u/p","sessionId":"{sid}","version":"2.1.5","gitBranch":"main","message":{{"id":"msg_{k}_{n}","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"{text}"}}],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":3,"cache_creation_input_tokens":{creation},"cache_read_input_tokens":{cached},"cache_creation":{{"ephemeral_5m_input_tokens":{creation},"ephemeral_1h_input_tokens":0}},"output_tokens":{out},"service_tier":"standard"}}}},"requestId":"req_{k}_{n}","type":"assistant","uuid":"a{n}","timestamp":"{}"}}"#,
                ts(t + 1_500)
            )?;
        }
    }
    w.flush()?;
    Ok(fs::metadata(&path)?.len())
}

fn requests(dir: &Path, rng: &mut SmallRng, start_ms: i64) -> std::io::Result<()> {
    let path = dir.join("requests/terminalbench-run.csv");
    fs::create_dir_all(path.parent().unwrap_or(dir))?;
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(w, "task,provider,model,request_time,first_token_time,end_time,input_tokens,cached_tokens,output_tokens")?;
    for task in 0..60 {
        let (prov, model, prefill_tok_s, decode_base) = if task % 3 == 0 {
            ("openai", "gpt-5.5", 40_000.0, 180.0)
        } else {
            ("openrouter", "qwen3.6-27b", 9_000.0, 52.0)
        };
        let mut t = start_ms + task * 3_600_000;
        for (depth, cached, output) in calls(rng) {
            let uncached = (depth - cached) as f64;
            let ttft_s =
                0.5 + uncached / prefill_tok_s + depth as f64 / 90_000.0 + rng.gen_range(0.0..0.3);
            let rate = decode_base * (1.0 - depth as f64 / 600_000.0) * rng.gen_range(0.9..1.1);
            let first = t + (ttft_s * 1000.0) as i64;
            let end = first + (output as f64 / rate * 1000.0) as i64;
            writeln!(
                w,
                "task-{task},{prov},{model},{},{},{},{depth},{cached},{output}",
                ts(t),
                ts(first),
                ts(end)
            )?;
            t = end + rng.gen_range(1_000..20_000);
        }
    }
    w.flush()
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "logs-corpus".into()));
    let mb: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1024);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let mut rng = SmallRng::seed_from_u64(seed);
    let start_ms = 1_767_225_600_000; // 2026-01-01
    let (mut codex_b, mut claude_b, mut k) = (0u64, 0u64, 0u64);
    while codex_b + claude_b < mb * 1_000_000 {
        let t = start_ms + k as i64 * 3_600_000;
        if codex_b <= claude_b {
            codex_b += codex(&dir, k, &mut rng, t)?;
        } else {
            claude_b += claude(&dir, k, &mut rng, t)?;
        }
        k += 1;
    }
    requests(&dir, &mut rng, start_ms)?;
    eprintln!(
        "wrote {k} sessions: codex {:.0} MB, claude {:.0} MB, under {}",
        codex_b as f64 / 1e6,
        claude_b as f64 / 1e6,
        dir.display()
    );
    Ok(())
}
