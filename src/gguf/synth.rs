//! Synthetic models: real llama.cpp structure, random weights. Dense models
//! use the `llama` architecture, mixture-of-experts models `qwen3moe`
//! (routed experts, per-head q/k norms). Both load and generate in
//! llama-server; the text is noise but the arithmetic, and so the speed, is
//! that of a real model of the same shape.
//!
//! Weights are written as quantized blocks directly (no f32 detour): a Q8_0
//! block is one f16 scale and 32 random int8, a Q4_0 block one scale and 16
//! bytes of random nibbles, both scaled so weights stay within about ±0.035
//! (a uniform spread with standard deviation ~0.02); Q5_0, Q4_K and Q6_K
//! blocks are random bytes under small f16 scales (their kernels, and so
//! their speed, do not depend on the values); F16 weights are drawn
//! from a table of that distribution. Norm weights are 1.0 (f32). Every
//! tensor has its own PRNG seeded from `--seed` and its index, so a seed
//! gives the same file byte for byte.
//!
//! `--size` picks the shape: for hidden sizes from a ladder (256 .. 8192),
//! with `ff = 2.75 x hidden` rounded up to 256 (expert FFN `0.75 x hidden`
//! for MoE), head_dim 64 below 2048 and 128 from 2048, kv heads = heads / 4,
//! it takes the largest hidden size that still needs at least 8 layers, then
//! the layer count whose file size is closest to the target.

use super::value::{Value, ValueType};
use super::writer::{GgufWriter, TensorSpec};
use super::GgufError;
use crate::dtype::ggml::GgmlType;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use std::io::{self, Write};
use std::path::Path;

/// Which architecture to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthArch {
    /// Dense `llama`.
    Llama,
    /// Mixture of experts as `qwen3moe`.
    Moe,
}

/// Weight quantization of the 2-D tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthQuant {
    /// f32 (the same bytes as a float32 MLX directory).
    F32,
    /// f16.
    F16,
    /// q8_0.
    Q8_0,
    /// q4_0.
    Q4_0,
    /// q5_0 (the 5-bit block most of Gemma 3 270M's Q4_K_M layers use).
    Q5_0,
    /// q4_K (256-weight super-blocks: hidden and FFN sizes must be multiples of 256).
    Q4K,
    /// q6_K (256-weight super-blocks).
    Q6K,
}

impl SynthQuant {
    /// The types a GGUF synth writes (f32 is for MLX twins).
    pub const GGUF: [SynthQuant; 6] = [
        SynthQuant::F16,
        SynthQuant::Q8_0,
        SynthQuant::Q6K,
        SynthQuant::Q5_0,
        SynthQuant::Q4K,
        SynthQuant::Q4_0,
    ];

    /// The type named `name` (`q6_K`, `Q8_0`: ggml's names, any case).
    pub fn from_name(name: &str) -> Option<SynthQuant> {
        Self::GGUF
            .into_iter()
            .find(|q| q.ggml_type().ggml_name().eq_ignore_ascii_case(name))
    }

    /// The ggml type.
    pub fn ggml_type(self) -> GgmlType {
        match self {
            SynthQuant::F32 => GgmlType::F32,
            SynthQuant::F16 => GgmlType::F16,
            SynthQuant::Q8_0 => GgmlType::Q8_0,
            SynthQuant::Q4_0 => GgmlType::Q4_0,
            SynthQuant::Q5_0 => GgmlType::Q5_0,
            SynthQuant::Q4K => GgmlType::Q4_K,
            SynthQuant::Q6K => GgmlType::Q6_K,
        }
    }
    /// `general.file_type` (`enum llama_ftype`).
    fn file_type(self) -> u32 {
        match self {
            SynthQuant::F32 => 0,
            SynthQuant::F16 => 1,
            SynthQuant::Q8_0 => 7,
            SynthQuant::Q4_0 => 2,
            SynthQuant::Q5_0 => 8,
            SynthQuant::Q4K => 15,
            SynthQuant::Q6K => 18,
        }
    }
}

