#!/usr/bin/env bash
# Set up rooftune on a fresh machine and run the main job on the bundled default.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs, then run this again" >&2; exit 1; }
echo "==> llama-server (pinned llama.cpp b11434; built once, cached under ~/.cache/rooftune)" >&2
ROOFTUNE_LLAMA_SERVER="$(bash scripts/install-llama-server.sh)"
export ROOFTUNE_LLAMA_SERVER
echo "==> rooftune (cargo build --release)" >&2
cargo build --release --locked
RT=target/release/rooftune
echo "==> the seed's question: does GLM-5.1 at UD-IQ3_XXS clear 100 tok/s on a 512 GB M3 Ultra?" >&2
"$RT" predict --hw m3-ultra-512 --model glm-5.1 --quant ud-iq3_xxs --ctx 1M --depth 5460
