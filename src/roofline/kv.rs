//! KV cache: bytes read per generated token at a context depth, and bytes
//! llama.cpp allocates for a context.
//!
//! Each rule follows llama.cpp b11434 (file:line in that tree; the details and
//! quotes are in `docs/llama-cpp-facts.md`):
//! - full attention reads K and V rows of every cached token;
//! - latent attention (MLA: deepseek2, glm-dsa, ...) caches one K row of
//!   `kv_lora_rank + rope_dim` per token and no V at all: `has_v = !is_mla`
//!   (`src/llama-kv-cache.cpp:163`), V is a view of K (`src/llama-graph.cpp:3088`);
//! - a sparse-attention (DSA) indexer keeps a second K-only cache of
//!   `indexer.key_length` per token on its indexer layers, built with the main
//!   cache's types, i.e. `-ctk` (`src/llama-kv-cache-dsa.cpp:43-53`);
//! - multi-token-prediction (nextn) layers get no cells in the main context
//!   (`src/llama-model.cpp:2812-2820`): shapes simply leave them out of `layers`;
//! - recurrent / linear-attention state is always f32 whatever `-ctk`, one
//!   cell per sequence (`src/llama-model.cpp:2730-2790`,
//!   `src/llama-memory-recurrent.cpp:101-105`);
//! - sliding-window layers get `GGML_PAD(min(n_ctx, window x n_seq + n_ubatch), 256)`
//!   cells (the unified-cache case), or the full context with `--swa-full`
//!   (`src/llama-kv-cache-iswa.cpp:69-81`), and read at most `window` tokens;
//! - `-c` is padded up to a multiple of 256 cells (`src/llama-context.cpp:292`).

use crate::dtype::ggml::GgmlType;
use crate::dtype::CacheDtype;
use crate::shape::{CacheKind, Layer, ModelShape};
use serde::Serialize;

/// llama.cpp pads the context to a multiple of this many cells.
pub const CTX_PAD: u64 = 256;

/// KV cache element types (`-ctk`, `-ctv`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KvTypes {
    /// K cache type.
    pub k: CacheDtype,
    /// V cache type.
    pub v: CacheDtype,
}

impl Default for KvTypes {
    fn default() -> Self {
        KvTypes {
            k: GgmlType::F16.into(),
            v: GgmlType::F16.into(),
        }
    }
}

/// Tokens a layer attends over at depth `depth`.
pub fn attended(cache: &CacheKind, depth: u64) -> u64 {
    match cache {
        CacheKind::Sliding { window, .. } => depth.min(*window),
        CacheKind::Recurrent { .. } => 0,
        _ => depth,
    }
}

/// Bytes of cache one layer reads to generate a token at depth `depth`.
pub fn layer_read_bytes(layer: &Layer, depth: u64, kv: KvTypes) -> f64 {
    let d = attended(&layer.cache, depth) as f64;
    let main = match layer.cache {
        CacheKind::Recurrent { state_bytes } => state_bytes as f64,
        ref cache => {
            let (k, v) = cache.kv_per_token();
            d * (k as f64 * kv.k.bytes_per_element() + v as f64 * kv.v.bytes_per_element())
        }
    };
    // The DSA indexer cache is built with the main cache's K type (llama-kv-cache-dsa.cpp:43-53).
    main + depth as f64 * layer.indexer_per_token as f64 * kv.k.bytes_per_element()
}

/// Bytes of cache read per generated token at depth `depth`, all layers.
pub fn read_bytes(shape: &ModelShape, depth: u64, kv: KvTypes) -> f64 {
    shape
        .layers
        .iter()
        .map(|l| layer_read_bytes(l, depth, kv))
        .sum()
}

/// Context cells llama.cpp allocates for `-c ctx`.
pub fn padded_cells(ctx: u64) -> u64 {
    ctx.div_ceil(CTX_PAD) * CTX_PAD
}

/// What llama.cpp allocates for a context.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct KvAllocation {
    /// Cells of the full-attention cache (`-c` padded to 256).
    pub cells: u64,
    /// Cells of each sliding-window layer's cache.
    pub swa_cells: u64,
    /// Bytes of K/V (or latent) cache of full and latent layers.
    pub kv_bytes: f64,
    /// Bytes of the sliding-window layers' cache.
    pub swa_bytes: f64,
    /// Bytes of the DSA indexer key cache (printed separately by llama.cpp).
    pub indexer_bytes: f64,
    /// Bytes of recurrent state (f32).
    pub recurrent_bytes: f64,
    /// Layers that hold a cache of any kind.
    pub layers: usize,
}

impl KvAllocation {
    /// All cache bytes.
    pub fn total(&self) -> f64 {
        self.kv_bytes + self.swa_bytes + self.indexer_bytes + self.recurrent_bytes
    }
}

/// Options that change the cache size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KvOptions {
    /// Cache element types.
    pub types: KvTypes,
    /// Parallel sequences (`-np`).
    pub n_seq: u64,
    /// Micro-batch (`-ub`), which pads sliding-window caches.
    pub ubatch: u64,
    /// `--swa-full`: sliding layers get a full-size cache.
    pub swa_full: bool,
}

impl Default for KvOptions {
    fn default() -> Self {
        KvOptions {
            types: KvTypes::default(),
            n_seq: 1,
            ubatch: 512,
            swa_full: false,
        }
    }
}

/// Bytes llama.cpp allocates for context `ctx` (total over all slots, as `-c` is).
pub fn allocation(shape: &ModelShape, ctx: u64, opts: KvOptions) -> KvAllocation {
    let cells = padded_cells(ctx);
    let swa_cells = |window: u64| {
        if opts.swa_full {
            cells
        } else {
            padded_cells((window * opts.n_seq.max(1) + opts.ubatch).min(cells))
        }
    };
    let (k_b, v_b) = (
        opts.types.k.bytes_per_element(),
        opts.types.v.bytes_per_element(),
    );
    let mut a = KvAllocation {
        cells,
        ..Default::default()
    };
    for layer in &shape.layers {
        a.layers += 1;
        match layer.cache {
            CacheKind::Full {
                k_per_token,
                v_per_token,
            } => a.kv_bytes += cells as f64 * (k_per_token as f64 * k_b + v_per_token as f64 * v_b),
            CacheKind::Sliding {
                k_per_token,
                v_per_token,
                window,
            } => {
                let c = swa_cells(window);
                a.swa_cells = a.swa_cells.max(c);
                a.swa_bytes += c as f64 * (k_per_token as f64 * k_b + v_per_token as f64 * v_b);
            }
            CacheKind::Latent { per_token } => a.kv_bytes += cells as f64 * per_token as f64 * k_b,
            CacheKind::Recurrent { state_bytes } => {
                a.recurrent_bytes += state_bytes as f64 * opts.n_seq.max(1) as f64
            }
        }
        a.indexer_bytes += cells as f64 * layer.indexer_per_token as f64 * k_b;
    }
    a
}