/// The tokenizer to embed.
#[derive(Debug, Clone, PartialEq)]
pub enum Vocab {
    /// `<unk>`, `<s>`, `</s>` and the 256 `<0xNN>` byte tokens, SPM (`llama`) model.
    ByteSpm,
    /// Every `tokenizer.*` key copied from a vocab GGUF.
    Copied {
        /// The keys and values.
        keys: Vec<(String, Value)>,
        /// Number of tokens.
        n_vocab: u64,
    },
}

impl Vocab {
    /// Number of tokens.
    pub fn n_vocab(&self) -> u64 {
        match self {
            Vocab::ByteSpm => 259,
            Vocab::Copied { n_vocab, .. } => *n_vocab,
        }
    }

    /// Take the tokenizer of a (vocab-only or full) GGUF file.
    pub fn from_gguf(f: &super::reader::GgufModel) -> Result<Self, GgufError> {
        let keys: Vec<_> = f
            .metadata()
            .iter()
            .filter(|(k, _)| k.starts_with("tokenizer."))
            .cloned()
            .collect();
        let n_vocab = f
            .get("tokenizer.ggml.tokens")
            .and_then(Value::as_array)
            .map(|a| a.len() as u64)
            .ok_or_else(|| GgufError::Shape {
                path: f.path.clone(),
                what: "has no tokenizer.ggml.tokens array".into(),
                hint: "--vocab-from needs a GGUF with a tokenizer (e.g. models/ggml-vocab-*.gguf)",
            })?;
        Ok(Vocab::Copied { keys, n_vocab })
    }

    fn keys(&self) -> Vec<(String, Value)> {
        match self {
            Vocab::Copied { keys, .. } => keys.clone(),
            Vocab::ByteSpm => {
                let mut tokens = vec!["<unk>".to_string(), "<s>".into(), "</s>".into()];
                tokens.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
                let mut types = vec![2, 3, 3];
                types.extend([6; 256]);
                let scores = vec![0.0; tokens.len()];
                Self::spm_keys(tokens, scores, types, 1, 2)
            }
        }
    }

    /// The `tokenizer.*` keys of an SPM (`llama`) vocabulary: tokens, their
    /// scores and `llama_token_type`s, BOS and EOS ids, unknown = 0.
    pub fn spm_keys(
        tokens: Vec<String>,
        scores: Vec<f32>,
        types: Vec<i32>,
        bos: u32,
        eos: u32,
    ) -> Vec<(String, Value)> {
        vec![
            ("tokenizer.ggml.model".into(), Value::String("llama".into())),
            (
                "tokenizer.ggml.tokens".into(),
                Value::Array(
                    ValueType::String,
                    tokens.into_iter().map(Value::String).collect(),
                ),
            ),
            (
                "tokenizer.ggml.scores".into(),
                Value::Array(ValueType::F32, scores.into_iter().map(Value::F32).collect()),
            ),
            (
                "tokenizer.ggml.token_type".into(),
                Value::Array(ValueType::I32, types.into_iter().map(Value::I32).collect()),
            ),
            ("tokenizer.ggml.bos_token_id".into(), Value::U32(bos)),
            ("tokenizer.ggml.eos_token_id".into(), Value::U32(eos)),
            ("tokenizer.ggml.unknown_token_id".into(), Value::U32(0)),
        ]
    }
}

/// A synthetic model's shape and contents.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Architecture.
    pub arch: SynthArch,
    /// Decoder layers.
    pub layers: u32,
    /// Hidden size.
    pub hidden: u64,
    /// Dense FFN size (the expert FFN size of a MoE).
    pub ff: u64,
    /// Attention heads.
    pub heads: u64,
    /// KV heads.
    pub kv_heads: u64,
    /// Routed experts (MoE only).
    pub experts: u32,
    /// Experts used per token (MoE only).
    pub experts_used: u32,
    /// Weight type.
    pub quant: SynthQuant,
    /// Training context, tokens.
    pub ctx_train: u64,
    /// PRNG seed.
    pub seed: u64,
    /// Tokenizer.
    pub vocab: Vocab,
}

/// Hidden sizes `--size` chooses from.
pub const HIDDEN_LADDER: &[u64] = &[
    256, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096, 5120, 6144, 8192,
];

fn round_up(x: u64, m: u64) -> u64 {
    x.div_ceil(m) * m
}

