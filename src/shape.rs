//! What the roofline engine knows about a model: parameters and bytes per
//! tensor group, layer by layer, and how each layer caches its context.
//!
//! A shape is built either from a catalog spec plus a quantization (bytes =
//! params x bits per weight) or from a GGUF file (bytes exact per tensor).
//! Everything downstream (decode, prefill, memory fit, placement) reads only
//! this struct, so both sources are predicted the same way.

use serde::{Deserialize, Serialize};

/// Parameters and bytes of one group of tensors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Group {
    /// Number of weights.
    pub params: f64,
    /// Bytes those weights occupy at their quantization.
    pub bytes: f64,
}

impl Group {
    /// A group of `params` weights stored at `bits_per_weight`.
    pub fn at_bpw(params: f64, bits_per_weight: f64) -> Self {
        Group {
            params,
            bytes: params * bits_per_weight / 8.0,
        }
    }
    /// Sum of two groups.
    pub fn plus(self, other: Group) -> Group {
        Group {
            params: self.params + other.params,
            bytes: self.bytes + other.bytes,
        }
    }
    /// The group scaled by `f` (e.g. K/E of the routed experts).
    pub fn scaled(self, f: f64) -> Group {
        Group {
            params: self.params * f,
            bytes: self.bytes * f,
        }
    }
}

/// How one decoder layer keeps its context, in cache *elements* per token
/// (their byte size depends on `-ctk`/`-ctv`) or, for recurrent layers, fixed
/// bytes of state per sequence.
///
/// Rules follow what llama.cpp allocates (see `docs/llama-cpp-facts.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CacheKind {
    /// Full attention: K and V rows of `n_kv_heads x head_dim` per token.
    Full {
        /// K elements per token (`n_embd_k_gqa`).
        k_per_token: u64,
        /// V elements per token (`n_embd_v_gqa`).
        v_per_token: u64,
    },
    /// Sliding-window attention: like `Full`, but reads at most `window` tokens.
    Sliding {
        /// K elements per token.
        k_per_token: u64,
        /// V elements per token.
        v_per_token: u64,
        /// Window length in tokens.
        window: u64,
    },
    /// Multi-head latent attention (DeepSeek-V2/V3, GLM-5, Kimi): llama.cpp
    /// caches the compressed latent plus the RoPE part as K and reads V as a
    /// view of it, so one row of `kv_lora_rank + rope_dim` per token.
    Latent {
        /// Elements per token (`kv_lora_rank + qk_rope_head_dim`).
        per_token: u64,
    },
    /// Linear-attention / SSM layer of a hybrid: a constant state, kept in f32
    /// whatever `-ctk` says.
    Recurrent {
        /// Bytes of state per sequence (conv + recurrent state).
        state_bytes: u64,
    },
}

impl CacheKind {
    /// Cache elements stored per token as (K, V): the latent row counts as K
    /// (llama.cpp reads V as a view of it); (0, 0) for a recurrent layer's
    /// fixed state.
    pub fn kv_per_token(&self) -> (u64, u64) {
        match *self {
            CacheKind::Full {
                k_per_token,
                v_per_token,
            }
            | CacheKind::Sliding {
                k_per_token,
                v_per_token,
                ..
            } => (k_per_token, v_per_token),
            CacheKind::Latent { per_token } => (per_token, 0),
            CacheKind::Recurrent { .. } => (0, 0),
        }
    }

    /// Cache elements stored per token (K plus V, or the latent row; 0 for a
    /// recurrent layer's fixed state).
    pub fn elements_per_token(&self) -> u64 {
        let (k, v) = self.kv_per_token();
        k + v
    }
}

/// One decoder layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    /// Attention (or linear-attention / recurrent mixing) projections.
    pub attention: Group,
    /// Dense FFN (zero in MoE layers).
    pub ffn_dense: Group,
    /// All routed experts of the layer, router included.
    pub experts: Group,
    /// Shared (always active) experts.
    pub shared_experts: Group,
    /// Norms and small vectors (f32).
    pub norms: Group,
    /// How this layer caches context.
    pub cache: CacheKind,
    /// Sparse-attention (DSA) indexer keys cached per token, in elements; 0 if none.
    pub indexer_per_token: u64,
    /// Attention FLOPs per query token per cached context token (QK^T and AV),
    /// used for prefill at depth: `2 * n_heads * (head_dim_k + head_dim_v)`.
    pub attn_flops_per_ctx_token: f64,
    /// Query heads that attend over the context (0 for a recurrent layer):
    /// a CPU attention kernel pays a cost per head per cached token beyond
    /// the arithmetic (`estimate::head_positions`).
    pub attn_heads: u64,
    /// Graph operations the layer runs per token ([`layer_ops`]): on a CPU
    /// each one ends at a barrier of all threads, so a layer with more small
    /// operations costs more whatever its bytes.
    pub ops: u64,
}

