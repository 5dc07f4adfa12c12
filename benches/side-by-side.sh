#!/usr/bin/env bash
# One architecture served by llama-server and by mlx_lm.server on this
# machine, every measurement as % of the same ceiling (issue 17's closing
# note): prefill of 512 tokens, decode at depth 0 and 1024, TTFT of a cold
# prompt, and the median TTFT of a replayed coding session with the prompt
# cache on and off. Prints one Markdown table (rows: measurements; columns:
# the two servers; cells: median (x% of ceiling), CV) and keeps the raw
# logs under OUTDIR.
#
#   benches/side-by-side.sh OUTDIR          # about 4 minutes on a loaded 2-core machine
#
# Needs both servers installed (scripts/install-llama-server.sh and
# scripts/install-mlx.sh, as scripts/test.sh does), or ROOFTUNE_LLAMA_SERVER
# and ROOFTUNE_MLX_SERVER naming them. ROOFTUNE=path uses that rooftune
# binary instead of building the release one. The shape: LAYERS=6
# HIDDEN=768 VOCAB=512, float32 on both sides (`synth --format both`: the
# same weights; 164 MB, five times a 32 MiB L3, so decode reads DRAM: at
# 4x512 (49 MB) llama-server beat the DRAM ceiling from cache).
# The ceilings come from one `hw probe` of this machine, saved under OUTDIR
# and used by both servers' runs.
set -euo pipefail
out=${1:?usage: benches/side-by-side.sh OUTDIR}
cd "$(dirname "$0")/.."
if [ -z "${ROOFTUNE:-}" ]; then
  cargo build --release --locked -q --bin rooftune
  ROOFTUNE=$PWD/target/release/rooftune
fi
RT=$ROOFTUNE
LLAMA=${ROOFTUNE_LLAMA_SERVER:-$(bash scripts/install-llama-server.sh --print-path)}
MLX=${ROOFTUNE_MLX_SERVER:-$(bash scripts/install-mlx.sh --print-path)}
layers=${LAYERS:-6}
hidden=${HIDDEN:-768}
vocab=${VOCAB:-512}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Fresh logs each run (campaign compare reads the latest figure of each).
rm -rf "$out/llama" "$out/mlx" "$out/config"
export ROOFTUNE_CONFIG_DIR=$out/config ROOFTUNE_LOG_DIR=$out/server-logs
started=$(date +%s)

echo "== the machine: one probe for both columns" >&2
"$RT" hw probe --save side-by-side --json >"$out/probe.json"

echo "== the model: ${layers} layers, hidden ${hidden}, vocab ${vocab}, float32, both formats" >&2
"$RT" synth --format both --layers "$layers" --hidden "$hidden" --vocab-size "$vocab" \
  --ctx-train 8192 -o "$out/twin" --json >"$out/synth.json"

# (The twin's tokenizer makes about one token per character of this text;
# the chat template leaves the tool definitions out: about 2000 tokens deep.)
echo "== a coding session: 4 turns with a shared prefix, about 2000 tokens deep" >&2
"$RT" session synth --turns 4 --max-depth 4000 --prefix 1000 --output-tokens 16 \
  --chars-per-token 1 -o "$out/session.jsonl" 2>/dev/null

for b in llama mlx; do
  if [ "$b" = llama ]; then bin=$LLAMA model=$out/twin/model.gguf; else bin=$MLX model=$out/twin/mlx; fi
  echo "== $b: bench (prefill 512, decode at depth 0 and 1024, 3 repeats)" >&2
  "$RT" bench --backend "$b" --server-bin "$bin" --model "$model" --hw side-by-side \
    --prompt-tokens 512 --depths 0,1024 --n-predict 32 --repeats 3 \
    --log "$out/$b" --json >"$out/$b-bench.json"
  for reuse in on off; do
    echo "== $b: replay, prompt cache $reuse" >&2
    "$RT" replay "$out/session.jsonl" --backend "$b" --server-bin "$bin" --model "$model" \
      --hw side-by-side --reuse "$reuse" --log "$out/$b" --json >"$out/$b-replay-$reuse.json"
  done
done

"$RT" campaign compare "$out/llama" "$out/mlx" --json >"$out/compare.json"
"$RT" campaign compare "$out/llama" "$out/mlx" --markdown | tee "$out/compare.md"
echo
echo "($(($(date +%s) - started)) s; $(nproc) cores; raw logs, bench and replay JSON under $out)"
