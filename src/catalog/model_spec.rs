//! Model specs (`model-specs/NAME.toml`): architecture fields with their
//! source, expanded into a [`ModelShape`] at a chosen quantization.
//!
//! Parameter counts are derived from the architecture, group by group, and
//! checked against the published total in tests; a spec may give group
//! totals directly (`[params.groups_b]`) where the formula does not fit.

use super::quant::{QuantScheme, TensorGroup};
use super::sourced::Sourced;
use crate::shape::{CacheKind, Experts, Group, Layer, ModelShape, RopeScaling};
use serde::{Deserialize, Serialize};

/// A model spec file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Format version.
    pub schema: u32,
    /// Id used by `--model`.
    pub name: String,
    /// Human name.
    pub display_name: String,
    /// Other ids.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `general.architecture` of its GGUF in llama.cpp.
    #[serde(default)]
    pub llama_arch: Option<String>,
    /// Where the architecture fields come from.
    pub source: String,
    /// Dotted paths of fields that could not be verified.
    #[serde(default)]
    pub unverified: Vec<String>,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
    /// Published parameter counts.
    #[serde(default)]
    pub params: Params,
    /// Architecture.
    pub arch: Arch,
    /// Context window.
    pub context: Context,
}

/// Published parameter counts (billions) and optional group overrides.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Published total, billions.
    #[serde(default)]
    pub total_b: Option<Sourced<f64>>,
    /// Published active per token, billions.
    #[serde(default)]
    pub active_b: Option<Sourced<f64>>,
    /// Group totals in billions, overriding the derived ones.
    #[serde(default)]
    pub groups_b: Option<GroupsB>,
}

/// Group totals in billions of parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsB {
    /// Attention (full and sliding) projections.
    #[serde(default)]
    pub attention: Option<f64>,
    /// Linear-attention / recurrent blocks.
    #[serde(default)]
    pub linear_attention: Option<f64>,
    /// Dense FFNs.
    #[serde(default)]
    pub ffn_dense: Option<f64>,
    /// Routed experts (all of them).
    #[serde(default)]
    pub experts: Option<f64>,
    /// Shared experts.
    #[serde(default)]
    pub shared_experts: Option<f64>,
    /// Token embedding.
    #[serde(default)]
    pub token_embd: Option<f64>,
    /// Output head.
    #[serde(default)]
    pub output: Option<f64>,
}

fn yes() -> bool {
    true
}

/// Architecture fields (HF config.json names in the comments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    /// Decoder layers used at decode (`num_hidden_layers`).
    pub n_layers: u32,
    /// Multi-token-prediction layers in the file (`num_nextn_predict_layers`).
    #[serde(default)]
    pub n_mtp_layers: u32,
    /// `hidden_size`.
    pub hidden: u64,
    /// `vocab_size`.
    pub vocab: u64,
    /// `num_attention_heads`.
    pub n_heads: u64,
    /// `num_key_value_heads`.
    #[serde(default)]
    pub n_kv_heads: Option<u64>,
    /// `head_dim` (K).
    #[serde(default)]
    pub head_dim: Option<u64>,
    /// V head dim when it differs.
    #[serde(default)]
    pub head_dim_v: Option<u64>,
    /// `intermediate_size` of dense FFN layers.
    #[serde(default)]
    pub ffn: u64,
    /// Leading dense layers of an MoE (`first_k_dense_replace`).
    #[serde(default)]
    pub n_dense_layers: Option<u32>,
    /// `tie_word_embeddings`.
    #[serde(default)]
    pub tied_embeddings: bool,
    /// Gated FFN (3 matrices) vs plain MLP (2).
    #[serde(default = "yes")]
    pub gated_ffn: bool,
    /// Mixture of experts.
    #[serde(default)]
    pub moe: Option<Moe>,
    /// Multi-head latent attention.
    #[serde(default)]
    pub mla: Option<Mla>,
    /// Sparse-attention indexer.
    #[serde(default)]
    pub dsa: Option<Dsa>,
    /// Sliding-window layers.
    #[serde(default)]
    pub swa: Option<Swa>,
    /// Linear-attention / recurrent layers.
    #[serde(default)]
    pub linear: Option<Linear>,
}

/// `[arch.moe]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moe {
    /// Routed experts per layer.
    pub experts: u32,
    /// Experts used per token.
    pub experts_used: u32,
    /// Expert FFN size.
    pub expert_ffn: u64,
    /// Shared experts.
    #[serde(default)]
    pub shared_experts: u32,
    /// Shared expert FFN size (default expert_ffn).
    #[serde(default)]
    pub shared_expert_ffn: Option<u64>,
}

