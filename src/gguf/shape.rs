//! From a GGUF file's metadata and tensor infos to what the roofline engine
//! needs: a [`ModelShape`] with exact bytes per tensor group, layer by layer,
//! each layer's cache geometry, and a catalog [`ModelSpec`] for `--toml`.
//!
//! Tensors are grouped by name (llama.cpp's `LLM_TENSOR_NAMES`): `token_embd`,
//! `output`, attention (incl. MLA `attn_q_a/q_b/kv_a_mqa/kv_b`, DSA indexer,
//! `ssm_*` and other linear-attention mixers), dense `ffn_gate/up/down`,
//! routed experts `ffn_*_exps` plus the router `ffn_gate_inp`, shared experts
//! `ffn_*_shexp`, and norms (`*norm*` and other 1-D tensors). Blocks at or past
//! `block_count - nextn_predict_layers` are multi-token-prediction layers that
//! llama.cpp does not read at decode. Cache rules follow
//! `docs/llama-cpp-facts.md` sections 1-5 and 8.

use super::reader::GgufModel;
use super::value::Value;
use super::GgufError;
use crate::catalog::model_spec::{self, ModelSpec};
use crate::catalog::sourced::Sourced;
use crate::dtype::ggml::GgmlType;
use crate::shape::{
    layer_ops, CacheKind, Experts, Group, Layer, ModelShape, RopeScaling, TypedWeights,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a tensor's bytes count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorClass {
    /// `token_embd` (one row read per token).
    TokenEmbd,
    /// `output` head.
    Output,
    /// Global small tensors (`output_norm`, `rope_freqs`, ...).
    Globals,
    /// Attention / linear-attention mixing.
    Attention,
    /// Dense FFN.
    FfnDense,
    /// Routed experts and their router.
    Experts,
    /// Shared experts.
    SharedExperts,
    /// Norms and other 1-D tensors of a layer.
    Norms,
    /// Multi-token-prediction layers (not read at decode).
    Mtp,
}

impl TensorClass {
    /// Display name.
    pub fn label(self) -> &'static str {
        match self {
            TensorClass::TokenEmbd => "token embedding",
            TensorClass::Output => "output head",
            TensorClass::Globals => "global norms",
            TensorClass::Attention => "attention",
            TensorClass::FfnDense => "dense FFN",
            TensorClass::Experts => "routed experts",
            TensorClass::SharedExperts => "shared experts",
            TensorClass::Norms => "norms",
            TensorClass::Mtp => "MTP (not read)",
        }
    }
}

/// The block index of a `blk.N.` tensor.
pub fn block_of(name: &str) -> Option<u32> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

/// A block tensor's name within its block: `attn_q` of `blk.3.attn_q.weight`.
fn base_name(name: &str) -> &str {
    let part = name.splitn(3, '.').nth(2).unwrap_or("");
    part.split('.').next().unwrap_or("")
}

/// Classify a tensor by name; `n_layer` is the number of decode layers.
pub fn classify(name: &str, dims: &[u64], n_layer: u32) -> TensorClass {
    let Some(b) = block_of(name) else {
        return if name.starts_with("token_embd.") {
            TensorClass::TokenEmbd
        } else if name.starts_with("output.") {
            TensorClass::Output
        } else {
            TensorClass::Globals
        };
    };
    if b >= n_layer {
        return TensorClass::Mtp;
    }
    let base = base_name(name);
    if base.contains("shexp") {
        TensorClass::SharedExperts
    } else if base.contains("_exps")
        || base.starts_with("ffn_gate_inp")
        || base.starts_with("exp_probs")
    {
        TensorClass::Experts
    } else if base.contains("norm") || dims.len() == 1 {
        TensorClass::Norms
    } else if matches!(base, "ffn_gate" | "ffn_up" | "ffn_down" | "ffn_gate_up") {
        TensorClass::FfnDense
    } else {
        TensorClass::Attention
    }
}

/// What a layer's tensor costs its graph: 0 a weight matrix (one matrix
/// product), 1 a norm's weights (normalize, then scale), 2 another vector
/// (a bias or scale: one add or multiply).
fn tensor_kind(name: &str, dims: &[u64]) -> usize {
    let base = base_name(name);
    if dims.iter().filter(|&&d| d > 1).count() >= 2 {
        0
    } else if base.contains("norm") && name.ends_with(".weight") {
        1
    } else {
        2
    }
}

/// Hyperparameters read from metadata, per layer where llama.cpp allows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hparams {
    /// `general.architecture`.
    pub arch: String,
    /// `block_count` (trunk + MTP).
    pub n_layer_all: u32,
    /// `nextn_predict_layers`.
    pub n_nextn: u32,
    /// `embedding_length`.
    pub n_embd: u64,
    /// Rows of the embedding table (or tokenizer size).
    pub n_vocab: u64,
    /// `attention.head_count` per layer.
    pub n_head: Vec<u64>,
    /// `attention.head_count_kv` per layer (0 = no attention in that layer).
    pub n_head_kv: Vec<u64>,
    /// `attention.key_length`.
    pub key_length: u64,
    /// `attention.value_length`.
    pub value_length: u64,
    /// `attention.key_length_swa` (sliding layers; default key_length).
    pub key_length_swa: u64,
    /// `attention.value_length_swa` (sliding layers; default value_length).
    pub value_length_swa: u64,
    /// `attention.sliding_window` (0 = none).
    pub n_swa: u64,
    /// Which layers slide.
    pub swa_layers: Vec<bool>,
    /// Which layers are recurrent / linear attention.
    pub recurrent_layers: Vec<bool>,
    /// f32 state bytes per recurrent layer per sequence.
    pub recurrent_state_bytes: u64,
    /// MLA `kv_lora_rank + rope dim` when the file is MLA.
    pub mla_per_token: Option<u64>,
    /// DSA indexer key length per layer (0 = none).
    pub indexer: Vec<u64>,
    /// Last layers that own no KV (`attention.shared_kv_layers`).
    pub shared_kv_layers: u32,
    /// Routing.
    pub experts: Option<Experts>,
    /// `context_length`.
    pub ctx_train: u64,
    /// RoPE scaling keys.
    pub rope_scaling: Option<RopeScaling>,
}

