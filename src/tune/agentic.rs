//! Which prompt-cache flags matter for an agentic objective, given the
//! model's architecture (the GGUF says whether it has sliding-window or
//! recurrent layers). A replay's time to first token depends on what the
//! server keeps between requests: `-np`/`-kvu` and `--slot-prompt-similarity`
//! (which slot a conversation lands in), `-cram` and `--cache-idle-slots`
//! (host copies of evicted prompts), `-c` (what fits), and per architecture:
//! `--swa-full` and `--ctx-checkpoints` for sliding-window memory,
//! `--ctx-checkpoints` for recurrent memory, `--cache-reuse` only where the
//! cache can shift (not recurrent, not sliding-window without `--swa-full`).

/// The model's memory, as far as prompt reuse is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Some layers attend over a sliding window.
    pub sliding_window: bool,
    /// Some layers are recurrent / linear attention.
    pub recurrent: bool,
}

/// Flags that matter for every architecture.
const ALWAYS: &[&str] = &[
    "-np",
    "-kvu",
    "--slot-prompt-similarity",
    "-cram",
    "--cache-idle-slots",
    "-c",
];

/// The flags that matter for an agentic objective on this memory.
pub fn flags_that_matter(m: Memory) -> Vec<&'static str> {
    let mut f = ALWAYS.to_vec();
    if m.sliding_window {
        f.push("--swa-full");
    }
    if m.sliding_window || m.recurrent {
        f.push("--ctx-checkpoints");
    }
    if !m.recurrent {
        f.push("--cache-reuse");
    }
    f
}

/// Notes on a space for an agentic objective: flags it searches that do
/// nothing on this architecture, and flags that matter it leaves out.
pub fn advice(m: Memory, space: &[String]) -> Vec<String> {
    let matter = flags_that_matter(m);
    let has = |f: &str| space.iter().any(|s| s == f);
    let mut out = Vec::new();
    let kind = match (m.sliding_window, m.recurrent) {
        (true, true) => "sliding-window and recurrent layers",
        (true, false) => "sliding-window layers",
        (false, true) => "recurrent layers",
        (false, false) => "full attention only",
    };
    for f in ["--swa-full", "--ctx-checkpoints", "--cache-reuse"] {
        if has(f) && !matter.contains(&f) {
            out.push(format!(
                "the space searches `{f}`, which does nothing for prompt reuse on this model ({kind})"
            ));
        }
    }
    if has("--cache-reuse") && m.sliding_window && !has("--swa-full") {
        out.push("`--cache-reuse` needs `--swa-full` on a sliding-window model (llama-server disables it otherwise): add `--swa-full` to the space".into());
    }
    let missing: Vec<&str> = matter.iter().copied().filter(|f| !has(f)).collect();
    if !missing.is_empty() {
        out.push(format!(
            "for an agentic objective on this model ({kind}) these flags matter and the space leaves them at their defaults: {}",
            missing.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: &[&str]) -> Vec<String> {
        f.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn swa_models_get_swa_full_and_checkpoints_recurrent_lose_cache_reuse() {
        let swa = Memory {
            sliding_window: true,
            recurrent: false,
        };
        let rec = Memory {
            sliding_window: false,
            recurrent: true,
        };
        let dense = Memory {
            sliding_window: false,
            recurrent: false,
        };
        assert!(flags_that_matter(swa).contains(&"--swa-full"));
        assert!(flags_that_matter(rec).contains(&"--ctx-checkpoints"));
        assert!(!flags_that_matter(rec).contains(&"--cache-reuse"));
        assert!(!flags_that_matter(dense).contains(&"--swa-full"));
        let a = advice(dense, &s(&["--swa-full", "-np"]));
        assert!(a[0].contains("`--swa-full`, which does nothing"), "{a:?}");
        let a = advice(swa, &s(&["--cache-reuse"]));
        assert!(a.iter().any(|l| l.contains("needs `--swa-full`")), "{a:?}");
        let all: Vec<String> = flags_that_matter(swa)
            .iter()
            .map(|f| f.to_string())
            .collect();
        assert!(advice(swa, &all).is_empty());
    }
}
