//! Real GGUF files no one here wrote: every `models/ggml-vocab-*.gguf` in the
//! llama.cpp source tree parses, and several match golden dumps made by an
//! independent reader (gguf-py, `scripts/gguf_golden.py`). A synthetic model
//! is checked against its gguf-py dump too, so the writer is verified by a
//! reader that is not ours.

use rooftune::gguf::{GgufModel, Value};
use serde_json::Value as J;
use std::path::{Path, PathBuf};

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

fn golden(name: &str) -> J {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gguf")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn same_json(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        _ => a == b,
    }
}

fn check_against_golden(m: &GgufModel, g: &J) {
    let f = &m.shards[0];
    assert_eq!(f.version as u64, g["version"].as_u64().unwrap());
    assert_eq!(f.tensors.len() as u64, g["n_tensors"].as_u64().unwrap());
    let meta = g["metadata"].as_object().unwrap();
    assert_eq!(
        f.metadata.len(),
        meta.len(),
        "{}: key count",
        m.path.display()
    );
    for (key, want) in meta {
        let v = f.get(key).unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(
            v.value_type().name(),
            want["type"].as_str().unwrap(),
            "{key}"
        );
        match v {
            Value::Array(t, items) => {
                assert_eq!(t.name(), want["elem"].as_str().unwrap(), "{key}");
                assert_eq!(items.len() as u64, want["len"].as_u64().unwrap(), "{key}");
                let head: Vec<J> = items.iter().take(8).map(Value::to_json).collect();
                let tail: Vec<J> = items
                    .iter()
                    .skip(items.len().saturating_sub(2))
                    .map(Value::to_json)
                    .collect();
                assert!(same_json(&J::Array(head), &want["head"]), "{key} head");
                assert!(same_json(&J::Array(tail), &want["tail"]), "{key} tail");
            }
            _ => assert!(
                same_json(&v.to_json(), &want["value"]),
                "{key}: {v:?} vs {}",
                want["value"]
            ),
        }
    }
    for (t, w) in f.tensors.iter().zip(g["tensors"].as_array().unwrap()) {
        assert_eq!(t.name, w["name"].as_str().unwrap());
        // gguf-py's `shape` is ggml order (innermost first), like ours.
        let dims: Vec<u64> = w["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(t.dims, dims, "{}", t.name);
        assert_eq!(t.ggml_type.id() as u64, w["type"].as_u64().unwrap());
        assert_eq!(t.bytes, w["bytes"].as_u64().unwrap(), "{} bytes", t.name);
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