impl Hparams {
    /// Decode layers.
    pub fn n_layer(&self) -> u32 {
        self.n_layer_all.saturating_sub(self.n_nextn)
    }
}

/// One key of the architecture's namespace.
fn akey<'a>(m: &'a GgufModel, arch: &str, k: &str) -> Option<&'a Value> {
    m.get(&format!("{arch}.{k}"))
}

fn au64(m: &GgufModel, arch: &str, k: &str) -> Option<u64> {
    akey(m, arch, k).and_then(Value::as_u64)
}

/// A scalar repeated per layer, or a per-layer array (padded with `default`).
fn per_layer(v: Option<&Value>, n: usize, default: u64) -> Vec<u64> {
    match v {
        Some(Value::Array(_, a)) => (0..n)
            .map(|i| a.get(i).and_then(Value::as_u64).unwrap_or(default))
            .collect(),
        Some(s) => vec![s.as_u64().unwrap_or(default); n],
        None => vec![default; n],
    }
}

/// Default SWA period (one dense layer every n) when a file gives a window but no pattern.
fn default_swa_period(arch: &str) -> u64 {
    match arch {
        "gemma2" | "gpt-oss" => 2,
        "gemma3" => 6,
        "gemma3n" => 5,
        "cohere2" => 4,
        _ => 0,
    }
}

/// Archs whose every layer is recurrent.
const PURE_RECURRENT: &[&str] = &["mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"];
/// Hybrids whose recurrent layers follow `full_attention_interval`.
const INTERVAL_HYBRIDS: &[&str] = &["qwen3next", "qwen35", "qwen35moe", "qwen4exp"];