/// Operations of a layer besides its weights' matrix products and norms:
/// RoPE of Q and of K, the K and V cache writes, attention, two residual adds
/// and the FFN's gated activation.
pub const CORE_LAYER_OPS: u64 = 8;

/// Graph operations a plain (llama) decoder layer runs per token: 7 matrix
/// products, 2 norms of 2 operations each (normalize, then scale by the
/// norm's weights) and [`CORE_LAYER_OPS`]. llama-server b11434 reports
/// `graph: nodes = 31 x layers + 9` for generated llama models; 12 of each
/// layer's 31 are views and reshapes its CPU backend skips.
pub const PLAIN_LAYER_OPS: u64 = 7 + 2 * 2 + CORE_LAYER_OPS;

/// Graph operations per token of a layer with `matrices` weight matrices,
/// `norms` norm-weight vectors, `vectors` other vectors (biases, scales:
/// one add or multiply each) and `used` routed experts per token (a router
/// adds its gating, the top-k selection, the weights' gather and multiply,
/// and `used - 1` adds summing the experts). Gemma 3's layers normalize Q
/// and K and the outputs of attention and the FFN as well: 6 norms, 27
/// operations (its graph: 40 nodes per layer where llama's has 31).
pub fn layer_ops(matrices: u64, norms: u64, vectors: u64, used: u64) -> u64 {
    let routing = if used > 0 { 3 + used } else { 0 };
    matrices + 2 * norms + vectors + CORE_LAYER_OPS + routing
}

/// The weights of one storage type (a GGUF's ggml type), for the estimate's
/// per-type terms: each type runs its own kernel, and on a CPU the kernel,
/// not the memory, can set the pace (llama.cpp repacks some types for
/// faster dot products and not others).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypedWeights {
    /// The type's name (`q4_0`, `q6_K`, `f16`), or a catalog shape's
    /// quantization label when the source knows no types.
    pub name: String,
    /// What a generated token reads of them: one embedding row, the output
    /// head, the layers' active share.
    pub read: Group,
    /// What a prompt token multiplies: the decoder layers' active share (the
    /// output head runs for the last prompt token only).
    pub layers: Group,
    /// The output head's part of `read` (its rows are the vocabulary).
    pub head: Group,
}

impl TypedWeights {
    /// Bits per weight (of what is read, else of the layers' share).
    pub fn bits(&self) -> f64 {
        let g = if self.read.params > 0.0 {
            self.read
        } else {
            self.layers
        };
        if g.params > 0.0 {
            8.0 * g.bytes / g.params
        } else {
            0.0
        }
    }
}

/// Mixture-of-experts routing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Experts {
    /// Routed experts per MoE layer (E).
    pub count: u32,
    /// Experts used per token (K).
    pub used: u32,
}

/// RoPE scaling that extends a model's window past its native one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RopeScaling {
    /// Method: `yarn`, `linear`, `longrope`, `llama3`, ...
    pub kind: String,
    /// Scaling factor.
    pub factor: f64,
    /// Native (pre-scaling) window in tokens.
    pub original_ctx: u64,
}