impl SynthConfig {
    /// Defaults for hidden size `hidden`: heads, kv heads, FFN, experts.
    pub fn with_hidden(arch: SynthArch, hidden: u64, layers: u32, quant: SynthQuant) -> Self {
        let head_dim = if hidden >= 2048 { 128 } else { 64 };
        let heads = (hidden / head_dim).max(1);
        let (ff, experts, used) = match arch {
            SynthArch::Llama => (round_up(hidden * 11 / 4, 256), 0, 0),
            SynthArch::Moe => (round_up(hidden * 3 / 4, 256), 16, 2),
        };
        SynthConfig {
            arch,
            layers,
            hidden,
            ff,
            heads,
            kv_heads: (heads / 4).max(1),
            experts,
            experts_used: used,
            quant,
            ctx_train: 4096,
            seed: 0,
            vocab: Vocab::ByteSpm,
        }
    }

    /// The shape whose file is closest to `target_bytes` (see the module docs).
    pub fn for_size(
        arch: SynthArch,
        target_bytes: u64,
        quant: SynthQuant,
        vocab: &Vocab,
    ) -> Result<Self, GgufError> {
        let mut best = None;
        for &h in HIDDEN_LADDER {
            let mut c = Self::with_hidden(arch, h, 1, quant);
            c.vocab = vocab.clone();
            let one = c.weight_bytes();
            c.layers = 2;
            let per_layer = c.weight_bytes() - one;
            let base = one - per_layer;
            let layers = (target_bytes.saturating_sub(base) as f64 / per_layer as f64).round();
            if layers >= 8.0 || (best.is_none() && layers >= 1.0) {
                c.layers = layers.min(10_000.0) as u32;
                best = Some(c);
            }
        }
        best.ok_or_else(|| {
            GgufError::Synth(format!(
                "--size {target_bytes} bytes is too small for even one layer of hidden size 256 (hint: ask for at least 2MB)"
            ))
        })
    }

    /// Head dimension.
    pub fn head_dim(&self) -> u64 {
        self.hidden / self.heads.max(1)
    }

    /// Check the shape is one llama.cpp can load.
    pub fn validate(&self) -> Result<(), GgufError> {
        let blk = self.quant.ggml_type().block_size();
        let bad = |m: String| Err(GgufError::Synth(m));
        if self.layers == 0 || self.layers > 10_000 {
            return bad(format!(
                "--layers {} must be between 1 and 10000",
                self.layers
            ));
        }
        if self.hidden == 0 || self.hidden % blk != 0 || self.hidden > 65536 {
            return bad(format!(
                "--hidden {} must be a positive multiple of {blk} (the {} block) up to 65536",
                self.hidden,
                self.quant.ggml_type()
            ));
        }
        if self.ff == 0 || self.ff % blk != 0 || self.ff > 1 << 20 {
            return bad(format!(
                "--ff {} must be a positive multiple of {blk} (the {} block)",
                self.ff,
                self.quant.ggml_type()
            ));
        }
        if self.heads == 0 || self.hidden % self.heads != 0 || self.head_dim() % 2 != 0 {
            return bad(format!(
                "--heads {} must divide --hidden {} into even head sizes",
                self.heads, self.hidden
            ));
        }
        if self.kv_heads == 0 || self.heads % self.kv_heads != 0 {
            return bad(format!(
                "--kv-heads {} must divide --heads {}",
                self.kv_heads, self.heads
            ));
        }
        if self.arch == SynthArch::Moe
            && (self.experts == 0
                || self.experts_used == 0
                || self.experts_used > self.experts
                || self.experts > 512)
        {
            return bad(format!(
                "--experts {} --experts-used {}: need 1 <= used <= experts <= 512",
                self.experts, self.experts_used
            ));
        }
        if self.ctx_train == 0 || self.ctx_train > u32::MAX as u64 {
            return bad(format!(
                "--ctx-train {} must be between 1 and 2^32-1",
                self.ctx_train
            ));
        }
        Ok(())
    }