/// Read the hyperparameters of a model.
pub fn hparams(m: &GgufModel) -> Result<Hparams, GgufError> {
    let arch = m
        .get("general.architecture")
        .and_then(Value::as_str)
        .ok_or_else(|| GgufError::Shape {
            path: m.path.clone(),
            what: "has no general.architecture key".into(),
            hint: "the file is not a llama.cpp model",
        })?
        .to_string();
    let a = arch.as_str();
    let n_layer_all = au64(m, a, "block_count").unwrap_or(0).min(100_000) as u32;
    let n_nextn = au64(m, a, "nextn_predict_layers")
        .unwrap_or(0)
        .min(n_layer_all as u64) as u32;
    let n = n_layer_all as usize;
    let n_trunk = n_layer_all.saturating_sub(n_nextn) as usize;
    let n_embd = au64(m, a, "embedding_length").unwrap_or(0);
    let n_vocab = m
        .tensors()
        .find(|t| t.name == "token_embd.weight")
        .and_then(|t| t.dims.get(1).copied())
        .or_else(|| {
            m.get("tokenizer.ggml.tokens")
                .and_then(Value::as_array)
                .map(|a| a.len() as u64)
        })
        .or_else(|| au64(m, a, "vocab_size"))
        .unwrap_or(0);
    let n_head = per_layer(akey(m, a, "attention.head_count"), n, 0);
    let h0 = n_head.iter().copied().find(|&h| h > 0).unwrap_or(0);
    let n_head_kv = match akey(m, a, "attention.head_count_kv") {
        None => n_head.clone(),
        v => per_layer(v, n, h0),
    };
    let default_hd = n_embd.checked_div(h0).unwrap_or(0);
    let key_length = au64(m, a, "attention.key_length").unwrap_or(default_hd);
    let value_length = au64(m, a, "attention.value_length").unwrap_or(default_hd);

    // Sliding window.
    let n_swa = au64(m, a, "attention.sliding_window").unwrap_or(0);
    let swa_layers = match akey(m, a, "attention.sliding_window_pattern") {
        _ if n_swa == 0 => vec![false; n],
        Some(Value::Array(_, v)) => (0..n)
            .map(|i| v.get(i).and_then(Value::as_bool).unwrap_or(false))
            .collect(),
        other => {
            let p = other
                .and_then(Value::as_u64)
                .unwrap_or_else(|| default_swa_period(a));
            (0..n as u64)
                .map(|i| i < n_trunk as u64 && (p == 0 || i % p < p - 1))
                .collect()
        }
    };

    // Recurrent layers.
    let recurrent_layers: Vec<bool> =
        if let Some(Value::Array(_, v)) = akey(m, a, "attention.recurrent_layers") {
            (0..n)
                .map(|i| v.get(i).and_then(Value::as_bool).unwrap_or(false))
                .collect()
        } else if PURE_RECURRENT.contains(&a) {
            vec![true; n]
        } else if INTERVAL_HYBRIDS.contains(&a) {
            let p = au64(m, a, "full_attention_interval").unwrap_or(4).max(1);
            (0..n as u64)
                .map(|i| i < n_trunk as u64 && (i + 1) % p != 0)
                .collect()
        } else if au64(m, a, "ssm.state_size").is_some()
            || au64(m, a, "shortconv.l_cache").is_some()
            || au64(m, a, "kda.head_dim").is_some()
        {
            // Hybrids mark non-attention layers with 0 kv heads.
            n_head_kv.iter().map(|&k| k == 0).collect()
        } else {
            vec![false; n]
        };
    let recurrent_state_bytes = state_bytes(m, a, n_embd, h0);

    let mla_per_token = match (
        au64(m, a, "attention.key_length_mla"),
        au64(m, a, "attention.value_length_mla"),
    ) {
        (Some(_), Some(_)) => Some(
            match (
                au64(m, a, "attention.kv_lora_rank"),
                au64(m, a, "rope.dimension_count"),
            ) {
                (Some(r), Some(rope)) => r + rope,
                _ => key_length,
            },
        ),
        _ => None,
    };
    let idx_len = au64(m, a, "attention.indexer.key_length").unwrap_or(0);
    let indexer = match akey(m, a, "attention.indexer.types") {
        Some(Value::Array(_, v)) => (0..n)
            .map(|i| {
                if v.get(i).and_then(Value::as_u64).unwrap_or(0) != 0 {
                    idx_len
                } else {
                    0
                }
            })
            .collect(),
        _ => vec![idx_len; n],
    };

    let expert_count = au64(m, a, "expert_count").unwrap_or(0);
    let expert_used = per_layer(akey(m, a, "expert_used_count"), n.max(1), 0)
        .into_iter()
        .max()
        .unwrap_or(0);
    let experts = (expert_count > 0).then_some(Experts {
        count: expert_count.min(u32::MAX as u64) as u32,
        used: expert_used.min(expert_count) as u32,
    });

    let ctx_train = au64(m, a, "context_length").unwrap_or(0);
    let rope_scaling = rope_scaling(m, a, ctx_train);
    Ok(Hparams {
        arch: a.to_string(),
        n_layer_all,
        n_nextn,
        n_embd,
        n_vocab,
        n_head,
        n_head_kv,
        key_length,
        value_length,
        key_length_swa: au64(m, a, "attention.key_length_swa").unwrap_or(key_length),
        value_length_swa: au64(m, a, "attention.value_length_swa").unwrap_or(value_length),
        n_swa,
        swa_layers,
        recurrent_layers,
        recurrent_state_bytes,
        mla_per_token,
        indexer,
        shared_kv_layers: au64(m, a, "attention.shared_kv_layers").unwrap_or(0) as u32,
        experts,
        ctx_train,
        rope_scaling,
    })
}

/// f32 recurrent state per layer per sequence (`src/llama-hparams.cpp:208-258`).
fn state_bytes(m: &GgufModel, a: &str, n_embd: u64, n_head: u64) -> u64 {
    let g = |k: &str| au64(m, a, k).unwrap_or(0);
    let (conv, inner, state, groups) = (
        g("ssm.conv_kernel"),
        g("ssm.inner_size"),
        g("ssm.state_size"),
        g("ssm.group_count"),
    );
    let ssm_r = conv.saturating_sub(1) * (inner + 2 * groups * state);
    let ssm_s = state * inner;
    let (r, s) = if let Some(hs) = au64(m, a, "wkv.head_size") {
        (
            au64(m, a, "token_shift_count").unwrap_or(2) * n_embd,
            n_embd * hs,
        )
    } else if let Some(kd) = au64(m, a, "kda.head_dim") {
        (3 * conv.saturating_sub(1) * n_head * kd, kd * kd * n_head)
    } else if let Some(l) = au64(m, a, "shortconv.l_cache") {
        (n_embd * l.saturating_sub(1), ssm_s)
    } else {
        (ssm_r, ssm_s)
    };
    4 * (r + s)
}

fn rope_scaling(m: &GgufModel, a: &str, ctx_train: u64) -> Option<RopeScaling> {
    let kind = akey(m, a, "rope.scaling.type")
        .and_then(Value::as_str)
        .map(str::to_string);
    let factor = akey(m, a, "rope.scaling.factor")
        .or_else(|| akey(m, a, "rope.scale_linear"))
        .and_then(Value::as_f64)?;
    if factor <= 1.0 || kind.as_deref() == Some("none") {
        return None;
    }
    Some(RopeScaling {
        kind: kind.unwrap_or_else(|| "linear".into()),
        factor,
        original_ctx: au64(m, a, "rope.scaling.original_context_length").unwrap_or(ctx_train),
    })
}

/// K and V head sizes of layer `i` (sliding layers may differ).
fn head_dims(hp: &Hparams, i: usize) -> (u64, u64) {
    if hp.swa_layers.get(i).copied().unwrap_or(false) {
        (hp.key_length_swa, hp.value_length_swa)
    } else {
        (hp.key_length, hp.value_length)
    }
}

