#!/usr/bin/env bash
# Parse speed of `rooftune logs analyze` on a generated corpus of Codex CLI
# rollouts and Claude Code transcripts (plus one request log), default 1 GB.
# Goal: under 10 s for 1 GB on 2 cores, memory flat in the input size.
# Prints wall time and max RSS for the cold-ish first run and warm runs, and
# the RSS at a quarter of the size to show how memory scales.
#   SIZE_MB=1024 RUNS=3 THREADS=2 benches/logs-speed.sh [CORPUS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${SIZE_MB:-1024}
runs=${RUNS:-3}
threads=${THREADS:-2}
dir=${1:-${TMPDIR:-/tmp}/rooftune-logs-corpus-$size_mb}
cargo build --release --locked -q --bin rooftune --example logs_synth
RT=target/release/rooftune
if [ ! -d "$dir" ]; then
  target/release/examples/logs_synth "$dir" "$size_mb"
fi
quarter="$dir-quarter"
if [ ! -d "$quarter" ]; then
  target/release/examples/logs_synth "$quarter" $((size_mb / 4))
fi
echo "corpus: $(du -sh --apparent-size "$dir" | cut -f1) in $(find "$dir" -type f | wc -l) files; $(nproc) cores, $threads threads"
measure() {
  /usr/bin/time -f "%e s wall, %M KiB max RSS, %P CPU" "$RT" logs analyze "$1" --threads "$threads" --json >/dev/null
}
for i in $(seq "$runs"); do
  printf 'full    run %d: ' "$i"; measure "$dir" 2>&1 | tail -1
done
printf 'quarter run:   '; measure "$quarter" 2>&1 | tail -1
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 1 --runs "$runs" "$RT logs analyze $dir --threads $threads --json"
fi
