#!/usr/bin/env bash
# Run `rooftune hw probe` and a STREAM-style triad compiled from C
# (gcc -O3 -fopenmp) back to back, RUNS times, with the same thread count and
# array size, and print both triad figures. Used for the closing note of the
# probe's issue (the probe should agree within 10%); not run by the tests.
#
# Usage: scripts/compare-probe-stream.sh [RUNS, default 3] [extra hw probe args...]
# Env:   ROOFTUNE (the binary; default: target/release/rooftune, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
shift || true

rooftune="${ROOFTUNE:-target/release/rooftune}"
if [[ ! -x "$rooftune" ]]; then
    cargo build --release --quiet
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gcc -O3 -fopenmp scripts/stream-triad.c -o "$work/stream-triad"

printf '%-4s %-8s %-10s %-16s %-16s %-14s %-14s %s\n' run threads MiB/array "probe triad GB/s" "C triad GB/s" "probe/C triad" "probe read" "C read"
probe() {
    "$rooftune" hw probe --json "$@" > "$work/probe.json"
    read -r threads mib reps ptriad pread < <(python3 - "$work/probe.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["probe"]["bandwidth"]
print(b["config"]["threads"], b["config"]["array_bytes"] // 2**20, b["config"]["repetitions"],
      b["triad"]["best_gb_s"], b["read"]["best_gb_s"])
PY
)
}
stream() {
    out="$(OMP_NUM_THREADS="$threads" "$work/stream-triad" "$mib" "$reps")"
    ctriad="$(awk '/^triad_gb_s/ {print $2}' <<<"$out")"
    cread="$(awk '/^read_gb_s/ {print $2}' <<<"$out")"
}

for run in $(seq 1 "$runs"); do
    # Alternate which goes first (run 1: the probe, which fixes threads and sizes),
    # so neither always meets the quieter or warmer machine.
    if (( run % 2 == 1 )); then
        probe "$@"
        stream
    else
        stream
        probe "$@"
    fi
    ratio="$(python3 -c "print(f'{$ptriad / $ctriad:.3f}')")"
    printf '%-4s %-8s %-10s %-16.2f %-16.2f %-14s %-14.2f %.2f\n' "$run" "$threads" "$mib" "$ptriad" "$ctriad" "$ratio" "$pread" "$cread"
done