/// Cache kind of decode layer `i`.
fn cache_kind(hp: &Hparams, i: usize) -> CacheKind {
    let n = hp.n_layer() as usize;
    if hp.recurrent_layers.get(i).copied().unwrap_or(false) {
        return CacheKind::Recurrent {
            state_bytes: hp.recurrent_state_bytes,
        };
    }
    if hp.shared_kv_layers > 0 && i + hp.shared_kv_layers as usize >= n {
        return CacheKind::Full {
            k_per_token: 0,
            v_per_token: 0,
        };
    }
    if let Some(per_token) = hp.mla_per_token {
        return CacheKind::Latent { per_token };
    }
    let kv = hp.n_head_kv.get(i).copied().unwrap_or(0);
    let (kl, vl) = head_dims(hp, i);
    let (k, v) = (kv * kl, kv * vl);
    if hp.swa_layers.get(i).copied().unwrap_or(false) {
        CacheKind::Sliding {
            k_per_token: k,
            v_per_token: v,
            window: hp.n_swa,
        }
    } else {
        CacheKind::Full {
            k_per_token: k,
            v_per_token: v,
        }
    }
}

/// Exact parameters and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    /// Weights.
    pub params: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Count {
    fn add(&mut self, params: u64, bytes: u64) {
        self.params += params;
        self.bytes += bytes;
    }
    fn group(self) -> Group {
        Group {
            params: self.params as f64,
            bytes: self.bytes as f64,
        }
    }
}

/// What `model inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The path given.
    pub file: String,
    /// Number of files (shards).
    pub shards: usize,
    /// GGUF version.
    pub version: u32,
    /// Bytes on disk, all shards.
    pub file_bytes: u64,
    /// `general.architecture`.
    pub architecture: String,
    /// `general.name`.
    pub name: Option<String>,
    /// Tensor count.
    pub n_tensors: usize,
    /// All weights in the file.
    pub total: Count,
    /// Per group.
    pub groups: BTreeMap<TensorClass, Count>,
    /// Bits per weight over all tensors.
    pub bits_per_weight: f64,
    /// Tensors per ggml type.
    pub quant_mix: BTreeMap<String, Count>,
    /// Weights read per generated token (`ModelShape::active_weights`).
    pub active_per_token: Count,
    /// Routing.
    pub experts: Option<Experts>,
    /// Hyperparameters.
    pub hparams: Hparams,
    /// Cache per decode layer.
    pub cache: Vec<CacheKind>,
    /// KV cache bytes per token at f16, all layers (recurrent layers excluded).
    pub kv_bytes_per_token_f16: u64,
    /// Tokenizer model (`tokenizer.ggml.model`) and token count.
    pub tokenizer: Option<(String, u64)>,
}

/// What in a file's metadata makes the figures doubtful, one line each:
/// a `context_length` of 0 (no training window: every slot is capped at 0)
/// or an `attention.head_count` of 0 in every layer (no attention: a KV
/// cache of 0 bytes).
pub fn metadata_warnings(m: &GgufModel) -> Vec<String> {
    let Ok(hp) = hparams(m) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if hp.ctx_train == 0 {
        out.push(format!(
            "`{}.context_length` is 0 or missing: the file gives no training window, so the context verdicts and slot sizes cannot be trusted (pass -c explicitly)",
            hp.arch
        ));
    }
    if !hp.n_head.is_empty()
        && hp.n_head.iter().all(|&h| h == 0)
        && hp.recurrent_layers.iter().all(|r| !r)
    {
        out.push(format!(
            "`{}.attention.head_count` is 0 in every layer: no attention, so the KV cache comes out as 0 bytes; the file's metadata is probably wrong",
            hp.arch
        ));
    }
    out
}

