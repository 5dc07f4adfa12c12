#!/usr/bin/env bash
# Wall time of `rooftune matrix` (every profile x model) and of one `predict`.
# Targets: matrix under 50 ms, predict under 10 ms. Uses hyperfine when present
# (apt-get install hyperfine), else a plain loop; prints medians.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
RT=target/release/rooftune
runs=${RUNS:-30}
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs "$runs" "$RT matrix" "$RT predict --hw m3-ultra-512 --model glm-5.1 --quant ud-iq3_xxs --ctx 1M --depth 5460" \
    --export-json /tmp/rooftune-predict-speed.json
  python3 - <<'PY'
import json
for r in json.load(open('/tmp/rooftune-predict-speed.json'))['results']:
    print(f"median {r['median']*1000:.1f} ms  (min {r['min']*1000:.1f}, max {r['max']*1000:.1f}, n={len(r['times'])})  {r['command']}")
PY
else
  for cmd in "$RT matrix" "$RT predict --hw m3-ultra-512 --model glm-5.1 --quant ud-iq3_xxs --ctx 1M --depth 5460"; do
    ts=()
    for _ in $(seq "$runs"); do
      s=$(date +%s%N); $cmd >/dev/null; e=$(date +%s%N); ts+=($(( (e - s) / 1000 )))
    done
    printf '%s\n' "${ts[@]}" | sort -n | awk -v c="$cmd" '{a[NR]=$1} END {printf "median %.1f ms (min %.1f, max %.1f, n=%d)  %s\n", a[int((NR+1)/2)]/1000, a[1]/1000, a[NR]/1000, NR, c}'
  done
fi
