//! One architecture in both model formats with the same weights: a GGUF for
//! llama-server and an MLX directory for mlx_lm.server (`rooftune synth
//! --format both`), so a comparison of the two is of runtimes, not models.
//!
//! The MLX directory is [`crate::mlx::synth`]'s, byte for byte. The GGUF
//! takes every tensor's float32 values from it by name (llama.cpp's
//! `convert_hf_to_gguf.py` naming), with the one change that converter
//! makes: the rows of `attn_q` and `attn_k` are permuted per head, because
//! llama.cpp's `llama` rope rotates adjacent pairs where Hugging Face's (and
//! MLX's) rotates the two halves of a head. The output head is tied to the
//! embedding in both (the GGUF has no `output.weight`). The GGUF carries the
//! same vocabulary with the same ids as an SPM model: every merge's token
//! scores minus its rank, so llama.cpp's highest-score-first merging picks
//! the pairs Hugging Face's lowest-rank-first BPE does; the same chat
//! template; no BOS added (the template writes it) and no space prefix (the
//! Metaspace pre-tokenizer adds none after a special token).

use crate::gguf::synth::{SynthArch, SynthConfig, SynthQuant, Vocab};
use crate::gguf::Value;
use crate::mlx::synth::MlxSynth;
use crate::mlx::tokenizer;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The GGUF file a twin folder holds.
pub const GGUF_FILE: &str = "model.gguf";
/// The MLX directory a twin folder holds.
pub const MLX_DIR: &str = "mlx";