/// Everything the engine needs about one model at one quantization.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelShape {
    /// Display name.
    pub name: String,
    /// Short label of the quantization (`q4_k_m`, `gguf file`, `mlx-4bit`).
    pub quant_label: String,
    /// Vocabulary size (rows of the token-embedding table).
    pub vocab: u64,
    /// Hidden size.
    pub hidden: u64,
    /// Token-embedding table (one row is read per token).
    pub token_embd: Group,
    /// Output head (read in full each token; equals the embedding when tied).
    pub output: Group,
    /// Whether the output head is the token-embedding table itself.
    pub tied_embeddings: bool,
    /// Output norm and other global small tensors.
    pub globals: Group,
    /// Decoder layers used at decode.
    pub layers: Vec<Layer>,
    /// Multi-token-prediction (nextn) tensors: in the file, not read at decode.
    pub mtp: Group,
    /// Routing, for MoE models.
    pub experts: Option<Experts>,
    /// Training window (`n_ctx_train`) in tokens: what llama.cpp caps a slot to.
    pub ctx_train: u64,
    /// RoPE scaling that produced `ctx_train`, if any.
    pub rope_scaling: Option<RopeScaling>,
    /// The weights by storage type (empty when the source knows no types:
    /// [`ModelShape::typed_weights`] then gives one entry for all).
    pub weight_types: Vec<TypedWeights>,
}

impl Layer {
    /// The graph operations of a layer whose source lists no tensors (a
    /// catalog spec, an MLX shape): the matrices its groups imply (4 for
    /// attention, 3 for a dense FFN, a router and 3 for routed experts, 3
    /// for shared ones) and 2 norms.
    pub fn typical_ops(&self, experts: Option<Experts>) -> u64 {
        let has = |g: Group, n: u64| if g.params > 0.0 { n } else { 0 };
        let matrices = has(self.attention, 4)
            + has(self.ffn_dense, 3)
            + has(self.experts, 4)
            + has(self.shared_experts, 3);
        let used = match experts {
            Some(e) if self.experts.params > 0.0 => e.used as u64,
            _ => 0,
        };
        layer_ops(matrices, 2, 0, used)
    }

    /// Bytes of this layer read per generated token: everything but the
    /// routed experts, plus `used / count` of those.
    pub fn active(&self, experts: Option<Experts>) -> Group {
        let routed = match experts {
            Some(e) if e.count > 0 => self.experts.scaled(e.used as f64 / e.count as f64),
            _ => self.experts,
        };
        self.attention
            .plus(self.ffn_dense)
            .plus(self.shared_experts)
            .plus(self.norms)
            .plus(routed)
    }

    /// All weights of the layer.
    pub fn total(&self) -> Group {
        self.attention
            .plus(self.ffn_dense)
            .plus(self.shared_experts)
            .plus(self.norms)
            .plus(self.experts)
    }
}

impl ModelShape {
    /// The shape with every layer's `ops` set to [`Layer::typical_ops`]
    /// (for sources that list no tensors).
    pub fn with_typical_ops(mut self) -> Self {
        let experts = self.experts;
        for l in &mut self.layers {
            l.ops = l.typical_ops(experts);
        }
        self
    }

    /// The layers counted in plain-layer equivalents: their graph operations
    /// over [`PLAIN_LAYER_OPS`] (a llama model's layer count; Gemma 3
    /// 270M's 18 layers count as 25.6). What the estimate's per-layer terms
    /// multiply.
    pub fn layer_equivalents(&self) -> f64 {
        self.layers.iter().map(|l| l.ops as f64).sum::<f64>() / PLAIN_LAYER_OPS as f64
    }

    /// One row of the token-embedding table.
    pub fn embd_row(&self) -> Group {
        if self.vocab == 0 {
            return Group::default();
        }
        self.token_embd.scaled(1.0 / self.vocab as f64)
    }

    /// Weights read per generated token (the definition): one embedding
    /// row, the full output head, all shared tensors and K/E of routed experts.
    pub fn active_weights(&self) -> Group {
        self.layers.iter().fold(
            self.embd_row().plus(self.output).plus(self.globals),
            |acc, l| acc.plus(l.active(self.experts)),
        )
    }

    /// What each prompt token multiplies: the decoder layers' active share
    /// (no embedding row, no output head: prefill asks for the logits of the
    /// last prompt token only).
    pub fn layer_weights(&self) -> Group {
        self.layers
            .iter()
            .fold(Group::default(), |acc, l| acc.plus(l.active(self.experts)))
    }

    /// The weights by storage type; one entry named after the quantization
    /// label when the source knows no types.
    pub fn typed_weights(&self) -> Vec<TypedWeights> {
        if !self.weight_types.is_empty() {
            return self.weight_types.clone();
        }
        vec![TypedWeights {
            name: self.quant_label.clone(),
            read: self.active_weights(),
            layers: self.layer_weights(),
            head: self.output,
        }]
    }