    fn arch_name(&self) -> &'static str {
        match self.arch {
            SynthArch::Llama => "llama",
            SynthArch::Moe => "qwen3moe",
        }
    }

    /// The tensors, in llama.cpp's naming.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let q = self.quant.ggml_type();
        let f32 = GgmlType::F32;
        let (h, nv) = (self.hidden, self.vocab.n_vocab());
        let hd = self.head_dim();
        let q_dim = hd * self.heads;
        let kv_dim = hd * self.kv_heads;
        let mut t = vec![
            TensorSpec::new("token_embd.weight", &[h, nv], q),
            TensorSpec::new("output_norm.weight", &[h], f32),
            TensorSpec::new("output.weight", &[h, nv], q),
        ];
        for i in 0..self.layers {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            t.push(TensorSpec::new(n("attn_norm"), &[h], f32));
            t.push(TensorSpec::new(n("attn_q"), &[h, q_dim], q));
            t.push(TensorSpec::new(n("attn_k"), &[h, kv_dim], q));
            t.push(TensorSpec::new(n("attn_v"), &[h, kv_dim], q));
            t.push(TensorSpec::new(n("attn_output"), &[q_dim, h], q));
            t.push(TensorSpec::new(n("ffn_norm"), &[h], f32));
            match self.arch {
                SynthArch::Llama => {
                    t.push(TensorSpec::new(n("ffn_gate"), &[h, self.ff], q));
                    t.push(TensorSpec::new(n("ffn_up"), &[h, self.ff], q));
                    t.push(TensorSpec::new(n("ffn_down"), &[self.ff, h], q));
                }
                SynthArch::Moe => {
                    let e = self.experts as u64;
                    t.push(TensorSpec::new(n("attn_q_norm"), &[hd], f32));
                    t.push(TensorSpec::new(n("attn_k_norm"), &[hd], f32));
                    t.push(TensorSpec::new(n("ffn_gate_inp"), &[h, e], f32));
                    t.push(TensorSpec::new(n("ffn_gate_exps"), &[h, self.ff, e], q));
                    t.push(TensorSpec::new(n("ffn_up_exps"), &[h, self.ff, e], q));
                    t.push(TensorSpec::new(n("ffn_down_exps"), &[self.ff, h, e], q));
                }
            }
        }
        t
    }

    /// Bytes of all tensor data (unpadded).
    pub fn weight_bytes(&self) -> u64 {
        self.tensors().iter().map(TensorSpec::bytes).sum()
    }

    /// Parameters in all tensors.
    pub fn params(&self) -> u64 {
        self.tensors().iter().map(TensorSpec::n_elements).sum()
    }

    /// The complete file description: metadata and tensors.
    pub fn writer(&self) -> GgufWriter {
        let a = self.arch_name();
        let mut w = GgufWriter::default();
        let k = |s: &str| format!("{a}.{s}");
        let u32v = |x: u64| Value::U32(x as u32);
        w.set("general.architecture", Value::String(a.into()));
        w.set(
            "general.name",
            Value::String(format!(
                "rooftune synthetic {a} {}L h{} seed {}",
                self.layers, self.hidden, self.seed
            )),
        );
        w.set("general.alignment", Value::U32(32));
        w.set("general.file_type", Value::U32(self.quant.file_type()));
        w.set(k("vocab_size"), u32v(self.vocab.n_vocab()));
        w.set(k("context_length"), u32v(self.ctx_train));
        w.set(k("embedding_length"), u32v(self.hidden));
        w.set(k("block_count"), u32v(self.layers as u64));
        w.set(k("feed_forward_length"), u32v(self.ff));
        w.set(k("attention.head_count"), u32v(self.heads));
        w.set(k("attention.head_count_kv"), u32v(self.kv_heads));
        w.set(k("attention.layer_norm_rms_epsilon"), Value::F32(1e-5));
        w.set(k("rope.dimension_count"), u32v(self.head_dim()));
        w.set(k("rope.freq_base"), Value::F32(10000.0));
        if self.arch == SynthArch::Moe {
            w.set(k("expert_count"), u32v(self.experts as u64));
            w.set(k("expert_used_count"), u32v(self.experts_used as u64));
            w.set(k("expert_feed_forward_length"), u32v(self.ff));
            w.set(k("attention.key_length"), u32v(self.head_dim()));
            w.set(k("attention.value_length"), u32v(self.head_dim()));
        }
        for (key, v) in self.vocab.keys() {
            w.set(key, v);
        }
        w.tensors = self.tensors();
        w
    }

    /// Write the model to `path`; returns the file size.
    pub fn write(&self, path: &Path) -> io::Result<u64> {
        let w = self.writer();
        let table = f16_table(self.seed);
        let mut index = 0u64;
        w.write(path, |t, out| {
            index += 1;
            let mut rng =
                SmallRng::seed_from_u64(self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            fill_tensor(t, &mut rng, &table, out)
        })
    }
}

