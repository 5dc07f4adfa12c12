//! Prompts of an exact length.
//!
//! With llama.cpp's native dialect the prompt is token ids: random words are
//! tokenized with `/tokenize` and cut to exactly N ids, so N is exact. With
//! the chat dialect the prompt is text: its length is fitted with `/tokenize`
//! where the server has it (counting the message content; the server adds its
//! chat template around it), and otherwise calibrated from the server's own
//! `usage.prompt_tokens` (then the count is the server's, and the report says
//! so). Every prompt starts with a random prefix, so a prefix cache cannot
//! serve it even where caching cannot be turned off.

use crate::server::client::{Client, ClientError, Dialect, GenRequest, Prompt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

const WORDS: &[&str] = &[
    "the", "river", "stone", "quiet", "market", "engine", "window", "paper", "garden", "signal",
    "orange", "winter", "bridge", "number", "silver", "forest", "letter", "planet", "candle",
    "mirror", "harbor", "ladder", "pocket", "thunder", "valley", "copper", "rabbit", "island",
    "basket", "circle", "meadow", "lantern", "anchor", "violet", "canyon", "pebble", "rocket",
    "saddle", "timber", "walnut", "of", "and", "under", "between", "after", "slowly", "bright",
    "heavy", "simple", "ancient",
];

/// How prompt lengths were counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// Checked with the server's `/tokenize` (exact).
    Tokenize,
    /// Estimated, then taken from the server's `usage.prompt_tokens`.
    ServerReported,
    /// Estimated only: the server has no `/tokenize` and its
    /// `usage.prompt_tokens` was not a count.
    Estimated,
}

/// Makes prompts for one server.
#[derive(Debug)]
pub struct PromptMaker {
    rng: SmallRng,
    /// How lengths are counted.
    pub counting: Counting,
    tokens_per_word: f64,
    overhead_tokens: f64,
}

impl PromptMaker {
    /// A maker that will check lengths with `/tokenize`.
    pub fn new(seed: u64) -> PromptMaker {
        PromptMaker {
            rng: SmallRng::seed_from_u64(seed),
            counting: Counting::Tokenize,
            tokens_per_word: 2.0,
            overhead_tokens: 0.0,
        }
    }

    /// `n` random words after a random prefix.
    pub fn words(&mut self, n: usize) -> String {
        let mut s = format!("{:08x}", self.rng.gen::<u32>());
        for _ in 0..n {
            s.push(' ');
            s.push_str(WORDS[self.rng.gen_range(0..WORDS.len())]);
        }
        s
    }

    /// Exactly `n` token ids (native dialect).
    pub async fn tokens(&mut self, client: &Client, n: u64) -> Result<Vec<u32>, ClientError> {
        let n = n as usize;
        let mut words = ((n as f64 / self.tokens_per_word).ceil() as usize).max(4);
        loop {
            let text = self.words(words);
            let mut ids = client.tokenize(&text).await?;
            if ids.len() >= n {
                self.tokens_per_word = ids.len() as f64 / words as f64;
                ids.truncate(n);
                return Ok(ids);
            }
            words = words * 2 + 4;
        }
    }

    /// Text of about `n` tokens as the server will count them (chat dialect).
    pub async fn text(&mut self, client: &Client, n: u64) -> Result<String, ClientError> {
        let words_for = |m: &PromptMaker| {
            (((n as f64 - m.overhead_tokens) / m.tokens_per_word).round() as usize).max(1)
        };
        if self.counting != Counting::Tokenize {
            return Ok(self.words(words_for(self)));
        }
        // Fit a prefix of one random word sequence to n tokens.
        let full = self.words(words_for(self) * 2 + 8);
        let parts: Vec<&str> = full.split(' ').collect();
        let mut k = words_for(self).min(parts.len());
        for _ in 0..6 {
            let text = parts[..k].join(" ");
            let c = client.tokenize(&text).await?.len() as f64;
            if (c - n as f64).abs() <= (n as f64 / 100.0).max(1.0) || k == parts.len() {
                return Ok(text);
            }
            self.tokens_per_word = (c / k as f64).max(0.1);
            k = ((n as f64 / self.tokens_per_word).round() as usize).clamp(1, parts.len());
        }
        Ok(parts[..k].join(" "))
    }

    /// For servers without `/tokenize`: learn tokens per word and the chat
    /// template's overhead from two tiny requests' `usage.prompt_tokens`.
    pub async fn calibrate(
        &mut self,
        client: &Client,
        dialect: Dialect,
        base: &GenRequest,
    ) -> Result<(), ClientError> {
        self.counting = Counting::ServerReported;
        let count = |text: String| {
            let req = GenRequest {
                prompt: Prompt::Text(text),
                n_predict: 1,
                ..base.clone()
            };
            async move {
                let r = client.generate(dialect, &req, Instant::now()).await?;
                Ok::<_, ClientError>(r.prompt_tokens().unwrap_or(0) as f64)
            }
        };
        let small = count(self.words(1)).await?;
        let large = count(self.words(201)).await?;
        if large > small {
            self.tokens_per_word = (large - small) / 200.0;
            self.overhead_tokens = (small - self.tokens_per_word).max(0.0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_differ() {
        let mut m = PromptMaker::new(1);
        let (a, b) = (m.words(3), m.words(3));
        assert_ne!(a[..8], b[..8]);
        assert_eq!(a.split(' ').count(), 4);
    }
}
