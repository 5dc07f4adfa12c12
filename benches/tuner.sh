#!/usr/bin/env bash
# The tuner's closing figures (issue 15), at most ~10 minutes on a quiet
# 2-core machine; prints markdown, raw logs under OUTDIR.
#   benches/tuner.sh OUTDIR
# (a) the solver benchmark: 20 seeds replayed on the recorded 64-configuration
#     grid (benches/solver.sh, seconds, no server);
# (b) the share of a campaign's time spent measuring on a generated ~2 GiB
#     model (it loads from the page cache in seconds): a short campaign of 6
#     configurations and a 3-round race, 5 minutes at most, whose space
#     includes `--cache-reuse` (a per-request setting: race contestants that
#     differ only in it share one server start).
# Needs llama-server: $ROOFTUNE_LLAMA_SERVER, else
# scripts/install-llama-server.sh --print-path (install it with that script).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: benches/tuner.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
server=${ROOFTUNE_LLAMA_SERVER:-$(bash scripts/install-llama-server.sh --print-path 2>/dev/null || true)}
if [ -z "$server" ] || [ ! -x "$server" ]; then
  echo "error: no llama-server (set ROOFTUNE_LLAMA_SERVER or run scripts/install-llama-server.sh)" >&2
  exit 2
fi
cargo build -q --bin rooftune --example solver_bench
rt=target/debug/rooftune

echo "## Solver benchmark (recorded grid, 20 seeds)"
echo
bash benches/solver.sh > "$out/solver.txt" 2>&1
echo '```'
grep -E '^(grid|better|score)' "$out/solver.txt" | cut -c1-160
echo '```'
echo

model="$out/big.gguf"
$rt synth --size 2GiB -o "$model" > "$out/synth.txt" 2>&1
cat > "$out/big.toml" <<EOF
model = "big.gguf"
hardware = "probe"
seed = 1

[space]
"-t" = [1, 2]
"-ub" = [128, 512]
"--cache-reuse" = [0, 256]

[objective]
metric = "mix"
mix = { prefill = 0.5, decode = 0.5 }
prompt_tokens = 64
depth = 0
tokens = 8

[budget]
trials = 6
minutes = 5
repeats = 2
screen_repeats = 1

[anchor]
every = 5
settle_s = 0
retries = 0

[quality]
enabled = false

[race]
finalists = 2
rounds = 3
EOF
# Read the model once so the first start does not pay the disk.
cat "$model" > /dev/null
$rt tune "$out/big.toml" --server-bin "$server" --out "$out/campaign" > "$out/campaign.txt" 2> "$out/campaign.err"
time_line=$(grep -E '^Time: ' "$out/campaign.txt" | tail -1)
trials=$(grep -c '"kind":"trial"' "$out/campaign/trials.jsonl" || true)
shared=$(grep -c '"shared_start"' "$out/campaign/trials.jsonl" || true)
size=$(grep -oE '[0-9.]+ GiB' "$out/synth.txt" | head -1)
echo "## Measuring share, generated ${size:-2 GiB} model"
echo
echo "| model | trials | server starts, start-up, measuring | trials that shared a start |"
echo "|---|---|---|---|"
echo "| ${size:-2 GiB} Q8_0 | $trials | ${time_line#Time: } | $shared |"
echo
echo "Decision: $(grep -E '^ *Decision: ' "$out/campaign.txt" | head -1 | sed 's/^ *Decision: //' | cut -c1-160)"
echo "Race: $(grep -E '^ *Race: ' "$out/campaign.txt" | head -1 | sed 's/^ *Race: //' | cut -c1-160)"
rm -f "$model"