/// Largest weight magnitude of the quantized types.
const AMAX: f32 = 0.035;

/// f32 to IEEE half bits, round to nearest even.
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let mant = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    let (m, shift) = if e <= 0 {
        if e < -10 {
            return sign;
        }
        (mant | 0x80_0000, (14 - e) as u32)
    } else {
        (mant, 13)
    };
    let base = if e <= 0 { 0 } else { (e as u32) << 10 };
    let half = base | (m >> shift);
    let rem = m & ((1 << shift) - 1);
    let mid = 1 << (shift - 1);
    let rounded = if rem > mid || (rem == mid && half & 1 == 1) {
        half + 1
    } else {
        half
    };
    sign | rounded as u16
}

/// 4096 f16 weights with a roughly normal spread, std ~0.02 (Irwin-Hall of 4 uniforms).
fn f16_table(seed: u64) -> Vec<[u8; 2]> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0xF16);
    (0..4096)
        .map(|_| {
            let s: f32 = (0..4).map(|_| rng.gen::<f32>() - 0.5).sum();
            // Var of a sum of 4 U(-0.5, 0.5) = 1/3; scale to std 0.02.
            f32_to_f16(s * 0.02 * 3f32.sqrt()).to_le_bytes()
        })
        .collect()
}

fn fill_tensor(
    t: &TensorSpec,
    rng: &mut SmallRng,
    table: &[[u8; 2]],
    out: &mut dyn Write,
) -> io::Result<()> {
    let n = t.n_elements();
    let is_norm = t.dims.len() == 1;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let flush = |buf: &mut Vec<u8>, out: &mut dyn Write| -> io::Result<()> {
        out.write_all(buf)?;
        buf.clear();
        Ok(())
    };
    match t.ggml_type {
        GgmlType::F32 => {
            for _ in 0..n {
                let v: f32 = if is_norm {
                    1.0
                } else {
                    (rng.gen::<f32>() - 0.5) * 0.04
                };
                buf.extend(v.to_le_bytes());
                if buf.len() >= 1 << 16 {
                    flush(&mut buf, out)?;
                }
            }
        }
        GgmlType::F16 => {
            let mut left = n;
            while left > 0 {
                let r = rng.next_u64();
                for j in 0..left.min(5) {
                    buf.extend(table[((r >> (12 * j)) & 0xfff) as usize]);
                }
                left -= left.min(5);
                if buf.len() >= 1 << 16 {
                    flush(&mut buf, out)?;
                }
            }
        }
        GgmlType::Q8_0 => {
            let d = f32_to_f16(AMAX / 127.0).to_le_bytes();
            let mut qs = [0u8; 32];
            for _ in 0..n / 32 {
                rng.fill_bytes(&mut qs);
                for q in &mut qs {
                    if *q == 0x80 {
                        *q = 0x81; // keep int8 symmetric: -127..127
                    }
                }
                buf.extend(d);
                buf.extend(qs);
                if buf.len() >= 1 << 16 {
                    flush(&mut buf, out)?;
                }
            }
        }
        GgmlType::Q4_0 => {
            // d, 16 bytes of nibbles: w = d x (q - 8).
            let d = f32_to_f16(AMAX / 8.0).to_le_bytes();
            random_blocks(n / 32, &d, 16, false, rng, &mut buf, out)?;
        }
        GgmlType::Q5_0 => {
            // d, 32 high bits, 16 bytes of low nibbles: w = d x (q - 16).
            let d = f32_to_f16(AMAX / 16.0).to_le_bytes();
            random_blocks(n / 32, &d, 20, false, rng, &mut buf, out)?;
        }
        GgmlType::Q4_K => {
            // d, dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles:
            // w = d x scale x q - dmin x min, scale and min up to 63, q up to 15.
            let d = f32_to_f16(AMAX / (63.0 * 15.0)).to_le_bytes();
            let dmin = f32_to_f16(AMAX / (63.0 * 2.0)).to_le_bytes();
            random_blocks(n / 256, &[d, dmin].concat(), 140, false, rng, &mut buf, out)?;
        }
        GgmlType::Q6_K => {
            // 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales, d:
            // w = d x scale x (q - 32).
            let d = f32_to_f16(AMAX / (128.0 * 32.0)).to_le_bytes();
            random_blocks(n / 256, &d, 208, true, rng, &mut buf, out)?;
        }
        other => {
            return Err(io::Error::other(format!(
                "synthetic weights of type {other} are not supported"
            )))
        }
    }
    flush(&mut buf, out)
}

