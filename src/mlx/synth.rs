//! Random-weight MLX model directories of a requested shape, deterministic
//! per seed, that `mlx_lm.server` loads offline: a `llama` config, float32
//! weights in one `model.safetensors` (MLX's CPU build sends only float32
//! matrix products to BLAS; bf16 is several times slower there, measured in
//! `mlx-cpu.md`), the SPM-style tokenizer of [`super::tokenizer`] and a chat
//! template. The embedding is tied to the output head and the rows of the
//! special tokens (`<unk>`, `<s>`, `</s>`, the chat markers) are zero, so
//! their logits are always 0 and greedy decoding neither stops early (the
//! server has no `ignore_eos`; llama.cpp also stops on `<|end|>`) nor emits
//! a marker whose text a server drops from the stream (llama.cpp does for
//! control tokens, which matters for the GGUF twin, `crate::twin`).

use super::safetensors::{self, TensorSpec};
use super::{io, tokenizer, MlxError};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// The shape of a synthetic MLX model (`llama`, tied embeddings).
#[derive(Debug, Clone, PartialEq)]
pub struct MlxSynth {
    /// Decoder layers.
    pub layers: u32,
    /// Hidden size.
    pub hidden: u64,
    /// FFN size.
    pub ff: u64,
    /// Attention heads.
    pub heads: u64,
    /// KV heads.
    pub kv_heads: u64,
    /// Vocabulary size (tokens).
    pub vocab: u64,
    /// Training window, tokens (`max_position_embeddings`).
    pub ctx_train: u64,
    /// PRNG seed: the same seed gives the same directory.
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Written {
    /// Parameters in all tensors.
    pub params: u64,
    /// Bytes of `model.safetensors`.
    pub weights_bytes: u64,
}

impl MlxSynth {
    /// Dimension of one attention head.
    pub fn head_dim(&self) -> u64 {
        self.hidden / self.heads.max(1)
    }

    /// Why the shape cannot be written, if it cannot.
    pub fn validate(&self) -> Result<(), MlxError> {
        let bad = |m: String| Err(MlxError::Synth(m));
        if self.layers == 0 || self.hidden == 0 || self.ff == 0 {
            return bad("--layers, --hidden and --ff must be above 0".into());
        }
        if self.heads == 0 || self.hidden % self.heads != 0 || self.head_dim() % 2 != 0 {
            return bad(format!(
                "--heads {} must divide --hidden {} into an even head size (hint: --heads {})",
                self.heads,
                self.hidden,
                (self.hidden / 64).max(1)
            ));
        }
        if self.kv_heads == 0 || self.heads % self.kv_heads != 0 {
            return bad(format!(
                "--kv-heads {} must divide --heads {}",
                self.kv_heads, self.heads
            ));
        }
        let (lo, hi) = (tokenizer::min_vocab(), tokenizer::max_vocab());
        if !(lo..=hi).contains(&self.vocab) {
            return bad(format!(
                "--vocab {} is outside what the synthetic tokenizer fills ({lo}..={hi})",
                self.vocab
            ));
        }
        Ok(())
    }

    /// The tensors in Hugging Face / MLX naming.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let (h, hd) = (self.hidden, self.head_dim());
        let (q, kv) = (hd * self.heads, hd * self.kv_heads);
        let t = |name: String, shape: &[u64]| TensorSpec {
            name,
            dtype: "F32",
            shape: shape.to_vec(),
        };
        let mut out = vec![
            t("model.embed_tokens.weight".into(), &[self.vocab, h]),
            t("model.norm.weight".into(), &[h]),
        ];
        for i in 0..self.layers {
            let n = |s: &str| format!("model.layers.{i}.{s}.weight");
            out.push(t(n("input_layernorm"), &[h]));
            out.push(t(n("self_attn.q_proj"), &[q, h]));
            out.push(t(n("self_attn.k_proj"), &[kv, h]));
            out.push(t(n("self_attn.v_proj"), &[kv, h]));
            out.push(t(n("self_attn.o_proj"), &[h, q]));
            out.push(t(n("post_attention_layernorm"), &[h]));
            out.push(t(n("mlp.gate_proj"), &[self.ff, h]));
            out.push(t(n("mlp.up_proj"), &[self.ff, h]));
            out.push(t(n("mlp.down_proj"), &[h, self.ff]));
        }
        out
    }

    /// `config.json`.
    pub fn config(&self) -> serde_json::Value {
        json!({
            "model_type": "llama",
            "architectures": ["LlamaForCausalLM"],
            "hidden_size": self.hidden,
            "num_hidden_layers": self.layers,
            "intermediate_size": self.ff,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "head_dim": self.head_dim(),
            "vocab_size": self.vocab,
            "max_position_embeddings": self.ctx_train,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "tie_word_embeddings": true,
            "bos_token_id": tokenizer::BOS_ID,
            "eos_token_id": tokenizer::EOS_ID,
            "torch_dtype": "float32",
            "rooftune_synthetic": {"seed": self.seed},
        })
    }