/// `[arch.mla]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mla {
    /// `kv_lora_rank`.
    pub kv_lora_rank: u64,
    /// `q_lora_rank` (0 = full-rank q).
    #[serde(default)]
    pub q_lora_rank: u64,
    /// `qk_rope_head_dim`.
    pub rope_dim: u64,
    /// `qk_nope_head_dim`.
    pub nope_dim: u64,
    /// `v_head_dim`.
    pub v_head_dim: u64,
}

/// `[arch.dsa]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dsa {
    /// `index_n_heads`.
    pub index_heads: u64,
    /// `index_head_dim`.
    pub index_head_dim: u64,
    /// `index_topk`.
    #[serde(default)]
    pub index_topk: Option<u64>,
    /// 0-based layers that carry an indexer (and its cache); all layers when absent.
    #[serde(default)]
    pub indexer_layers: Option<Vec<u32>>,
}

/// `[arch.swa]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swa {
    /// Window in tokens.
    pub window: u64,
    /// One full layer every N.
    #[serde(default)]
    pub full_every: Option<u32>,
    /// Explicit 0-based full-attention layers.
    #[serde(default)]
    pub full_layers: Option<Vec<u32>>,
    /// KV heads of sliding layers when different.
    #[serde(default)]
    pub swa_n_kv_heads: Option<u64>,
    /// Head dim of sliding layers when different.
    #[serde(default)]
    pub swa_head_dim: Option<u64>,
}

/// `[arch.linear]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    /// One full-attention layer every N.
    pub full_every: u32,
    /// `gated-deltanet` or `mamba2`.
    pub kind: String,
    /// Value heads.
    pub n_v_heads: u64,
    /// Key heads.
    pub n_k_heads: u64,
    /// Key head dim.
    pub head_k_dim: u64,
    /// Value head dim.
    pub head_v_dim: u64,
    /// Conv kernel width.
    #[serde(default)]
    pub conv_kernel: u64,
}

/// `[context]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// `n_ctx_train`.
    pub train: u64,
    /// RoPE scaling.
    #[serde(default)]
    pub rope_scaling: Option<RopeScalingSpec>,
}

/// RoPE scaling as written in a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RopeScalingSpec {
    /// Method.
    #[serde(rename = "type")]
    pub kind: String,
    /// Factor.
    pub factor: f64,
    /// Native window.
    pub original: u64,
    /// Source.
    #[serde(default)]
    pub source: Option<String>,
}

/// Parameters per group for one layer, before quantization.
#[derive(Debug, Clone, Copy, Default)]
struct LayerParams {
    attention: f64,
    linear: f64,
    ffn_dense: f64,
    experts: f64,
    shared: f64,
    norms: f64,
}

impl ModelSpec {
    fn n_kv_heads(&self) -> u64 {
        self.arch.n_kv_heads.unwrap_or(self.arch.n_heads)
    }
    fn head_dim(&self) -> u64 {
        self.arch
            .head_dim
            .unwrap_or(self.arch.hidden / self.arch.n_heads.max(1))
    }
    fn head_dim_v(&self) -> u64 {
        self.arch.head_dim_v.unwrap_or_else(|| self.head_dim())
    }

    /// Whether layer `i` is a full-attention layer (vs sliding or linear).
    fn is_full_layer(&self, i: u32) -> bool {
        if let Some(lin) = &self.arch.linear {
            return lin.full_every > 0 && (i + 1) % lin.full_every == 0;
        }
        if let Some(swa) = &self.arch.swa {
            if let Some(list) = &swa.full_layers {
                return list.contains(&i);
            }
            if let Some(n) = swa.full_every {
                return n > 0 && (i + 1) % n == 0;
            }
            return false;
        }
        true
    }

    fn is_linear_layer(&self, i: u32) -> bool {
        self.arch.linear.is_some() && !self.is_full_layer(i)
    }

    fn is_moe_layer(&self, i: u32) -> bool {
        self.arch.moe.is_some() && i >= self.arch.n_dense_layers.unwrap_or(0)
    }

