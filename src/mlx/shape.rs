//! From an MLX model directory (`config.json` plus safetensors headers) to
//! what the roofline engine needs: the same [`ModelShape`] a GGUF gives,
//! with exact bytes per tensor group, and an inspection report.
//!
//! Tensors are grouped by their Hugging Face names: `embed_tokens`,
//! `lm_head` (absent when tied), attention (`self_attn.*`), dense FFN
//! (`mlp.{gate,up,down}_proj`), routed experts (`experts`, `switch_mlp` and
//! the router `mlp.gate`), shared experts (`shared_expert*`) and norms.
//! A quantized linear layer is three tensors: `weight` (packed into uint32),
//! `scales` and `biases`, all counted in the layer's bytes; its parameters
//! are the packed elements x 32 / bits, with bits and group size from
//! `config.json`'s `quantization` (a per-module entry overrides the global
//! one, as mixed-precision recipes do). So 4-bit with group 64 and 16-bit
//! scales costs 4 + 2 x 16 / 64 = 4.5 bits per weight (`dtype::group`).

use super::safetensors::{self, TensorInfo};
use super::{io, MlxError};
use crate::dtype::group::GroupQuant;
use crate::shape::{CacheKind, Experts, Group, Layer, ModelShape, RopeScaling};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a tensor's bytes count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Token embedding.
    TokenEmbd,
    /// Output head.
    Output,
    /// Final norm and other global tensors.
    Globals,
    /// Attention projections.
    Attention,
    /// Dense FFN.
    FfnDense,
    /// Routed experts and router.
    Experts,
    /// Shared experts.
    SharedExperts,
    /// Norms of a layer.
    Norms,
}

/// What `model inspect DIR` reports for an MLX directory.
#[derive(Debug, Clone, Serialize)]
pub struct MlxInspection {
    /// The directory.
    pub dir: String,
    /// `model_type` of `config.json`.
    pub model_type: String,
    /// Safetensors files read.
    pub files: usize,
    /// Tensors in them.
    pub n_tensors: usize,
    /// Bytes of the safetensors files.
    pub weights_file_bytes: u64,
    /// All weights (scales and biases in the bytes).
    pub total: Group,
    /// Per group.
    pub groups: BTreeMap<Class, Group>,
    /// Bits per weight over all tensors.
    pub bits_per_weight: f64,
    /// Default quantization (`config.json` `quantization`), if quantized.
    pub quantization: Option<GroupQuant>,
    /// Linear layers stored quantized, per (bits, group size).
    pub quantized_layers: BTreeMap<String, usize>,
    /// Tensors stored unquantized, per dtype.
    pub float_tensors: BTreeMap<String, usize>,
    /// Weights read per generated token.
    pub active_per_token: Group,
    /// Decoder layers.
    pub layers: u32,
    /// Hidden size.
    pub hidden: u64,
    /// Vocabulary (rows of the embedding).
    pub vocab: u64,
    /// Attention heads and KV heads.
    pub heads: (u64, u64),
    /// Head dimension.
    pub head_dim: u64,
    /// Routing, for MoE models.
    pub experts: Option<Experts>,
    /// `max_position_embeddings`.
    pub ctx_train: u64,
    /// KV cache bytes per token at 16 bits, all layers.
    pub kv_bytes_per_token_f16: u64,
}

/// The text model's config: `text_config` for multimodal wrappers, else the whole.
fn text_config(v: &Value) -> &Value {
    v.get("text_config").filter(|t| t.is_object()).unwrap_or(v)
}

fn num(c: &Value, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| c.get(*k).and_then(Value::as_u64))
}

/// Read `config.json`.
pub fn read_config(dir: &Path) -> Result<Value, MlxError> {
    let p = dir.join("config.json");
    if !p.is_file() {
        return Err(MlxError::NotAModel {
            path: dir.to_path_buf(),
            what: "has no config.json (not an MLX model directory)".into(),
            hint: "pass the directory mlx_lm.convert or `rooftune synth --format mlx` wrote",
        });
    }
    let text = std::fs::read_to_string(&p).map_err(io(&p))?;
    serde_json::from_str(&text).map_err(|e| MlxError::Malformed {
        path: p.clone(),
        what: format!("is not valid JSON ({e})"),
        hint: "the file may be truncated; download or convert the model again",
    })
}

/// The safetensors files of a directory, sorted.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, MlxError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(MlxError::NotAModel {
            path: dir.to_path_buf(),
            what: "has config.json but no *.safetensors weights".into(),
            hint: "the download may be incomplete",
        });
    }
    Ok(files)
}

