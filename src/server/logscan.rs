//! Facts users need from a llama-server startup log.
//!
//! Formats are from llama.cpp b11434 (see `docs/llama-cpp-facts.md` §9): the
//! slot line is printed at the default verbosity, the KV size lines only with
//! `-lv 4`, warnings and errors always. Lines carry a
//! `<time> <I|W|E> ` prefix that the scanner ignores. Unknown lines are
//! skipped, so other builds degrade to fewer facts, not errors.

use serde::Serialize;

/// What the startup log said.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StartupFacts {
    /// Parallel slots (`n_slots`).
    pub n_slots: Option<u64>,
    /// Context each slot may use, tokens (`n_ctx_slot`).
    pub n_ctx_slot: Option<u64>,
    /// Whether the KV cache is shared by all slots.
    pub kv_unified: Option<bool>,
    /// The slot context was capped: (requested, training window), tokens.
    pub ctx_capped: Option<(u64, u64)>,
    /// KV buffer size, MiB (sum of the `KV buffer size` lines).
    pub kv_buffer_mib: Option<f64>,
    /// KV cells allocated (from the `llama_kv_cache: size = ...` line, `-lv 4`).
    pub kv_cells: Option<u64>,
    /// The memory-breakdown table rows, as printed.
    pub memory_breakdown: Vec<String>,
    /// The most telling error line, if any (`error loading model: ...`).
    pub error: Option<String>,
    /// The server could not bind its port.
    pub bind_failed: bool,
    /// The log says the model loaded.
    pub model_loaded: bool,
    /// The log says an allocation failed (weights, KV cache or compute buffers).
    pub alloc_failed: bool,
}

/// Strip `0.00.011.513 I ` style prefixes.
fn body(line: &str) -> &str {
    let t = line.trim();
    let mut parts = t.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(ts), Some(lvl), Some(rest))
            if ts.chars().all(|c| c.is_ascii_digit() || c == '.')
                && matches!(lvl, "I" | "W" | "E" | "D" | "T") =>
        {
            rest
        }
        _ => t,
    }
}

