//! Generated models read back: parameter counts and bytes are what was asked
//! for, MoE active bytes are shared + K/E of experts, the seed fixes the
//! bytes, `--toml` is a valid model spec, huge and split models (sparse files)
//! inspect from headers only, and bad files give one clear line.

use assert_cmd::Command;
use rooftune::catalog::model_spec::ModelSpec;
use rooftune::gguf::synth::{SynthArch, SynthConfig, SynthQuant};
use rooftune::gguf::{GgufFile, GgufModel};
use serde_json::Value as J;
use std::path::Path;

fn rooftune() -> Command {
    Command::cargo_bin("rooftune").unwrap()
}

fn synth(args: &[&str], out: &Path) {
    rooftune()
        .arg("synth")
        .args(args)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

fn inspect_json(p: &Path) -> J {
    let out = rooftune()
        .args(["model", "inspect", "--json"])
        .arg(p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn q8(n: u64) -> u64 {
    n / 32 * 34
}

#[test]
fn dense_model_reports_the_params_and_bytes_asked_for() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("dense.gguf");
    synth(&["--layers", "3", "--hidden", "256", "--ff", "512"], &p);
    let j = inspect_json(&p);
    // hidden 256: 4 heads of 64, 1 kv head; vocab 259 byte-level SPM.
    let (h, v, ff, kv) = (256u64, 259u64, 512u64, 64u64);
    let mats_per_layer = [h * h, h * kv, h * kv, h * h, h * ff, h * ff, ff * h];
    let norms = 1 + 3 * 2;
    let params = 2 * h * v + 3 * mats_per_layer.iter().sum::<u64>() + norms * h;
    let bytes =
        2 * q8(h * v) + 3 * mats_per_layer.iter().map(|&n| q8(n)).sum::<u64>() + 4 * norms * h;
    assert_eq!(j["total"]["params"], params);
    assert_eq!(j["total"]["bytes"], bytes);
    assert_eq!(j["architecture"], "llama");
    assert_eq!(j["hparams"]["ctx_train"], 4096);
    assert_eq!(j["quant_mix"]["q8_0"]["bytes"], bytes - 4 * norms * h);
    // Dense: everything but all-but-one embedding row is read per token.
    let active = bytes - q8(h * v) + q8(h * v) / v;
    assert!((j["active_per_token"]["bytes"].as_u64().unwrap() as i64 - active as i64).abs() <= 1);
}

#[test]
fn moe_active_bytes_are_shared_plus_k_over_e_of_experts() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("moe.gguf");
    synth(
        &[
            "--arch",
            "moe",
            "--layers",
            "2",
            "--hidden",
            "256",
            "--ff",
            "128",
            "--experts",
            "8",
            "--experts-used",
            "2",
        ],
        &p,
    );
    let j = inspect_json(&p);
    let g = &j["groups"];
    let b = |k: &str| g[k]["bytes"].as_u64().unwrap_or(0) as f64;
    let total = j["total"]["bytes"].as_u64().unwrap() as f64;
    let shared = total - b("experts") - b("token_embd");
    let want = shared + b("token_embd") / 259.0 + b("experts") * 2.0 / 8.0;
    let got = j["active_per_token"]["bytes"].as_f64().unwrap();
    assert!((got - want).abs() <= 1.0, "{got} vs {want}");
    assert_eq!(j["experts"]["count"], 8);
    assert_eq!(j["experts"]["used"], 2);
    // Experts: 3 matrices of 256 x 128 x 8 per layer in q8_0, plus an f32 router 256 x 8.
    assert_eq!(
        b("experts") as u64,
        2 * (3 * q8(256 * 128 * 8) + 4 * 256 * 8)
    );
    assert_eq!(j["architecture"], "qwen3moe");
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let d = tempfile::tempdir().unwrap();
    let read = |name: &str, seed: &str, q: &str| {
        let p = d.path().join(name);
        synth(
            &[
                "--layers", "2", "--hidden", "128", "--quant", q, "--seed", seed,
            ],
            &p,
        );
        std::fs::read(&p).unwrap()
    };
    for q in ["f16", "q8_0", "q4_0"] {
        let a = read("a.gguf", "1", q);
        assert_eq!(a, read("b.gguf", "1", q), "{q}");
        assert_ne!(a, read("c.gguf", "2", q), "{q}");
    }
}

#[test]
fn size_flag_lands_near_the_requested_size() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.gguf");
    synth(&["--size", "30MB", "--quant", "q4_0"], &p);
    let len = std::fs::metadata(&p).unwrap().len() as f64;
    assert!((len / 30e6 - 1.0).abs() < 0.1, "{len}");
}