/// Quantization of module `m` (`model.layers.0.mlp.down_proj`): a
/// per-module entry of `quantization`, else the global bits and group size.
fn quant_of(q: Option<&Value>, module: &str) -> Option<GroupQuant> {
    let q = q?;
    let read = |v: &Value| {
        Some(GroupQuant::mlx(
            v.get("bits")?.as_u64()? as u32,
            v.get("group_size")?.as_u64()? as u32,
        ))
    };
    match q.get(module) {
        Some(Value::Bool(false)) => None,
        Some(v) if v.is_object() => read(v),
        _ => read(q),
    }
}

fn classify(name: &str, dims: usize) -> (Class, Option<u32>) {
    let name = name.strip_prefix("language_model.").unwrap_or(name);
    let layer = name
        .strip_prefix("model.layers.")
        .and_then(|r| r.split('.').next())
        .and_then(|n| n.parse::<u32>().ok());
    let Some(i) = layer else {
        let class = if name.contains("embed_tokens") {
            Class::TokenEmbd
        } else if name.starts_with("lm_head") {
            Class::Output
        } else {
            Class::Globals
        };
        return (class, None);
    };
    let class = if name.contains("shared_expert") {
        Class::SharedExperts
    } else if name.contains(".experts.")
        || name.contains("switch_mlp")
        || name.contains(".mlp.gate.")
        || name.contains("block_sparse_moe.gate.")
    {
        Class::Experts
    } else if name.contains("norm") || dims == 1 {
        Class::Norms
    } else if name.contains(".mlp.") {
        Class::FfnDense
    } else {
        Class::Attention
    };
    (class, Some(i))
}

