#!/usr/bin/env bash
# Set up rooftune on a fresh machine and run the main job on the bundled default:
# the example tuning campaign on a generated model (experiments/example.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs, then run this again" >&2; exit 1; }
echo "==> llama-server (pinned llama.cpp b11434; built once, cached under ~/.cache/rooftune)" >&2
ROOFTUNE_LLAMA_SERVER="$(bash scripts/install-llama-server.sh)"
export ROOFTUNE_LLAMA_SERVER
echo "==> rooftune (cargo build --release)" >&2
cargo build --release --locked
RT=target/release/rooftune

echo "==> the roofline: does GLM-5.1 at UD-IQ3_XXS clear 100 tok/s on a 512 GB M3 Ultra?" >&2
"$RT" predict --hw m3-ultra-512 --model glm-5.1 --quant ud-iq3_xxs --ctx 1M --depth 5460

echo "==> the example campaign: a generated 92 MB model, tuned on this machine" >&2
[ -f experiments/example.gguf ] || "$RT" synth --size 92MB --quant q8_0 -o experiments/example.gguf
if [ -s experiments/example/trials.jsonl ]; then
  "$RT" tune experiments/example.toml --resume
else
  "$RT" tune experiments/example.toml
fi