/// `blocks` quantized blocks, each `random` random bytes with the fixed
/// `scales` bytes before them (or after, `scales_last`: Q6_K keeps d last),
/// appended to `buf` and written out in 64 KiB pieces.
fn random_blocks(
    blocks: u64,
    scales: &[u8],
    random: usize,
    scales_last: bool,
    rng: &mut SmallRng,
    buf: &mut Vec<u8>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut qs = vec![0u8; random];
    for _ in 0..blocks {
        rng.fill_bytes(&mut qs);
        if scales_last {
            buf.extend_from_slice(&qs);
            buf.extend_from_slice(scales);
        } else {
            buf.extend_from_slice(scales);
            buf.extend_from_slice(&qs);
        }
        if buf.len() >= 1 << 16 {
            out.write_all(buf)?;
            buf.clear();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_ieee() {
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(0.5), 0x3800);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(1e6), 0x7c00);
        assert_eq!(f32_to_f16(0.0), 0);
        // smallest subnormal 2^-24
        assert_eq!(f32_to_f16(5.960_464_5e-8), 1);
    }

    #[test]
    fn size_ladder_lands_near_the_target() {
        for (target, arch) in [
            (400_000_000u64, SynthArch::Llama),
            (90_000_000, SynthArch::Llama),
            (3_000_000_000, SynthArch::Moe),
        ] {
            let c = SynthConfig::for_size(arch, target, SynthQuant::Q8_0, &Vocab::ByteSpm).unwrap();
            c.validate().unwrap();
            let got = c.weight_bytes() as f64;
            assert!(
                (got / target as f64 - 1.0).abs() < 0.08,
                "{target}: {got} {c:?}"
            );
            assert!(c.layers >= 8);
        }
    }

    #[test]
    fn every_type_writes_a_file_its_reader_sizes_exactly() {
        let dir = tempfile::tempdir().unwrap();
        for q in SynthQuant::GGUF {
            assert_eq!(
                SynthQuant::from_name(&q.ggml_type().ggml_name().to_uppercase()),
                Some(q)
            );
            let c = SynthConfig::with_hidden(SynthArch::Llama, 512, 1, q);
            let path = dir.path().join(format!("{}.gguf", q.ggml_type()));
            c.write(&path).unwrap();
            let g = super::super::reader::GgufModel::open(&path).unwrap();
            let matrices: Vec<_> = g.tensors().filter(|t| t.dims.len() == 2).collect();
            assert!(
                matrices.iter().all(|t| t.ggml_type == q.ggml_type()),
                "{q:?}"
            );
            let bytes: u64 = g.tensors().map(|t| t.bytes).sum();
            assert_eq!(bytes, c.weight_bytes(), "{q:?}");
        }
        // K-quant super-blocks are 256 weights: a 640 hidden size cannot be one.
        let c = SynthConfig::with_hidden(SynthArch::Llama, 640, 1, SynthQuant::Q6K);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--hidden 640"));
    }

    #[test]
    fn validation_names_the_flag() {
        let mut c = SynthConfig::with_hidden(SynthArch::Llama, 1000, 2, SynthQuant::Q8_0);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--hidden 1000"));
        c.hidden = 1024;
        c.heads = 16;
        c.kv_heads = 3;
        assert!(c.validate().unwrap_err().to_string().contains("--kv-heads"));
    }
}