/// Derive the engine's shape and the inspection report.
pub fn inspect(m: &GgufModel) -> Result<(ModelShape, Inspection), GgufError> {
    let hp = hparams(m)?;
    let n_layer = hp.n_layer();
    let mut groups: BTreeMap<TensorClass, Count> = BTreeMap::new();
    let mut mix: BTreeMap<String, Count> = BTreeMap::new();
    let mut per_layer: Vec<[Count; 5]> = vec![[Count::default(); 5]; n_layer as usize];
    // Per layer: weight matrices, norm weights, other vectors (for `Layer::ops`).
    let mut kinds: Vec<[u64; 3]> = vec![[0; 3]; n_layer as usize];
    // Per type: (tensor class, params, bytes), shared out as read/layers below.
    let mut typed: Vec<(String, TensorClass, u64, u64)> = Vec::new();
    let mut tied = true;
    for t in m.tensors() {
        let class = classify(&t.name, &t.dims, n_layer);
        typed.push((
            t.ggml_type.ggml_name().to_string(),
            class,
            t.n_elements,
            t.bytes,
        ));
        groups.entry(class).or_default().add(t.n_elements, t.bytes);
        mix.entry(t.ggml_type.ggml_name().to_string())
            .or_default()
            .add(t.n_elements, t.bytes);
        if class == TensorClass::Output {
            tied = false;
        }
        let slot = match class {
            TensorClass::Attention => 0,
            TensorClass::FfnDense => 1,
            TensorClass::Experts => 2,
            TensorClass::SharedExperts => 3,
            TensorClass::Norms => 4,
            _ => continue,
        };
        let Some(b) = block_of(&t.name).map(|b| b as usize) else {
            continue;
        };
        if let (Some(l), Some(k)) = (per_layer.get_mut(b), kinds.get_mut(b)) {
            l[slot].add(t.n_elements, t.bytes);
            k[tensor_kind(&t.name, &t.dims)] += 1;
        }
    }
    let total = groups.values().fold(Count::default(), |mut acc, c| {
        acc.add(c.params, c.bytes);
        acc
    });
    let get = |c: TensorClass| groups.get(&c).copied().unwrap_or_default();
    let token_embd = get(TensorClass::TokenEmbd).group();
    let experts = hp.experts.or_else(|| {
        // Expert count from the tensors when the key is missing.
        m.tensors()
            .find(|t| t.name.ends_with("ffn_up_exps.weight"))
            .and_then(|t| t.dims.get(2))
            .map(|&e| Experts {
                count: e as u32,
                used: e as u32,
            })
    });
    let layers: Vec<Layer> = per_layer
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let cache = cache_kind(&hp, i);
            let heads = hp.n_head.get(i).copied().unwrap_or(0) as f64;
            let flops = match cache {
                CacheKind::Recurrent { .. } => 0.0,
                CacheKind::Latent { per_token } => 2.0 * heads * (2 * per_token) as f64,
                _ => {
                    let (kl, vl) = head_dims(&hp, i);
                    2.0 * heads * (kl + vl) as f64
                }
            };
            Layer {
                attention: g[0].group(),
                ffn_dense: g[1].group(),
                experts: g[2].group(),
                shared_experts: g[3].group(),
                norms: g[4].group(),
                cache,
                indexer_per_token: hp.indexer.get(i).copied().unwrap_or(0),
                attn_flops_per_ctx_token: flops,
                attn_heads: if flops > 0.0 { heads as u64 } else { 0 },
                ops: {
                    let [matrices, norms, vectors] = kinds.get(i).copied().unwrap_or_default();
                    let used = match experts {
                        Some(e) if g[2].params > 0 => e.used as u64,
                        _ => 0,
                    };
                    layer_ops(matrices, norms, vectors, used)
                },
            }
        })
        .collect();
    let name = m
        .get("general.name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let shape = ModelShape {
        name: name.clone().unwrap_or_else(|| file_stem(m)),
        quant_label: "gguf file".into(),
        vocab: hp.n_vocab,
        hidden: hp.n_embd,
        token_embd,
        output: if tied {
            token_embd
        } else {
            get(TensorClass::Output).group()
        },
        tied_embeddings: tied,
        globals: get(TensorClass::Globals).group(),
        layers,
        mtp: get(TensorClass::Mtp).group(),
        experts,
        ctx_train: hp.ctx_train,
        rope_scaling: hp.rope_scaling.clone(),
        weight_types: Vec::new(),
    };
    let shape = ModelShape {
        weight_types: typed_weights(&typed, tied, hp.n_vocab, experts),
        ..shape
    };
    let active = shape.active_weights();
    let kv_bytes_per_token_f16 = shape
        .layers
        .iter()
        .map(|l| 2 * (l.cache.elements_per_token() + l.indexer_per_token))
        .sum();
    let tokenizer = m
        .get("tokenizer.ggml.model")
        .and_then(Value::as_str)
        .map(|t| {
            let n = m
                .get("tokenizer.ggml.tokens")
                .and_then(Value::as_array)
                .map_or(0, |a| a.len() as u64);
            (t.to_string(), n)
        });
    let inspection = Inspection {
        file: m.path.display().to_string(),
        shards: m.shards.len(),
        version: m.shards[0].version,
        file_bytes: m.file_bytes(),
        architecture: hp.arch.clone(),
        name,
        n_tensors: m.tensors().count(),
        total,
        bits_per_weight: if total.params > 0 {
            8.0 * total.bytes as f64 / total.params as f64
        } else {
            0.0
        },
        groups,
        quant_mix: mix,
        active_per_token: Count {
            params: active.params.round() as u64,
            bytes: active.bytes.round() as u64,
        },
        experts,
        cache: shape.layers.iter().map(|l| l.cache).collect(),
        kv_bytes_per_token_f16,
        hparams: hp,
        tokenizer,
    };
    Ok((shape, inspection))
}

/// The weights by type, shared out as [`ModelShape::active_weights`] and
/// [`ModelShape::layer_weights`] count them: one embedding row, the output
/// head (the embedding table again when tied), globals, K/E of routed experts.
fn typed_weights(
    tensors: &[(String, TensorClass, u64, u64)],
    tied: bool,
    vocab: u64,
    experts: Option<Experts>,
) -> Vec<TypedWeights> {
    let routed = experts
        .filter(|e| e.count > 0)
        .map_or(1.0, |e| e.used as f64 / e.count as f64);
    let mut out: Vec<TypedWeights> = Vec::new();
    for (name, class, params, bytes) in tensors {
        let g = Group {
            params: *params as f64,
            bytes: *bytes as f64,
        };
        let row = if vocab > 0 { 1.0 / vocab as f64 } else { 0.0 };
        let (read, layers, head) = match class {
            TensorClass::TokenEmbd if tied => (g.scaled(1.0 + row), 0.0, g),
            TensorClass::TokenEmbd => (g.scaled(row), 0.0, Group::default()),
            TensorClass::Output => (g, 0.0, g),
            TensorClass::Globals => (g, 0.0, Group::default()),
            TensorClass::Experts => (g.scaled(routed), routed, Group::default()),
            TensorClass::Attention
            | TensorClass::FfnDense
            | TensorClass::SharedExperts
            | TensorClass::Norms => (g, 1.0, Group::default()),
            TensorClass::Mtp => continue,
        };
        let i = match out.iter().position(|t| &t.name == name) {
            Some(i) => i,
            None => {
                out.push(TypedWeights {
                    name: name.clone(),
                    read: Group::default(),
                    layers: Group::default(),
                    head: Group::default(),
                });
                out.len() - 1
            }
        };
        out[i].read = out[i].read.plus(read);
        out[i].layers = out[i].layers.plus(g.scaled(layers));
        out[i].head = out[i].head.plus(head);
    }
    out.sort_by(|a, b| b.read.bytes.total_cmp(&a.read.bytes));
    out
}