fn num_after<T: std::str::FromStr>(s: &str, key: &str) -> Option<T> {
    let rest = &s[s.find(key)? + key.len()..];
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Scan a whole startup log.
pub fn scan(text: &str) -> StartupFacts {
    let mut f = StartupFacts::default();
    for raw in text.lines() {
        let l = body(raw);
        if l.contains("n_slots = ") && l.contains("n_ctx_slot = ") {
            f.n_slots = num_after(l, "n_slots = ");
            f.n_ctx_slot = num_after(l, "n_ctx_slot = ");
            f.kv_unified = l
                .split("kv_unified = ")
                .nth(1)
                .map(|v| v.trim().trim_matches('\'') == "true");
        } else if l.contains("exceeds the training context of the model") {
            let req = num_after(l, "the slot context (");
            let train = num_after(l, "training context of the model (");
            if let (Some(r), Some(t)) = (req, train) {
                f.ctx_capped = Some((r, t));
            }
        } else if l.contains("KV buffer size =") {
            if let Some(mib) = num_after::<f64>(l, "KV buffer size =") {
                *f.kv_buffer_mib.get_or_insert(0.0) += mib;
            }
        } else if l.starts_with("llama_kv_cache: size =") {
            if let Some(c) = num_after::<u64>(l, "(") {
                *f.kv_cells.get_or_insert(0) += c;
            }
        } else if l.contains("memory breakdown") || l.contains("common_memory_breakdown_print: |") {
            let row = l
                .trim_start_matches("common_memory_breakdown_print:")
                .trim()
                .to_string();
            if !f.memory_breakdown.contains(&row) {
                f.memory_breakdown.push(row);
            }
        } else if l.contains("model loaded") {
            f.model_loaded = true;
        }
        if l.contains("couldn't bind") || l.contains("Address already in use") {
            f.bind_failed = true;
        }
        if l.contains("failed to allocate")
            || l.contains("unable to allocate")
            || l.contains("std::bad_alloc")
            || l.contains("out of memory")
            || l.contains("cudaMalloc failed")
        {
            f.alloc_failed = true;
        }
        // A failed assertion names the cause; the backtrace after it does not.
        let better = |cur: &Option<String>| {
            cur.as_deref()
                .is_none_or(|c| !c.contains("error loading model") && !c.contains("GGML_ASSERT"))
        };
        if (l.contains("error loading model:")
            || l.contains("failed to allocate")
            || l.contains("unable to allocate")
            || l.contains("failed to create context")
            || l.contains("std::bad_alloc")
            || l.contains("invalid argument:")
            || l.contains("couldn't bind")
            || l.contains("GGML_ASSERT"))
            && better(&f.error)
        {
            f.error = Some(l.to_string());
        }
    }
    f
}

/// The last `n` non-empty lines of a log.
pub fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim_end().to_string())
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPPED: &str = "\
0.00.004.466 I srv    load_model: loading model 'tiny-llama.gguf'
0.00.007.875 W llama_context: n_ctx_seq (8192) > n_ctx_train (4096) -- possible training context overflow
0.00.079.943 I llama_kv_cache:        CPU KV buffer size =   244.19 MiB
0.00.216.121 I llama_kv_cache: size =  244.19 MiB (1000192 cells,   2 layers,  4/1 seqs), K (f16):  122.09 MiB, V (f16):  122.09 MiB
0.00.011.278 W srv    load_model: the slot context (8192) exceeds the training context of the model (4096) - capping
0.00.011.513 I srv    load_model: initializing, n_slots = 4, n_ctx_slot = 4096, kv_unified = 'true'
0.00.013.332 I srv  llama_server: model loaded
";

    #[test]
    fn an_assertion_is_the_diagnosis_not_the_backtrace() {
        let log = "0.00.001 I srv    load_model: loading model 'm.gguf'\n/src/llama-context.cpp:42: GGML_ASSERT(n_ctx > 0) failed\n#0  0x00007f ggml_print_backtrace\n#1  0x00007f ggml_abort\n";
        let f = scan(log);
        assert!(
            f.error
                .as_deref()
                .is_some_and(|e| e.contains("GGML_ASSERT(n_ctx > 0) failed")),
            "{f:?}"
        );
    }

    #[test]
    fn slots_cap_and_kv() {
        let f = scan(CAPPED);
        assert_eq!(f.n_slots, Some(4));
        assert_eq!(f.n_ctx_slot, Some(4096));
        assert_eq!(f.kv_unified, Some(true));
        assert_eq!(f.ctx_capped, Some((8192, 4096)));
        assert_eq!(f.kv_buffer_mib, Some(244.19));
        assert_eq!(f.kv_cells, Some(1000192));
        assert!(f.model_loaded);
        assert_eq!(f.error, None);
    }

    #[test]
    fn load_failure() {
        let log = "\
0.00.005.677 E gguf_init_from_file: failed to open GGUF file '/x.gguf' (No such file or directory)
0.00.005.869 E llama_model_load: error loading model: llama_model_loader: failed to load model from /x.gguf
0.00.005.946 E srv    load_model: failed to load model, '/x.gguf'
0.00.006.408 E srv  llama_server: exiting due to model loading error
";
        let f = scan(log);
        assert!(f.error.unwrap().contains("error loading model"));
        assert!(!f.model_loaded);
        assert_eq!(last_lines(log, 2).len(), 2);
        assert!(last_lines(log, 1)[0].contains("exiting"));
    }

    #[test]
    fn unified_false_and_bind() {
        let f = scan("srv    load_model: initializing, n_slots = 3, n_ctx_slot = 512, kv_unified = 'false'\nsrv  llama_server: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080\n");
        assert_eq!(
            (f.n_slots, f.n_ctx_slot, f.kv_unified),
            (Some(3), Some(512), Some(false))
        );
        assert!(f.bind_failed);
    }
}