    /// Attention parameters, cache kind and attention FLOPs of layer `i`.
    fn attention(&self, i: u32) -> (f64, f64, CacheKind, u64, f64) {
        let a = &self.arch;
        let h = a.hidden as f64;
        if let (true, Some(lin)) = (self.is_linear_layer(i), &a.linear) {
            let qk = (2 * lin.n_k_heads * lin.head_k_dim) as f64;
            let v = (lin.n_v_heads * lin.head_v_dim) as f64;
            let conv_ch = qk + v;
            // in_proj (q, k, v, z gate), beta/alpha, conv, out_proj; see docs/data-format.md.
            let params = h * (qk + 2.0 * v)
                + h * 2.0 * lin.n_v_heads as f64
                + conv_ch * lin.conv_kernel as f64
                + v * h;
            let state_elems = lin.n_v_heads * lin.head_k_dim * lin.head_v_dim
                + lin.conv_kernel.saturating_sub(1)
                    * (2 * lin.n_k_heads * lin.head_k_dim + lin.n_v_heads * lin.head_v_dim);
            return (
                0.0,
                params,
                CacheKind::Recurrent {
                    state_bytes: state_elems * 4,
                },
                0,
                0.0,
            );
        }
        if let Some(m) = &a.mla {
            let heads = a.n_heads as f64;
            let q = if m.q_lora_rank > 0 {
                h * m.q_lora_rank as f64
                    + m.q_lora_rank as f64 * heads * (m.nope_dim + m.rope_dim) as f64
            } else {
                h * heads * (m.nope_dim + m.rope_dim) as f64
            };
            let kv_a = h * (m.kv_lora_rank + m.rope_dim) as f64;
            let kv_b = m.kv_lora_rank as f64 * heads * (m.nope_dim + m.v_head_dim) as f64;
            let o = heads * m.v_head_dim as f64 * h;
            let has_indexer = |d: &Dsa| d.indexer_layers.as_ref().is_none_or(|l| l.contains(&i));
            let (idx_params, idx_per_token) = match &a.dsa {
                Some(d) if has_indexer(d) => {
                    let q_in = if m.q_lora_rank > 0 {
                        m.q_lora_rank
                    } else {
                        a.hidden
                    } as f64;
                    let p = q_in * (d.index_heads * d.index_head_dim) as f64
                        + h * d.index_head_dim as f64
                        + h * d.index_heads as f64;
                    (p, d.index_head_dim)
                }
                _ => (0.0, 0),
            };
            // llama.cpp attends over the latent (absorbed): QK over kv_lora + rope, AV over kv_lora.
            let flops = 2.0 * heads * (2 * m.kv_lora_rank + m.rope_dim) as f64;
            let cache = CacheKind::Latent {
                per_token: m.kv_lora_rank + m.rope_dim,
            };
            return (
                q + kv_a + kv_b + o + idx_params,
                0.0,
                cache,
                idx_per_token,
                flops,
            );
        }
        let full = self.is_full_layer(i);
        let (kv_heads, hd) = match (&a.swa, full) {
            (Some(s), false) => (
                s.swa_n_kv_heads.unwrap_or(self.n_kv_heads()),
                s.swa_head_dim.unwrap_or(self.head_dim()),
            ),
            _ => (self.n_kv_heads(), self.head_dim()),
        };
        let hd_v = if full { self.head_dim_v() } else { hd };
        let heads = a.n_heads as f64;
        let params =
            h * heads * hd as f64 + h * (kv_heads * (hd + hd_v)) as f64 + heads * hd_v as f64 * h;
        let k = kv_heads * hd;
        let v = kv_heads * hd_v;
        let cache = match (&a.swa, full) {
            (Some(s), false) => CacheKind::Sliding {
                k_per_token: k,
                v_per_token: v,
                window: s.window,
            },
            _ => CacheKind::Full {
                k_per_token: k,
                v_per_token: v,
            },
        };
        let flops = 2.0 * heads * (hd + hd_v) as f64;
        (params, 0.0, cache, 0, flops)
    }

    fn layer_params(&self, i: u32) -> (LayerParams, CacheKind, u64, f64) {
        let a = &self.arch;
        let h = a.hidden as f64;
        let mats = if a.gated_ffn { 3.0 } else { 2.0 };
        let (attention, linear, cache, idx, flops) = self.attention(i);
        let mut p = LayerParams {
            attention,
            linear,
            norms: 2.0 * h,
            ..Default::default()
        };
        match (&a.moe, self.is_moe_layer(i)) {
            (Some(m), true) => {
                p.experts =
                    m.experts as f64 * mats * h * m.expert_ffn as f64 + h * m.experts as f64;
                p.shared = m.shared_experts as f64
                    * mats
                    * h
                    * m.shared_expert_ffn.unwrap_or(m.expert_ffn) as f64;
            }
            _ => p.ffn_dense = mats * h * a.ffn as f64,
        }
        (p, cache, idx, flops)
    }