/// Errors writing a twin.
#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    /// The MLX side failed (shape, I/O).
    #[error(transparent)]
    Mlx(#[from] crate::mlx::MlxError),
    /// The GGUF side failed (shape).
    #[error(transparent)]
    Gguf(#[from] crate::gguf::GgufError),
    /// Writing the GGUF file failed.
    #[error("writing `{}`: {source} (hint: check the directory exists and has space)", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Written {
    /// The GGUF file.
    pub gguf: std::path::PathBuf,
    /// The MLX directory.
    pub mlx: std::path::PathBuf,
    /// Parameters (the same on both sides).
    pub params: u64,
    /// Bytes of the GGUF file.
    pub gguf_bytes: u64,
    /// Bytes of `model.safetensors`.
    pub mlx_weights_bytes: u64,
}

/// The MLX tensor name of a GGUF tensor of a dense llama, or None.
pub fn mlx_name(gguf: &str) -> Option<String> {
    let fixed = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, tail) = rest.split_once('.')?;
    layer.parse::<u32>().ok()?;
    let part = match tail.strip_suffix(".weight")? {
        "attn_norm" => "input_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_norm" => "post_attention_layernorm",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{part}.weight"))
}

/// Heads whose rows the converter permutes for a GGUF tensor: `attn_q` by
/// the attention heads, `attn_k` by the KV heads; None for other tensors.
pub fn permuted_heads(gguf: &str, m: &MlxSynth) -> Option<u64> {
    if gguf.ends_with(".attn_q.weight") {
        Some(m.heads)
    } else if gguf.ends_with(".attn_k.weight") {
        Some(m.kv_heads)
    } else {
        None
    }
}

/// The row order `convert_hf_to_gguf.py` writes for a q or k projection:
/// within each head of `rows / heads` rows, row `2i + s` of the result is
/// row `s * half + i` of the input (`reshape(heads, 2, half, ..)
/// .swapaxes(1, 2)`). Returns, for each output row, its input row.
pub fn permutation(rows: u64, heads: u64) -> Vec<u64> {
    let head_dim = rows / heads.max(1);
    let half = head_dim / 2;
    (0..rows)
        .map(|r| {
            let (h, j) = (r / head_dim, r % head_dim);
            let (i, s) = (j / 2, j % 2);
            h * head_dim + s * half + i
        })
        .collect()
}

/// Rows of `bytes` (each `row_bytes` long) in the order `order` names.
pub fn reorder_rows(bytes: &[u8], row_bytes: usize, order: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &r in order {
        let at = r as usize * row_bytes;
        out.extend_from_slice(&bytes[at..at + row_bytes]);
    }
    out
}

/// The GGUF's tokenizer: the MLX tokenizer's vocabulary, ids and merges as
/// an SPM model (see the module docs).
pub fn gguf_vocab(n: u64) -> Vocab {
    let (tokens, merges) = tokenizer::vocab(n);
    let base = tokens.len() - merges.len();
    let scores: Vec<f32> = (0..tokens.len())
        .map(|i| if i < base { 0.0 } else { -((i - base) as f32) })
        .collect();
    let specials = tokenizer::SPECIALS.len();
    // llama_token_type: 1 normal, 2 unknown, 3 control.
    let types: Vec<i32> = (0..tokens.len())
        .map(|i| match i {
            0 => 2,
            i if i < specials => 3,
            _ => 1,
        })
        .collect();
    let mut keys = Vocab::spm_keys(
        tokens,
        scores,
        types,
        tokenizer::BOS_ID as u32,
        tokenizer::EOS_ID as u32,
    );
    keys.extend([
        ("tokenizer.ggml.padding_token_id".into(), Value::U32(0)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(false)),
        ("tokenizer.ggml.add_eos_token".into(), Value::Bool(false)),
        ("tokenizer.ggml.add_space_prefix".into(), Value::Bool(false)),
        (
            crate::gguf::chat_template::KEY.into(),
            Value::String(tokenizer::CHAT_TEMPLATE.into()),
        ),
    ]);
    Vocab::Copied { keys, n_vocab: n }
}

/// The GGUF side's description: a float32 `llama` of the same shape, tied.
pub fn gguf_config(m: &MlxSynth) -> SynthConfig {
    let mut c = SynthConfig::with_hidden(SynthArch::Llama, m.hidden, m.layers, SynthQuant::F32);
    c.ff = m.ff;
    c.heads = m.heads;
    c.kv_heads = m.kv_heads;
    c.ctx_train = m.ctx_train;
    c.seed = m.seed;
    c.vocab = gguf_vocab(m.vocab);
    c
}

/// Write `dir/model.gguf` and `dir/mlx/` (see the module docs).
pub fn write(m: &MlxSynth, dir: &Path) -> Result<Written, TwinError> {
    m.validate()?;
    let mlx_dir = dir.join(MLX_DIR);
    let mlx = m.write(&mlx_dir)?;
    let c = gguf_config(m);
    c.validate()?;
    let mut w = c.writer();
    w.tensors.retain(|t| t.name != "output.weight");
    let index: BTreeMap<String, usize> = m
        .tensors()
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let path = dir.join(GGUF_FILE);
    let gguf_bytes = w
        .write(&path, |t, out| {
            let missing = || io::Error::other(format!("no MLX tensor for `{}`", t.name));
            let i = mlx_name(&t.name)
                .and_then(|n| index.get(&n).copied())
                .ok_or_else(missing)?;
            let bytes = m.tensor_bytes(i).ok_or_else(missing)?;
            match permuted_heads(&t.name, m) {
                Some(heads) => {
                    let rows = t.dims.get(1).copied().unwrap_or(1);
                    let row_bytes = bytes.len() / rows.max(1) as usize;
                    out.write_all(&reorder_rows(&bytes, row_bytes, &permutation(rows, heads)))
                }
                None => out.write_all(&bytes),
            }
        })
        .map_err(|source| TwinError::Io {
            path: path.clone(),
            source,
        })?;
    Ok(Written {
        gguf: path,
        mlx: mlx_dir,
        params: mlx.params,
        gguf_bytes,
        mlx_weights_bytes: mlx.weights_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufModel;
    use crate::mlx::safetensors;

    fn tiny() -> MlxSynth {
        MlxSynth {
            layers: 2,
            hidden: 64,
            ff: 128,
            heads: 4,
            kv_heads: 2,
            vocab: 300,
            ctx_train: 2048,
            seed: 11,
        }
    }

    #[test]
    fn the_permutation_is_the_converters() {
        // one head of 4 rows: halves [0 1 | 2 3] interleave to 0 2 1 3
        assert_eq!(permutation(4, 1), vec![0, 2, 1, 3]);
        assert_eq!(permutation(8, 2), vec![0, 2, 1, 3, 4, 6, 5, 7]);
        let p = permutation(64, 4);
        let mut sorted = p.clone();
        sorted.sort();
        assert_eq!(sorted, (0..64).collect::<Vec<_>>(), "a permutation");
    }

    #[test]
    fn every_gguf_tensor_has_the_mlx_tensors_values() {
        let t = tempfile::tempdir().unwrap();
        let w = write(&tiny(), t.path()).unwrap();
        let g = GgufModel::open(&w.gguf).unwrap();
        let gbytes = std::fs::read(&w.gguf).unwrap();
        let st = w.mlx.join("model.safetensors");
        let sbytes = std::fs::read(&st).unwrap();
        let mlx: BTreeMap<String, safetensors::TensorInfo> = safetensors::read_header(&st)
            .unwrap()
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        let data = g.shards[0].data_offset;
        let mut seen = 0;
        for gt in g.tensors() {
            let name = mlx_name(&gt.name).expect("every GGUF tensor maps");
            let mt = &mlx[&name];
            assert_eq!(gt.ggml_type, crate::dtype::ggml::GgmlType::F32);
            assert_eq!(gt.n_elements, mt.elements(), "{name}");
            let a = (data + gt.offset) as usize;
            let gdata = &gbytes[a..a + gt.bytes as usize];
            let b = mt.file_offset as usize;
            let mdata = &sbytes[b..b + mt.bytes as usize];
            let expect = match permuted_heads(&gt.name, &tiny()) {
                Some(h) => {
                    let rows = mt.shape[0];
                    reorder_rows(mdata, mdata.len() / rows as usize, &permutation(rows, h))
                }
                None => mdata.to_vec(),
            };
            assert_eq!(gdata, &expect[..], "{} vs {name}", gt.name);
            seen += 1;
        }
        assert_eq!(seen, mlx.len(), "no MLX tensor is left out (tied output)");
        // The vocabulary: same size, same ids.
        let tokens = g.get("tokenizer.ggml.tokens").unwrap().as_array().unwrap();
        assert_eq!(tokens.len() as u64, tiny().vocab);
        let (mlx_tokens, _) = tokenizer::vocab(tiny().vocab);
        for (i, v) in tokens.iter().enumerate() {
            assert_eq!(v.as_str(), Some(mlx_tokens[i].as_str()), "token {i}");
        }
        // Both readers give one shape.
        let gs = crate::gguf::shape::model_shape(&g).unwrap();
        let ms = crate::mlx::shape::model_shape(&w.mlx).unwrap();
        assert_eq!(gs.active_weights().bytes, ms.active_weights().bytes);
        assert_eq!(
            (gs.vocab, gs.hidden, gs.layers.len()),
            (ms.vocab, ms.hidden, ms.layers.len())
        );
    }

    #[test]
    fn names_outside_a_dense_llama_do_not_map() {
        assert_eq!(mlx_name("output.weight"), None);
        assert_eq!(mlx_name("blk.x.attn_q.weight"), None);
        assert_eq!(mlx_name("blk.0.ffn_gate_exps.weight"), None);
        assert_eq!(
            mlx_name("blk.3.ffn_down.weight").as_deref(),
            Some("model.layers.3.mlp.down_proj.weight")
        );
    }
}