    /// Write the directory (created if missing); files already there are replaced.
    pub fn write(&self, dir: &Path) -> Result<Written, MlxError> {
        self.validate()?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let json_file = |name: &str, v: &serde_json::Value| -> Result<(), MlxError> {
            let p = dir.join(name);
            let text =
                serde_json::to_string_pretty(v).map_err(|e| MlxError::Synth(e.to_string()))?;
            std::fs::write(&p, text + "\n").map_err(io(&p))
        };
        json_file("config.json", &self.config())?;
        json_file(
            "generation_config.json",
            &json!({
            "bos_token_id": tokenizer::BOS_ID, "eos_token_id": tokenizer::EOS_ID}),
        )?;
        json_file("tokenizer.json", &tokenizer::tokenizer_json(self.vocab))?;
        json_file(
            "tokenizer_config.json",
            &tokenizer::tokenizer_config(self.ctx_train),
        )?;
        json_file("special_tokens_map.json", &tokenizer::special_tokens_map())?;
        let tensors = self.tensors();
        let mut index = 0usize;
        let bytes = safetensors::write(
            &dir.join("model.safetensors"),
            &tensors,
            &[("format", "mlx")],
            |t, w| {
                index += 1;
                fill(t, self.rng(index - 1), w)
            },
        )?;
        Ok(Written {
            params: tensors
                .iter()
                .map(|t| t.shape.iter().product::<u64>())
                .sum(),
            weights_bytes: bytes,
        })
    }
}

impl MlxSynth {
    /// The PRNG of tensor `i` of [`Self::tensors`] (each tensor has its own).
    fn rng(&self, i: usize) -> SmallRng {
        let index = i as u64 + 1;
        SmallRng::seed_from_u64(self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The bytes (float32, little-endian, row-major) that [`Self::write`]
    /// stores for tensor `i` of [`Self::tensors`]; None past the last.
    pub fn tensor_bytes(&self, i: usize) -> Option<Vec<u8>> {
        let t = self.tensors().into_iter().nth(i)?;
        let mut out = Vec::with_capacity(t.bytes() as usize);
        fill(&t, self.rng(i), &mut out).ok()?;
        Some(out)
    }
}

/// One tensor's float32 values: norms 1, the embedding uniform in
/// ±0.02 with zero rows for the special tokens, linear layers uniform in ±1/sqrt(fan-in)
/// (MLX's `nn.Linear` initialisation).
fn fill(t: &TensorSpec, mut rng: SmallRng, w: &mut dyn Write) -> std::io::Result<()> {
    let (rows, cols) = match t.shape[..] {
        [n] => (1, n),
        [r, c] => (r, c),
        _ => (1, t.shape.iter().product()),
    };
    let mut buf = Vec::with_capacity(cols as usize * 4);
    let embed = t.name.contains("embed_tokens");
    let amp = if embed {
        0.02
    } else {
        1.0 / (cols as f32).sqrt()
    };
    for r in 0..rows {
        buf.clear();
        for _ in 0..cols {
            let x: f32 = if t.shape.len() == 1 {
                1.0
            } else if embed && r < tokenizer::SPECIALS.len() as u64 {
                0.0
            } else {
                rng.gen_range(-amp..amp)
            };
            buf.extend_from_slice(&x.to_le_bytes());
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> MlxSynth {
        MlxSynth {
            layers: 2,
            hidden: 64,
            ff: 128,
            heads: 4,
            kv_heads: 2,
            vocab: 200,
            ctx_train: 2048,
            seed: 7,
        }
    }

    #[test]
    fn same_seed_same_bytes_and_the_header_matches_the_shape() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        let w = tiny().write(&a).unwrap();
        tiny().write(&b).unwrap();
        let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
        assert_eq!(read(&a), read(&b));
        let other = MlxSynth { seed: 8, ..tiny() };
        other.write(&b).unwrap();
        assert_ne!(read(&a), read(&b));
        let h = safetensors::read_header(&a.join("model.safetensors")).unwrap();
        assert_eq!(h.len(), 2 + 9 * 2);
        assert_eq!(w.params, h.iter().map(|t| t.elements()).sum::<u64>());
        assert!(a.join("tokenizer.json").is_file() && a.join("config.json").is_file());
        // tensor_bytes is what write stored, tensor by tensor
        let file = read(&a);
        for (i, t) in safetensors::read_header(&a.join("model.safetensors"))
            .unwrap()
            .iter()
            .enumerate()
        {
            let j = tiny()
                .tensors()
                .iter()
                .position(|s| s.name == t.name)
                .unwrap();
            let at = t.file_offset as usize;
            let bytes = tiny().tensor_bytes(j).unwrap();
            assert_eq!(
                &file[at..at + t.bytes as usize],
                &bytes[..],
                "tensor {i} {}",
                t.name
            );
        }
        assert!(tiny().tensor_bytes(tiny().tensors().len()).is_none());
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(MlxSynth { heads: 3, ..tiny() }.validate().is_err());
        assert!(MlxSynth {
            kv_heads: 3,
            ..tiny()
        }
        .validate()
        .is_err());
        assert!(MlxSynth { vocab: 5, ..tiny() }.validate().is_err());
    }
}
