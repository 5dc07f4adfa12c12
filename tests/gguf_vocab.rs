//! Real GGUF files no one here wrote: every `models/ggml-vocab-*.gguf` in the
//! llama.cpp source tree parses, and several match golden dumps made by an
//! independent reader (gguf-py, `scripts/gguf_golden.py`). A synthetic model
//! is checked against its gguf-py dump too, so the writer is verified by a
//! reader that is not ours.

mod gguf_golden;

use gguf_golden::{check_against_golden, golden};
use rooftune::gguf::GgufModel;
use serde_json::Value as J;
use std::path::PathBuf;

fn models_dir() -> Option<PathBuf> {
    let d = dirs::home_dir()?.join(".cache/rooftune/src/llama.cpp-b11434/models");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!(
            "SKIPPED: llama.cpp source tree not found at {} (run scripts/install-llama-server.sh)",
            d.display()
        );
        None
    }
}

#[test]
fn every_vocab_file_in_the_llama_cpp_tree_parses() {
    let Some(dir) = models_dir() else { return };
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if !(name.starts_with("ggml-vocab-") && name.ends_with(".gguf")) {
            continue;
        }
        let m = GgufModel::open(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (shape, ins) =
            rooftune::gguf::shape::inspect(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!ins.architecture.is_empty(), "{name}");
        let (_, n_tokens) = ins
            .tokenizer
            .clone()
            .unwrap_or_else(|| panic!("{name}: no tokenizer"));
        assert!(n_tokens > 0, "{name}");
        assert_eq!(shape.vocab, n_tokens, "{name}");
        n += 1;
    }
    assert!(n >= 15, "only {n} vocab files found");
}

#[test]
fn vocab_files_match_gguf_py() {
    let Some(dir) = models_dir() else { return };
    for name in [
        "ggml-vocab-qwen2",
        "ggml-vocab-llama-spm",
        "ggml-vocab-gemma-4",
        "ggml-vocab-deepseek-coder",
    ] {
        let m = GgufModel::open(&dir.join(format!("{name}.gguf"))).unwrap();
        check_against_golden(&m, &golden(&format!("{name}.json")));
    }
}

#[test]
fn synthetic_model_matches_gguf_py() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("synth-moe-small.gguf");
    assert_cmd::Command::cargo_bin("rooftune")
        .unwrap()
        .args([
            "synth", "--arch", "moe", "--layers", "2", "--hidden", "256", "--ff", "128",
        ])
        .args(["--experts", "4", "--experts-used", "2", "--seed", "7", "-o"])
        .arg(&p)
        .assert()
        .success();
    let m = GgufModel::open(&p).unwrap();
    let mut g = golden("synth-moe-small.json");
    // The name carries no path; everything else must match byte for byte.
    g["metadata"]["general.name"]["value"] =
        J::String(m.get("general.name").unwrap().as_str().unwrap().into());
    check_against_golden(&m, &g);
}

#[test]
fn qwen2_vocab_fields() {
    let Some(dir) = models_dir() else { return };
    let m = GgufModel::open(&dir.join("ggml-vocab-qwen2.gguf")).unwrap();
    let (_, ins) = rooftune::gguf::shape::inspect(&m).unwrap();
    assert_eq!(ins.architecture, "qwen2");
    assert_eq!(ins.tokenizer, Some(("gpt2".into(), 151936)));
    assert_eq!(ins.n_tensors, 0);
}

#[test]
fn gemma4_vocab_kv_geometry_per_layer() {
    use rooftune::shape::CacheKind;
    let Some(dir) = models_dir() else { return };
    let m = GgufModel::open(&dir.join("ggml-vocab-gemma-4.gguf")).unwrap();
    let (_, ins) = rooftune::gguf::shape::inspect(&m).unwrap();
    // Layer 5 is full attention with 2 kv heads of 512; layer 0 slides (1024) with 8 kv heads of 256.
    assert_eq!(
        ins.cache[5],
        CacheKind::Full {
            k_per_token: 1024,
            v_per_token: 1024
        }
    );
    assert_eq!(
        ins.cache[0],
        CacheKind::Sliding {
            k_per_token: 2048,
            v_per_token: 2048,
            window: 1024
        }
    );
    assert_eq!(ins.hparams.ctx_train, 262144);
}