    /// Whether the weights read per token are quantized (at most 9 bits per
    /// weight: Q8_0 is 8.5), so the runtime dots them as integers; f16, bf16
    /// and f32 weights take the float path.
    pub fn quantized_weights(&self) -> bool {
        let a = self.active_weights();
        a.params > 0.0 && 8.0 * a.bytes / a.params <= 9.0
    }

    /// All weights in the file (embedding and output counted once when tied).
    pub fn total_weights(&self) -> Group {
        let output = if self.tied_embeddings {
            Group::default()
        } else {
            self.output
        };
        self.layers.iter().fold(
            self.token_embd
                .plus(output)
                .plus(self.globals)
                .plus(self.mtp),
            |acc, l| acc.plus(l.total()),
        )
    }

    /// Sum of the routed-expert groups over all layers.
    pub fn routed_experts(&self) -> Group {
        self.layers
            .iter()
            .fold(Group::default(), |acc, l| acc.plus(l.experts))
    }

    /// Routed experts run per token: MoE layers x experts used per token
    /// (the routed-expert matmuls a runtime dispatches for each token;
    /// 0 for a dense model).
    pub fn expert_dispatches(&self) -> f64 {
        let used = self.experts.map_or(0, |e| e.used) as f64;
        let moe_layers = self
            .layers
            .iter()
            .filter(|l| l.experts.params > 0.0)
            .count();
        moe_layers as f64 * used
    }

    /// Number of layers that hold attention of any kind.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// What decides the ceilings, in a few numbers a log can keep.
    pub fn key(&self) -> ShapeKey {
        let a = self.active_weights();
        let kv = self
            .layers
            .iter()
            .map(|l| l.cache.elements_per_token())
            .sum();
        ShapeKey {
            layers: self.layers.len() as u64,
            hidden: self.hidden,
            vocab: self.vocab,
            experts: self.experts.map(|e| (e.count, e.used)),
            kv_elements_per_token: kv,
            params_per_token: a.params,
            bytes_per_token: a.bytes,
        }
    }
}

/// The numbers of a shape that decide its ceilings (weights read per token,
/// the KV cache per token of context), so two model files (a GGUF and its
/// MLX twin) can be told to be the same model or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeKey {
    /// Decoder layers.
    pub layers: u64,
    /// Hidden size.
    pub hidden: u64,
    /// Vocabulary, tokens.
    pub vocab: u64,
    /// Routed experts and experts used per token, for MoE models.
    pub experts: Option<(u32, u32)>,
    /// K and V cache elements per token of context, all layers.
    pub kv_elements_per_token: u64,
    /// Weights read per generated token (`ModelShape::active_weights`).
    pub params_per_token: f64,
    /// Bytes of those weights, bytes per token.
    pub bytes_per_token: f64,
}

impl ShapeKey {
    /// What differs between `self` and `other`, one `what: a vs b` each;
    /// empty when they are the same model (floats within 1e-6).
    pub fn differences(&self, other: &ShapeKey) -> Vec<String> {
        let mut out = Vec::new();
        let mut int = |what: &str, a: u64, b: u64| {
            if a != b {
                out.push(format!("{what}: {a} vs {b}"));
            }
        };
        int("layers", self.layers, other.layers);
        int("hidden size", self.hidden, other.hidden);
        int("vocabulary", self.vocab, other.vocab);
        int(
            "KV elements per token",
            self.kv_elements_per_token,
            other.kv_elements_per_token,
        );
        if self.experts != other.experts {
            let e = |x: Option<(u32, u32)>| x.map_or("none".into(), |(c, u)| format!("{u} of {c}"));
            out.push(format!(
                "experts: {} vs {}",
                e(self.experts),
                e(other.experts)
            ));
        }
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
        if !close(self.params_per_token, other.params_per_token) {
            out.push(format!(
                "weights read per token: {:.0} vs {:.0}",
                self.params_per_token, other.params_per_token
            ));
        }
        if !close(self.bytes_per_token, other.bytes_per_token) {
            out.push(format!(
                "bytes read per token: {:.0} vs {:.0}",
                self.bytes_per_token, other.bytes_per_token
            ));
        }
        out
    }
}