fn file_stem(m: &GgufModel) -> String {
    let stem = m
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    match super::reader::split_parts(&m.path) {
        Some((prefix, _, _)) => prefix,
        None => stem.to_string(),
    }
}

/// The engine's shape of a model file, for `predict --model FILE.gguf`.
pub fn model_shape(m: &GgufModel) -> Result<ModelShape, GgufError> {
    let (shape, _) = inspect(m)?;
    if shape.layers.is_empty() || shape.total_weights().bytes <= 0.0 {
        return Err(GgufError::Shape {
            path: m.path.clone(),
            what: "has no decoder layers or no weight tensors".into(),
            hint: "vocab-only files (ggml-vocab-*.gguf) describe a tokenizer, not a model",
        });
    }
    Ok(shape)
}

/// A `model-specs/` entry describing the file, with its exact group totals.
pub fn model_spec(m: &GgufModel) -> Result<ModelSpec, GgufError> {
    let (shape, ins) = inspect(m)?;
    let hp = &ins.hparams;
    let a = hp.arch.as_str();
    let stem = file_stem(m);
    let b = |c: TensorClass| ins.groups.get(&c).map_or(0.0, |x| x.params as f64 / 1e9);
    let src = format!(
        "derived by `rooftune model inspect` from the GGUF file `{}`",
        stem
    );
    let has = |suffix: &str| m.tensors().any(|t| t.name.ends_with(suffix));
    let n_heads = hp.n_head.iter().copied().max().unwrap_or(0);
    let n_kv_heads = hp
        .n_head_kv
        .iter()
        .copied()
        .find(|&k| k > 0)
        .unwrap_or(n_heads);
    let ffn = per_layer(
        akey(m, a, "feed_forward_length"),
        hp.n_layer_all as usize,
        0,
    )
    .into_iter()
    .max()
    .unwrap_or(0);
    let moe = shape.experts.map(|e| model_spec::Moe {
        experts: e.count,
        experts_used: e.used,
        expert_ffn: au64(m, a, "expert_feed_forward_length").unwrap_or(0),
        shared_experts: au64(m, a, "expert_shared_count")
            .map(|x| x as u32)
            .unwrap_or(u32::from(has("ffn_up_shexp.weight"))),
        shared_expert_ffn: au64(m, a, "expert_shared_feed_forward_length"),
    });
    let mla = hp.mla_per_token.map(|_| {
        let rope = au64(m, a, "rope.dimension_count").unwrap_or(0);
        model_spec::Mla {
            kv_lora_rank: au64(m, a, "attention.kv_lora_rank").unwrap_or(0),
            q_lora_rank: au64(m, a, "attention.q_lora_rank").unwrap_or(0),
            rope_dim: rope,
            nope_dim: au64(m, a, "attention.key_length_mla")
                .unwrap_or(rope)
                .saturating_sub(rope),
            v_head_dim: au64(m, a, "attention.value_length_mla").unwrap_or(0),
        }
    });
    let dsa = au64(m, a, "attention.indexer.key_length").map(|d| model_spec::Dsa {
        index_heads: au64(m, a, "attention.indexer.head_count").unwrap_or(0),
        index_head_dim: d,
        index_topk: au64(m, a, "attention.indexer.top_k"),
        indexer_layers: None,
    });
    let n_layer = hp.n_layer();
    let swa = (hp.n_swa > 0).then(|| model_spec::Swa {
        window: hp.n_swa,
        full_every: None,
        full_layers: Some(
            (0..n_layer)
                .filter(|&i| !hp.swa_layers[i as usize])
                .collect(),
        ),
        swa_n_kv_heads: None,
        swa_head_dim: (hp.key_length_swa != hp.key_length).then_some(hp.key_length_swa),
    });
    let linear = if hp.recurrent_layers.iter().any(|&r| r) && INTERVAL_HYBRIDS.contains(&a) {
        let n_v = au64(m, a, "ssm.time_step_rank").unwrap_or(1).max(1);
        Some(model_spec::Linear {
            full_every: au64(m, a, "full_attention_interval").unwrap_or(4) as u32,
            kind: "gated-deltanet".into(),
            n_v_heads: n_v,
            n_k_heads: au64(m, a, "ssm.group_count").unwrap_or(0),
            head_k_dim: au64(m, a, "ssm.state_size").unwrap_or(0),
            head_v_dim: au64(m, a, "ssm.inner_size").unwrap_or(0) / n_v,
            conv_kernel: au64(m, a, "ssm.conv_kernel").unwrap_or(0),
        })
    } else {
        None
    };
    let leading_dense = au64(m, a, "leading_dense_block_count")
        .map(|x| x as u32)
        .or_else(|| {
            shape.experts.map(|_| {
                shape
                    .layers
                    .iter()
                    .take_while(|l| l.experts.params == 0.0)
                    .count() as u32
            })
        });
    let mix: Vec<String> = ins
        .quant_mix
        .iter()
        .map(|(t, c)| {
            format!(
                "{t} {:.1}%",
                100.0 * c.bytes as f64 / ins.total.bytes.max(1) as f64
            )
        })
        .collect();
    let nz = |x: f64| (x > 0.0).then_some(x);
    // Group overrides are the decode layers' exact totals; MTP is listed in notes only.
    let groups_b = model_spec::GroupsB {
        attention: Some(b(TensorClass::Attention)),
        linear_attention: linear.as_ref().map(|_| 0.0),
        ffn_dense: nz(b(TensorClass::FfnDense)),
        experts: nz(b(TensorClass::Experts)),
        shared_experts: nz(b(TensorClass::SharedExperts)),
        token_embd: Some(b(TensorClass::TokenEmbd)),
        output: nz(b(TensorClass::Output)),
    };
    Ok(ModelSpec {
        schema: 1,
        name: stem.to_ascii_lowercase(),
        display_name: ins.name.clone().unwrap_or_else(|| stem.clone()),
        aliases: vec![],
        llama_arch: Some(hp.arch.clone()),
        source: src.clone(),
        unverified: vec![],
        notes: Some(format!(
            "{:.3} bits per weight over {} tensors ({}); {} bytes of weights, {} read per token; MTP tensors {:.3}B params (not read at decode).",
            ins.bits_per_weight,
            ins.n_tensors,
            mix.join(", "),
            ins.total.bytes,
            ins.active_per_token.bytes,
            b(TensorClass::Mtp)
        )),
        params: model_spec::Params {
            total_b: Some(Sourced {
                value: ins.total.params as f64 / 1e9,
                source: src.clone(),
                verified: true,
                note: None,
            }),
            active_b: Some(Sourced {
                value: ins.active_per_token.params as f64 / 1e9,
                source: src,
                verified: true,
                note: Some("one embedding row + output head + shared tensors + K/E of routed experts".into()),
            }),
            groups_b: Some(groups_b),
        },
        arch: model_spec::Arch {
            n_layers: n_layer,
            n_mtp_layers: hp.n_nextn,
            hidden: hp.n_embd,
            vocab: hp.n_vocab,
            n_heads,
            n_kv_heads: Some(n_kv_heads),
            head_dim: Some(hp.key_length),
            head_dim_v: (hp.value_length != hp.key_length).then_some(hp.value_length),
            ffn,
            n_dense_layers: leading_dense,
            tied_embeddings: shape.tied_embeddings,
            gated_ffn: !has("ffn_up.weight") || has("ffn_gate.weight"),
            moe,
            mla,
            dsa,
            swa,
            linear,
        },
        context: model_spec::Context {
            train: hp.ctx_train,
            rope_scaling: hp.rope_scaling.as_ref().map(|r| model_spec::RopeScalingSpec {
                kind: r.kind.clone(),
                factor: r.factor,
                original: r.original_ctx,
                source: Some("GGUF rope.scaling keys".into()),
            }),
        },
    })
}

