//! Golden dumps of GGUF headers made by gguf-py (`scripts/gguf_golden.py`,
//! committed under `tests/data/gguf/`) and the field-by-field comparison
//! with rooftune's reader: version, tensor count, every metadata key's type
//! and value (arrays by length, head and tail), every tensor's name, dims,
//! type and bytes.
#![allow(dead_code)]

use rooftune::gguf::{GgufModel, Value};
use serde_json::Value as J;
use std::path::Path;

pub fn golden(name: &str) -> J {
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

pub fn check_against_golden(m: &GgufModel, g: &J) {
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