    /// Derived parameter totals per group over all decode layers, after `[params.groups_b]` overrides.
    fn layer_plan(&self) -> Vec<(LayerParams, CacheKind, u64, f64)> {
        let mut layers: Vec<_> = (0..self.arch.n_layers)
            .map(|i| self.layer_params(i))
            .collect();
        if let Some(g) = &self.params.groups_b {
            type Pick = fn(&mut LayerParams) -> &mut f64;
            let fields: [(Option<f64>, Pick); 5] = [
                (g.attention, |p| &mut p.attention),
                (g.linear_attention, |p| &mut p.linear),
                (g.ffn_dense, |p| &mut p.ffn_dense),
                (g.experts, |p| &mut p.experts),
                (g.shared_experts, |p| &mut p.shared),
            ];
            for (want, pick) in fields {
                let Some(want) = want else { continue };
                let derived: f64 = layers.iter_mut().map(|l| *pick(&mut l.0)).sum();
                let n = layers.len().max(1) as f64;
                for l in &mut layers {
                    let v = pick(&mut l.0);
                    *v = if derived > 0.0 {
                        *v * want * 1e9 / derived
                    } else {
                        want * 1e9 / n
                    };
                }
            }
        }
        layers
    }

    /// Total parameters the spec describes (derived), for checking against `params.total_b`.
    pub fn derived_total_params(&self) -> f64 {
        self.shape(&QuantScheme::Bpw {
            name: "count".into(),
            bpw: 8.0,
        })
        .total_weights()
        .params
    }

    /// Expand the spec into a shape at the given quantization.
    pub fn shape(&self, quant: &QuantScheme) -> ModelShape {
        let a = &self.arch;
        let h = a.hidden as f64;
        let bits = |g: TensorGroup| quant.bits(g);
        let group = |params: f64, g: TensorGroup| Group::at_bpw(params, bits(g));
        let embd_params = self
            .params
            .groups_b
            .as_ref()
            .and_then(|g| g.token_embd)
            .map_or(a.vocab as f64 * h, |b| b * 1e9);
        let output_params = self
            .params
            .groups_b
            .as_ref()
            .and_then(|g| g.output)
            .map_or(a.vocab as f64 * h, |b| b * 1e9);
        let token_embd = group(embd_params, TensorGroup::TokenEmbd);
        let output = if a.tied_embeddings {
            token_embd
        } else {
            group(output_params, TensorGroup::Output)
        };
        let plan = self.layer_plan();
        let layers: Vec<Layer> = plan
            .iter()
            .map(|(p, cache, idx, flops)| Layer {
                attention: group(p.attention + p.linear, TensorGroup::Attention),
                ffn_dense: group(p.ffn_dense, TensorGroup::FfnDense),
                experts: group(p.experts, TensorGroup::Experts),
                shared_experts: group(p.shared, TensorGroup::SharedExperts),
                norms: group(p.norms, TensorGroup::Norms),
                cache: *cache,
                indexer_per_token: *idx,
                attn_flops_per_ctx_token: *flops,
                attn_heads: if *flops > 0.0 { a.n_heads } else { 0 },
                ops: 0,
            })
            .collect();
        // An MTP block is one more decoder layer plus its projection (2h x h); not read at decode.
        let mtp = match layers.last() {
            Some(l) if a.n_mtp_layers > 0 => {
                let extra = group(2.0 * h * h, TensorGroup::Attention);
                l.total().plus(extra).scaled(a.n_mtp_layers as f64)
            }
            _ => Group::default(),
        };
        ModelShape {
            name: self.display_name.clone(),
            quant_label: quant.label(),
            vocab: a.vocab,
            hidden: a.hidden,
            token_embd,
            output,
            tied_embeddings: a.tied_embeddings,
            globals: group(h, TensorGroup::Norms),
            layers,
            mtp,
            experts: a.moe.as_ref().map(|m| Experts {
                count: m.experts,
                used: m.experts_used,
            }),
            ctx_train: self.context.train,
            rope_scaling: self.context.rope_scaling.as_ref().map(|r| RopeScaling {
                kind: r.kind.clone(),
                factor: r.factor,
                original_ctx: r.original,
            }),
            weight_types: Vec::new(),
        }
        .with_typical_ops()
    }

    /// Checks fields are in range; returns the offending field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let a = &self.arch;
        let positive = [
            ("arch.n_layers", a.n_layers as u64),
            ("arch.hidden", a.hidden),
            ("arch.vocab", a.vocab),
            ("arch.n_heads", a.n_heads),
            ("context.train", self.context.train),
        ];
        for (f, v) in positive {
            if v == 0 {
                return Err((f.into(), "must be positive".into()));
            }
        }
        if let Some(m) = &a.moe {
            if m.experts_used == 0 || m.experts_used > m.experts {
                return Err((
                    "arch.moe.experts_used".into(),
                    format!("{} must be in 1..={}", m.experts_used, m.experts),
                ));
            }
        }
        if a.moe.is_none() && a.ffn == 0 {
            return Err((
                "arch.ffn".into(),
                "a dense model needs a positive ffn size".into(),
            ));
        }
        Ok(())
    }
}
