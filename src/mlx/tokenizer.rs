//! The tokenizer synthetic MLX models carry: an SPM-style (Metaspace) BPE
//! whose tokens are the printable ASCII characters, `▁`, newline and a
//! deterministic list of merges, with no byte tokens. Every token decodes to
//! valid UTF-8 on its own, so `mlx_lm.server` (which picks its
//! `SPMStreamingDetokenizer` for exactly this decoder) streams one chunk per
//! generated token; a byte-level BPE on random weights does not (measured in
//! the project's notes, `mlx-cpu.md`).
//!
//! Files: `tokenizer.json` (Hugging Face `tokenizers` format),
//! `tokenizer_config.json` (with the chat template) and `special_tokens_map.json`.

use serde_json::{json, Value};

/// Special tokens, ids 0.. (unknown, BOS, EOS, chat roles, end of turn).
pub const SPECIALS: &[&str] = &[
    "<unk>",
    "<s>",
    "</s>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|end|>",
];
/// Id of the beginning-of-sequence token.
pub const BOS_ID: u64 = 1;
/// Id of the end-of-sequence token.
pub const EOS_ID: u64 = 2;

/// The chat template: `<s><|role|>\ncontent<|end|>\n...<|assistant|>\n`.
pub const CHAT_TEMPLATE: &str = "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

const SEP: &str = "\u{2581}";

fn base_tokens() -> Vec<String> {
    let mut t: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
    t.push(SEP.into());
    t.push("\n".into());
    t.extend(('!'..='~').map(String::from));
    t
}

/// Merges in rank order: `▁x` for each lowercase letter, then each pair of
/// lowercase letters, then `▁` + each pair.
fn all_merges() -> Vec<(String, String)> {
    let letters: Vec<String> = ('a'..='z').map(String::from).collect();
    let mut m: Vec<(String, String)> = letters.iter().map(|l| (SEP.into(), l.clone())).collect();
    for a in &letters {
        for b in &letters {
            m.push((a.clone(), b.clone()));
        }
    }
    for a in &letters {
        for b in &letters {
            m.push((format!("{SEP}{a}"), b.clone()));
        }
    }
    m
}

/// The smallest vocabulary (specials and characters, no merges).
pub fn min_vocab() -> u64 {
    base_tokens().len() as u64
}

/// The largest vocabulary this tokenizer can fill with merges.
pub fn max_vocab() -> u64 {
    min_vocab() + all_merges().len() as u64
}

/// The tokens (id = index) and merges of a vocabulary of `n` tokens.
pub fn vocab(n: u64) -> (Vec<String>, Vec<(String, String)>) {
    let mut tokens = base_tokens();
    let extra = n.saturating_sub(tokens.len() as u64) as usize;
    let merges: Vec<_> = all_merges().into_iter().take(extra).collect();
    tokens.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
    (tokens, merges)
}

/// `tokenizer.json` for a vocabulary of `n` tokens.
pub fn tokenizer_json(n: u64) -> Value {
    let (tokens, merges) = vocab(n);
    let vocab: serde_json::Map<String, Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();
    let added: Vec<Value> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"id": i, "content": s, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Metaspace", "replacement": SEP, "prepend_scheme": "first", "split": true},
        "post_processor": null,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SEP}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}
        ]},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": "<unk>",
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": true, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab,
            "merges": merges.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()
        }
    })
}

/// `tokenizer_config.json`, with the chat template.
pub fn tokenizer_config(ctx_train: u64) -> Value {
    json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<unk>",
        "add_bos_token": false,
        "add_eos_token": false,
        "clean_up_tokenization_spaces": false,
        "model_max_length": ctx_train,
        "chat_template": CHAT_TEMPLATE,
    })
}

/// `special_tokens_map.json`.
pub fn special_tokens_map() -> Value {
    json!({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_sizes_and_merges_are_consistent() {
        let (t, m) = vocab(512);
        assert_eq!(t.len(), 512);
        assert_eq!(t[EOS_ID as usize], "</s>");
        assert_eq!(m.len(), 512 - min_vocab() as usize);
        // every merge joins two tokens that exist, into one that exists
        for (a, b) in &m {
            assert!(t.contains(a) && t.contains(b) && t.contains(&format!("{a}{b}")));
        }
        let mut sorted = t.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), t.len(), "tokens are distinct");
        assert_eq!(vocab(max_vocab()).0.len() as u64, max_vocab());
    }

    #[test]
    fn the_decoder_is_the_one_mlx_lm_streams_per_token() {
        let j = tokenizer_json(200);
        assert_eq!(j["decoder"]["decoders"][0]["pattern"]["String"], SEP);
        assert_eq!(j["decoder"]["decoders"][3]["type"], "Strip");
        assert_eq!(j["model"]["vocab"].as_object().unwrap().len(), 200);
    }
}