/// Derive the engine's shape and the inspection report of an MLX directory.
pub fn inspect(dir: &Path) -> Result<(ModelShape, MlxInspection), MlxError> {
    let config = read_config(dir)?;
    let c = text_config(&config);
    let files = weight_files(dir)?;
    let mut tensors: Vec<TensorInfo> = Vec::new();
    let mut file_bytes = 0;
    for f in &files {
        tensors.extend(safetensors::read_header(f)?);
        file_bytes += std::fs::metadata(f).map_err(io(f))?.len();
    }
    let missing = |what: &str| {
        MlxError::Malformed {
        path: dir.join("config.json"),
        what: format!("has no {what}"),
        hint: "rooftune reads Hugging Face llama-style configs (hidden_size, num_hidden_layers, num_attention_heads)",
    }
    };
    let hidden = num(c, &["hidden_size", "d_model"]).ok_or_else(|| missing("hidden_size"))?;
    let n_layer = num(c, &["num_hidden_layers", "n_layers"])
        .ok_or_else(|| missing("num_hidden_layers"))? as u32;
    let heads = num(c, &["num_attention_heads", "n_heads"])
        .ok_or_else(|| missing("num_attention_heads"))?;
    let kv_heads = num(c, &["num_key_value_heads", "n_kv_heads"]).unwrap_or(heads);
    let head_dim = num(c, &["head_dim"]).unwrap_or(hidden / heads.max(1));
    let quant_cfg = config
        .get("quantization")
        .or_else(|| config.get("quantization_config"));
    let quantization = quant_of(quant_cfg, "");

    let scales: BTreeMap<&str, &TensorInfo> = tensors
        .iter()
        .filter_map(|t| Some((t.name.strip_suffix(".scales")?, t)))
        .collect();
    let mut groups: BTreeMap<Class, Group> = BTreeMap::new();
    let mut per_layer = vec![BTreeMap::<Class, Group>::new(); n_layer as usize];
    let mut quantized_layers = BTreeMap::new();
    let mut float_tensors = BTreeMap::new();
    for t in &tensors {
        let module = t
            .name
            .strip_suffix(".weight")
            .or_else(|| t.name.strip_suffix(".scales"))
            .or_else(|| t.name.strip_suffix(".biases"))
            .unwrap_or(&t.name);
        let quantized = scales.contains_key(module);
        let params = if !quantized {
            *float_tensors.entry(t.dtype.clone()).or_insert(0) += 1;
            t.elements()
        } else if t.name.ends_with(".weight") {
            let q = quant_of(quant_cfg, module).unwrap_or(GroupQuant::mlx(4, 64));
            *quantized_layers
                .entry(format!("{}-bit g{}", q.bits, q.group_size))
                .or_insert(0) += 1;
            t.bytes * 8 / u64::from(q.bits.max(1))
        } else {
            0 // scales and biases: bytes only
        };
        let g = Group {
            params: params as f64,
            bytes: t.bytes as f64,
        };
        let dims = if quantized { 2 } else { t.shape.len() };
        let (class, layer) = classify(&t.name, dims);
        let e = groups.entry(class).or_default();
        *e = e.plus(g);
        if let Some(slot) = layer.and_then(|i| per_layer.get_mut(i as usize)) {
            let e = slot.entry(class).or_default();
            *e = e.plus(g);
        }
    }
    let token_embd = groups.get(&Class::TokenEmbd).copied().unwrap_or_default();
    let tied = !groups.contains_key(&Class::Output);
    let output = if tied {
        token_embd
    } else {
        groups[&Class::Output]
    };
    let vocab = tensors
        .iter()
        .find(|t| classify(&t.name, 2).0 == Class::TokenEmbd && t.name.ends_with(".weight"))
        .and_then(|t| t.shape.first().copied())
        .or_else(|| num(c, &["vocab_size"]))
        .unwrap_or(0);
    let experts = num(c, &["num_local_experts", "num_experts", "n_routed_experts"])
        .zip(num(c, &["num_experts_per_tok", "moe_topk"]))
        .map(|(count, used)| Experts {
            count: count as u32,
            used: used as u32,
        });
    let kv = kv_heads * head_dim;
    let layers: Vec<Layer> = per_layer
        .iter()
        .map(|m| {
            let get = |k: Class| m.get(&k).copied().unwrap_or_default();
            Layer {
                attention: get(Class::Attention),
                ffn_dense: get(Class::FfnDense),
                experts: get(Class::Experts),
                shared_experts: get(Class::SharedExperts),
                norms: get(Class::Norms),
                cache: CacheKind::Full {
                    k_per_token: kv,
                    v_per_token: kv,
                },
                indexer_per_token: 0,
                attn_flops_per_ctx_token: 2.0 * heads as f64 * (2 * head_dim) as f64,
                attn_heads: heads,
                ops: 0,
            }
        })
        .collect();
    let ctx_train = num(c, &["max_position_embeddings", "max_seq_len"]).unwrap_or(0);
    let rope_scaling = c
        .get("rope_scaling")
        .filter(|r| r.is_object())
        .map(|r| RopeScaling {
            kind: r
                .get("rope_type")
                .or_else(|| r.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .into(),
            factor: r.get("factor").and_then(Value::as_f64).unwrap_or(1.0),
            original_ctx: r
                .get("original_max_position_embeddings")
                .and_then(Value::as_u64)
                .unwrap_or(ctx_train),
        });
    let name = dir
        .file_name()
        .map_or_else(|| "mlx model".into(), |n| n.to_string_lossy().to_string());
    let quant_label = match quantization {
        Some(q) => format!("mlx {}-bit g{}", q.bits, q.group_size),
        None => format!(
            "mlx {}",
            float_tensors
                .iter()
                .max_by_key(|(_, n)| **n)
                .map_or("float", |(d, _)| d.as_str())
                .to_lowercase()
        ),
    };
    let shape = ModelShape {
        name,
        quant_label,
        vocab,
        hidden,
        token_embd,
        output,
        tied_embeddings: tied,
        globals: groups.get(&Class::Globals).copied().unwrap_or_default(),
        layers,
        mtp: Group::default(),
        experts,
        ctx_train,
        rope_scaling,
        weight_types: Vec::new(),
    }
    .with_typical_ops();
    if shape.layers.is_empty() || shape.total_weights().bytes <= 0.0 {
        return Err(MlxError::NotAModel {
            path: dir.to_path_buf(),
            what: "has no decoder layers or no weight tensors".into(),
            hint: "check that the safetensors files are the model's weights",
        });
    }
    let total = shape.total_weights();
    let ins = MlxInspection {
        dir: dir.display().to_string(),
        model_type: c
            .get("model_type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .into(),
        files: files.len(),
        n_tensors: tensors.len(),
        weights_file_bytes: file_bytes,
        total,
        groups,
        bits_per_weight: if total.params > 0.0 {
            8.0 * total.bytes / total.params
        } else {
            0.0
        },
        quantization,
        quantized_layers,
        float_tensors,
        active_per_token: shape.active_weights(),
        layers: n_layer,
        hidden,
        vocab,
        heads: (heads, kv_heads),
        head_dim,
        experts,
        ctx_train,
        kv_bytes_per_token_f16: 2 * 2 * kv * u64::from(n_layer),
    };
    Ok((shape, ins))
}

/// The engine's shape of an MLX directory, for `predict --model DIR`.
pub fn model_shape(dir: &Path) -> Result<ModelShape, MlxError> {
    inspect(dir).map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx::safetensors::{write, TensorSpec};
    use approx::assert_relative_eq;

    /// A 4-bit g64 llama-style layout, one layer, one module kept at 8 bits.
    fn quantized_dir(dir: &Path) {
        let (h, ff, v) = (256u64, 512u64, 1000u64);
        let config = serde_json::json!({
            "model_type": "llama", "hidden_size": h, "num_hidden_layers": 1,
            "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": ff,
            "vocab_size": v, "max_position_embeddings": 4096, "tie_word_embeddings": true,
            "quantization": {"group_size": 64, "bits": 4,
                             "model.layers.0.mlp.down_proj": {"group_size": 64, "bits": 8}}
        });
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let mut specs = Vec::new();
        let mut lin = |name: &str, out: u64, inp: u64, bits: u64| {
            let t = |n: String, dtype, shape: Vec<u64>| TensorSpec {
                name: n,
                dtype,
                shape,
            };
            specs.push(t(
                format!("{name}.weight"),
                "U32",
                vec![out, inp * bits / 32],
            ));
            specs.push(t(format!("{name}.scales"), "F16", vec![out, inp / 64]));
            specs.push(t(format!("{name}.biases"), "F16", vec![out, inp / 64]));
        };
        lin("model.embed_tokens", v, h, 4);
        lin("model.layers.0.self_attn.q_proj", h, h, 4);
        lin("model.layers.0.self_attn.k_proj", 128, h, 4);
        lin("model.layers.0.self_attn.v_proj", 128, h, 4);
        lin("model.layers.0.self_attn.o_proj", h, h, 4);
        lin("model.layers.0.mlp.gate_proj", ff, h, 4);
        lin("model.layers.0.mlp.up_proj", ff, h, 4);
        lin("model.layers.0.mlp.down_proj", h, ff, 8);
        for n in [
            "model.norm.weight",
            "model.layers.0.input_layernorm.weight",
            "model.layers.0.post_attention_layernorm.weight",
        ] {
            specs.push(TensorSpec {
                name: n.into(),
                dtype: "F16",
                shape: vec![h],
            });
        }
        write(&dir.join("model.safetensors"), &specs, &[], |s, w| {
            w.write_all(&vec![0; s.bytes() as usize])
        })
        .unwrap();
    }

    #[test]
    fn four_bit_group_64_is_4_5_bits_and_the_mixed_module_8_5() {
        let t = tempfile::tempdir().unwrap();
        quantized_dir(t.path());
        let (s, ins) = inspect(t.path()).unwrap();
        assert_eq!((s.vocab, s.hidden, s.layers.len()), (1000, 256, 1));
        assert!(s.tied_embeddings);
        assert_eq!(ins.quantization, Some(GroupQuant::mlx(4, 64)));
        assert_eq!(ins.quantized_layers.get("8-bit g64"), Some(&1));
        let attn = s.layers[0].attention;
        assert_relative_eq!(attn.params, (256.0 * 256.0) * 2.0 + 128.0 * 256.0 * 2.0);
        assert_relative_eq!(8.0 * attn.bytes / attn.params, 4.5);
        assert_relative_eq!(8.0 * s.token_embd.bytes / s.token_embd.params, 4.5);
        // gate and up at 4.5, down at 8 + 32/64 = 8.5
        let ffn = s.layers[0].ffn_dense;
        let want = (2.0 * 512.0 * 256.0 * 4.5 + 256.0 * 512.0 * 8.5) / 8.0;
        assert_relative_eq!(ffn.bytes, want);
        assert_eq!(s.quant_label, "mlx 4-bit g64");
        assert_eq!(ins.kv_bytes_per_token_f16, 2 * 2 * 128);
    }

    #[test]
    fn a_directory_without_config_is_a_one_line_error() {
        let t = tempfile::tempdir().unwrap();
        let e = inspect(t.path()).unwrap_err().to_string();
        assert!(
            e.contains("has no config.json") && e.contains("hint:"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
        std::fs::write(t.path().join("config.json"), "{\"hidden_size\": 8}").unwrap();
        let e = inspect(t.path()).unwrap_err().to_string();
        assert!(e.contains("no *.safetensors"), "{e}");
    }

    #[test]
    fn a_synthetic_model_reads_back_as_float32() {
        let t = tempfile::tempdir().unwrap();
        let m = crate::mlx::synth::MlxSynth {
            layers: 2,
            hidden: 64,
            ff: 128,
            heads: 4,
            kv_heads: 2,
            vocab: 200,
            ctx_train: 2048,
            seed: 1,
        };
        let w = m.write(t.path()).unwrap();
        let (s, ins) = inspect(t.path()).unwrap();
        assert_relative_eq!(s.total_weights().params, w.params as f64);
        assert_relative_eq!(ins.bits_per_weight, 32.0);
        assert_eq!(s.quant_label, "mlx f32");
        assert_eq!(s.ctx_train, 2048);
    }
}