/// Bytes of one ggml type for `n` elements (re-exported for tests).
pub fn tensor_bytes(t: GgmlType, n: u64) -> u64 {
    t.tensor_bytes(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_by_name() {
        let c = |n: &str, d: &[u64]| classify(n, d, 10);
        assert_eq!(c("token_embd.weight", &[8, 8]), TensorClass::TokenEmbd);
        assert_eq!(c("output.weight", &[8, 8]), TensorClass::Output);
        assert_eq!(c("output_norm.weight", &[8]), TensorClass::Globals);
        assert_eq!(c("blk.0.attn_q.weight", &[8, 8]), TensorClass::Attention);
        assert_eq!(
            c("blk.0.attn_kv_a_mqa.weight", &[8, 8]),
            TensorClass::Attention
        );
        assert_eq!(c("blk.0.ssm_in.weight", &[8, 8]), TensorClass::Attention);
        assert_eq!(c("blk.0.attn_q_norm.weight", &[8]), TensorClass::Norms);
        assert_eq!(c("blk.0.attn_q.bias", &[8]), TensorClass::Norms);
        assert_eq!(c("blk.1.ffn_up.weight", &[8, 8]), TensorClass::FfnDense);
        assert_eq!(
            c("blk.1.ffn_up_exps.weight", &[8, 8, 4]),
            TensorClass::Experts
        );
        assert_eq!(
            c("blk.1.ffn_gate_inp.weight", &[8, 4]),
            TensorClass::Experts
        );
        assert_eq!(c("blk.1.exp_probs_b.bias", &[4]), TensorClass::Experts);
        assert_eq!(
            c("blk.1.ffn_down_shexp.weight", &[8, 8]),
            TensorClass::SharedExperts
        );
        assert_eq!(
            c("blk.1.ffn_gate_inp_shexp.weight", &[8]),
            TensorClass::SharedExperts
        );
        assert_eq!(c("blk.10.attn_q.weight", &[8, 8]), TensorClass::Mtp);
    }

    #[test]
    fn zero_context_or_heads_are_warned_about() {
        use super::super::synth::{SynthArch, SynthConfig, SynthQuant};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.gguf");
        SynthConfig::with_hidden(SynthArch::Llama, 256, 2, SynthQuant::F16)
            .write(&p)
            .unwrap();
        let mut m = GgufModel::open(&p).unwrap();
        assert!(metadata_warnings(&m).is_empty());
        for (k, v) in m.shards[0].metadata.iter_mut() {
            if k.ends_with(".context_length") || k.ends_with(".attention.head_count") {
                *v = Value::U32(0);
            }
        }
        let w = metadata_warnings(&m).join("\n");
        assert!(w.contains("context_length` is 0"), "{w}");
        assert!(w.contains("head_count` is 0 in every layer"), "{w}");
    }

    #[test]
    fn weights_by_type_add_up_to_what_a_token_reads_and_a_prompt_multiplies() {
        use super::super::synth::{SynthArch, SynthConfig, SynthQuant};
        let dir = tempfile::tempdir().unwrap();
        for (arch, q) in [
            (SynthArch::Llama, SynthQuant::Q6K),
            (SynthArch::Moe, SynthQuant::Q8_0),
        ] {
            let p = dir.path().join("m.gguf");
            SynthConfig::with_hidden(arch, 512, 2, q).write(&p).unwrap();
            let shape = model_shape(&GgufModel::open(&p).unwrap()).unwrap();
            let types = shape.typed_weights();
            // The matrices' type and the f32 norms.
            let mut names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
            names.sort_unstable();
            let want = [q.ggml_type().ggml_name(), "f32"];
            assert_eq!(names.len(), 2, "{names:?}");
            assert!(want.iter().all(|w| names.contains(w)), "{names:?}");
            let sum = |f: &dyn Fn(&TypedWeights) -> Group| {
                types.iter().fold(Group::default(), |a, t| a.plus(f(t)))
            };
            let (read, layers) = (sum(&|t| t.read), sum(&|t| t.layers));
            approx::assert_relative_eq!(
                read.bytes,
                shape.active_weights().bytes,
                max_relative = 1e-9
            );
            approx::assert_relative_eq!(
                read.params,
                shape.active_weights().params,
                max_relative = 1e-9
            );
            approx::assert_relative_eq!(
                layers.bytes,
                shape.layer_weights().bytes,
                max_relative = 1e-9
            );
            // The output head is read per token but not multiplied per prompt token.
            assert!(read.bytes > layers.bytes + 0.9 * shape.output.bytes);
            approx::assert_relative_eq!(
                sum(&|t| t.head).bytes,
                shape.output.bytes,
                max_relative = 1e-9
            );
        }
    }

    #[test]
    fn a_layer_counts_its_graph_operations_from_its_tensors() {
        use super::super::synth::{SynthArch, SynthConfig, SynthQuant};
        use crate::shape::PLAIN_LAYER_OPS;
        assert_eq!(tensor_kind("blk.0.attn_q.weight", &[640, 1024]), 0);
        assert_eq!(tensor_kind("blk.0.ffn_up_exps.weight", &[8, 8, 4]), 0);
        assert_eq!(tensor_kind("blk.0.attn_q_norm.weight", &[256]), 1);
        assert_eq!(tensor_kind("blk.0.post_ffw_norm.weight", &[640]), 1);
        assert_eq!(tensor_kind("blk.0.attn_norm.bias", &[640]), 2);
        assert_eq!(tensor_kind("blk.0.attn_q.bias", &[640]), 2);
        // A llama layer: 7 matrices, 2 norms. Gemma 3's: 4 more norms.
        assert_eq!(layer_ops(7, 2, 0, 0), PLAIN_LAYER_OPS);
        assert_eq!(layer_ops(7, 6, 0, 0), 27);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.gguf");
        SynthConfig::with_hidden(SynthArch::Llama, 256, 3, SynthQuant::Q8_0)
            .write(&p)
            .unwrap();
        let shape = model_shape(&GgufModel::open(&p).unwrap()).unwrap();
        assert!(shape.layers.iter().all(|l| l.ops == PLAIN_LAYER_OPS));
        approx::assert_relative_eq!(shape.layer_equivalents(), 3.0);
        // A catalog-style count of the same layers agrees.
        let typical = shape.clone().with_typical_ops();
        assert_eq!(typical.layers, shape.layers);
        // Routing adds its own operations to a MoE layer.
        SynthConfig::with_hidden(SynthArch::Moe, 256, 2, SynthQuant::Q8_0)
            .write(&p)
            .unwrap();
        let moe = model_shape(&GgufModel::open(&p).unwrap()).unwrap();
        assert!(
            moe.layer_equivalents() > 2.0 * 1.3,
            "{}",
            moe.layer_equivalents()
        );
    }

    #[test]
    fn per_layer_scalars_and_arrays() {
        use super::super::value::ValueType;
        assert_eq!(per_layer(Some(&Value::U32(4)), 3, 0), vec![4, 4, 4]);
        let arr = Value::Array(ValueType::I32, vec![Value::I32(2), Value::I32(0)]);
        assert_eq!(per_layer(Some(&arr), 3, 9), vec![2, 0, 9]);
        assert_eq!(per_layer(None, 2, 7), vec![7, 7]);
    }
}