#[test]
fn toml_is_a_valid_model_spec_and_predict_takes_the_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("moe.gguf");
    synth(
        &[
            "--arch", "moe", "--layers", "2", "--hidden", "256", "--ff", "128",
        ],
        &p,
    );
    let out = rooftune()
        .args(["model", "inspect", "--toml"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let spec: ModelSpec = toml::from_str(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    spec.validate().unwrap();
    assert_eq!(spec.llama_arch.as_deref(), Some("qwen3moe"));
    assert_eq!(spec.arch.moe.as_ref().unwrap().experts, 16);
    let j = inspect_json(&p);
    let derived = spec.derived_total_params();
    let exact = j["total"]["params"].as_f64().unwrap();
    assert!((derived / exact - 1.0).abs() < 0.01, "{derived} vs {exact}");

    let out = rooftune()
        .args(["predict", "--hw", "rtx-4090", "--json", "--model"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A big model written as headers plus a hole.
fn big_moe() -> SynthConfig {
    let mut c = SynthConfig::with_hidden(SynthArch::Moe, 4096, 94, SynthQuant::Q8_0);
    c.experts = 128;
    c.experts_used = 8;
    c.ff = 1536;
    c
}

#[test]
fn multi_gb_sparse_model_inspects_from_headers() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.gguf");
    let mut c = SynthConfig::with_hidden(SynthArch::Llama, 4096, 32, SynthQuant::Q8_0);
    c.ff = 14336;
    let size = c.writer().write_sparse(&p).unwrap();
    assert!(size > 7_000_000_000);
    let j = inspect_json(&p);
    assert_eq!(j["total"]["params"], c.params());
    assert_eq!(j["total"]["bytes"], c.weight_bytes());
    assert_eq!(j["file_bytes"], size);
}

#[test]
fn seven_shards_read_as_one_model_from_any_shard() {
    let d = tempfile::tempdir().unwrap();
    let c = big_moe();
    let w = c.writer();
    let mut total = 0;
    for (i, s) in w.split(7).iter().enumerate() {
        total += s
            .write_sparse(&d.path().join(format!("big-{:05}-of-00007.gguf", i + 1)))
            .unwrap();
    }
    assert!(total > 200_000_000_000, "{total}");
    for shard in [1, 4, 7] {
        let m = GgufModel::open(&d.path().join(format!("big-{shard:05}-of-00007.gguf"))).unwrap();
        assert_eq!(m.shards.len(), 7);
        assert_eq!(m.file_bytes(), total);
        assert_eq!(m.tensors().count(), w.tensors.len());
        let (shape, ins) = rooftune::gguf::shape::inspect(&m).unwrap();
        assert_eq!(ins.total.params, c.params());
        assert_eq!(ins.total.bytes, c.weight_bytes());
        assert_eq!(shape.layers.len(), 94);
    }
    std::fs::remove_file(d.path().join("big-00005-of-00007.gguf")).unwrap();
    let e = GgufModel::open(&d.path().join("big-00001-of-00007.gguf"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("shard 5") && e.contains("missing"), "{e}");
}

/// A small valid file as bytes, for corrupting.
fn small_file() -> Vec<u8> {
    let c = SynthConfig::with_hidden(SynthArch::Llama, 64, 1, SynthQuant::Q8_0);
    let w = c.writer();
    let (mut b, _) = w.header();
    b.resize(w.file_size() as usize, 0);
    b
}

fn err(bytes: &[u8]) -> String {
    let e = GgufFile::from_bytes(bytes, Path::new("bad.gguf"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`bad.gguf`") && e.contains("hint:") && !e.contains('\n'),
        "{e}"
    );
    e
}

#[test]
fn bad_files_give_one_clear_line() {
    let good = small_file();
    GgufFile::from_bytes(&good, Path::new("ok.gguf")).unwrap();
    assert!(err(&good[..good.len() - 1]).contains("is truncated: tensor"));
    assert!(err(&good[..100]).contains("truncated"));
    assert!(err(&good[..10]).contains("truncated at byte 10 while reading the tensor count"));
    let mut b = good.clone();
    b[0] = b'X';
    assert!(err(&b).contains("does not start with `GGUF`"));
    let mut b = good.clone();
    b[4] = 9;
    assert!(err(&b).contains("unknown GGUF version 9"));
    let mut b = good.clone();
    b[4..8].copy_from_slice(&3u32.to_be_bytes());
    assert!(err(&b).contains("big-endian"));
    // First key's length (at byte 24) claims 1 TB.
    let mut b = good.clone();
    b[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(err(&b).contains("longer than the rest of the file"));
    // Tensor count claims more infos than the file can hold.
    let mut b = good.clone();
    b[8..16].copy_from_slice(&(1u64 << 50).to_le_bytes());
    assert!(err(&b).contains("tensor infos"));
    // Last tensor's offset points past the end: its offset is the 8 bytes before the header padding.
    let f = GgufFile::from_bytes(&good, Path::new("ok.gguf")).unwrap();
    let last = f.tensors.last().unwrap();
    let pos = find(&good, last.name.as_bytes()) + last.name.len() + 4 + 8 * last.dims.len() + 4;
    let mut b = good.clone();
    b[pos..pos + 8].copy_from_slice(&(1u64 << 30).to_le_bytes());
    assert!(err(&b).contains(&format!("tensor `{}` ends at byte", last.name)));
    assert!(
        err(&b).contains("damaged header"),
        "an absurd offset is a corrupt header, not a short download"
    );
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .rposition(|w| w == needle)
        .unwrap()
}

#[test]
fn cli_error_for_a_bad_file_is_one_line_and_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("trunc.gguf");
    std::fs::write(&p, &small_file()[..50]).unwrap();
    let out = rooftune()
        .args(["model", "inspect"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8(out.stderr).unwrap();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.starts_with("error: model file `") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn a_file_without_a_training_window_is_warned_about() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("noctx.gguf");
    rooftune()
        .args([
            "synth",
            "--layers",
            "1",
            "--hidden",
            "64",
            "--ff",
            "128",
            "--ctx-train",
            "77777",
            "-o",
        ])
        .arg(&p)
        .assert()
        .success();
    // Zero the value of `llama.context_length` (key, u32 type id, then the value).
    let mut b = std::fs::read(&p).unwrap();
    let key = b"llama.context_length";
    let at = find(&b, key) + key.len() + 4;
    let width = if b[at..at + 8] == 77777u64.to_le_bytes() {
        8
    } else {
        4
    };
    b[at..at + width].iter_mut().for_each(|x| *x = 0);
    std::fs::write(&p, &b).unwrap();
    let out = rooftune()
        .args(["model", "inspect"])
        .arg(&p)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    assert!(e.contains("context_length` is 0"), "{e}");
}
