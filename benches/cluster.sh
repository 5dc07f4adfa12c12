#!/usr/bin/env bash
# A model split across llama.cpp RPC workers, predicted vs measured (issue 18).
# On a generated model (8 layers, hidden 1024, q8_0, about 180 MB): decode and
# prefill for 1, 2 and 3 workers, with no proxy and behind user-space shaped
# links at 1 and 10 ms one way and 1 and 10 Gbit/s; each row shows the split
# roofline's ceiling and estimate (`predict --cluster`) beside the measurement
# (`bench --rpc`), and the link's time per token, predicted vs measured (the
# measured one is the shaped run's token time minus the unshaped run's).
# Then a short campaign over -ts placements with RPC0 capped: the split the
# tuner chose vs the even split.
#
#   benches/cluster.sh OUTDIR        (about 5-8 minutes on a quiet 2-core machine)
#
# Needs llama-server and ggml-rpc-server built with -DGGML_RPC=ON
# (scripts/install-llama-server.sh): ROOFTUNE_LLAMA_SERVER / ROOFTUNE_RPC_SERVER,
# else the install script's --print-path. ROOFTUNE_BIN names a rooftune binary
# (default: a release build). Raw JSON and logs go under OUTDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: benches/cluster.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -z "${ROOFTUNE_BIN:-}" ]; then
  cargo build --release --locked -q --bin rooftune
  ROOFTUNE_BIN=$PWD/target/release/rooftune
fi
RT=$ROOFTUNE_BIN
LLAMA=${ROOFTUNE_LLAMA_SERVER:-$(bash scripts/install-llama-server.sh --print-path)}
RPC=${ROOFTUNE_RPC_SERVER:-$(dirname "$LLAMA")/ggml-rpc-server}
[ -x "$RPC" ] || { echo "no ggml-rpc-server at $RPC (scripts/install-llama-server.sh builds it)" >&2; exit 2; }
export ROOFTUNE_RPC_SERVER=$RPC ROOFTUNE_LOG_DIR=$out/logs
HW=${HW:-ddr5-6000-2ch}
model=$out/split-8x1024-q8_0.gguf
[ -f "$model" ] || "$RT" synth --arch llama --layers 8 --hidden 1024 --quant q8_0 -o "$model" >/dev/null

pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Three workers, one thread each, started once.
wports=()
for i in 0 1 2; do
  p=$(free_port)
  "$RPC" -H 127.0.0.1 -p "$p" -t 1 >"$out/worker$i.log" 2>&1 &
  pids+=($!)
  wports+=("$p")
done
sleep 1

json() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {'v': v}))" "$@"; }
measure() { # N LAT_MS GBIT (LAT_MS=- : no proxy) -> prints "decode prefill"
  local n=$1 lat=$2 gbit=$3 addrs=() proxies=()
  for i in $(seq 0 $((n - 1))); do
    if [ "$lat" = - ]; then
      addrs+=("127.0.0.1:${wports[$i]}")
    else
      local lp; lp=$(free_port)
      python3 benches/link_proxy.py "$lp" "${wports[$i]}" "$lat" "$gbit" &
      proxies+=($!)
      addrs+=("127.0.0.1:$lp")
    fi
  done
  sleep 0.3
  local f=$out/bench-w$n-l$lat-g$gbit.json
  "$RT" bench --server-bin "$LLAMA" --model "$model" --rpc "$(IFS=,; echo "${addrs[*]}")" \
    --rpc-link "proxy ${lat} ms one way, ${gbit} Gbit/s" --depths 0 --repeats 3 --n-predict 32 \
    --prompt-tokens 128 --json -- -ngl 99 -t 1 -c 512 >"$f" 2>"$f.err" || echo "bench failed: $f.err" >&2
  for p in "${proxies[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  json "$f" "'%.2f %.2f' % (v['measurement']['decode'][0]['server_tok_s']['mean'], v['measurement']['prefill']['server_tok_s']['mean'])" 2>/dev/null || echo "nan nan"
}
predict() { # N LAT_MS GBIT -> "dec_ceiling dec_estimate link_s prefill_ceiling"
  local lat=$2 gbit=$3 f=$out/predict-w$1-l$2-g$3.json
  [ "$lat" = - ] && lat=0.01 && gbit=100
  "$RT" predict --model "$model" --cluster "$(($1 + 1))x $HW" --link loopback \
    --link-latency-ms "$lat" --link-gbit "$gbit" --ctx 512 --ubatch 128 --json >"$f"
  json "$f" "'%.2f %.2f %.5f %.2f' % (v['decode'][0]['ceiling_tok_s'], v['decode'][0]['estimate_tok_s'], (v['decode'][0]['link']['transfer_s'] + v['decode'][0]['link']['latency_s'] + v['decode'][0]['link']['calls_s']), v['prefill']['ceiling_tok_s'])"
}

echo "## Split across RPC workers: predicted vs measured"
echo
echo "loopback with user-space proxies (no netem); model $(basename "$model") ($(du -h "$model" | cut -f1)); head and workers on this machine ($(nproc) cores), 1 thread each; roofline profile $HW; $(date -u +%FT%TZ)"
echo
echo "| workers | link (one way, rate) | decode ceiling | decode estimate | decode measured | % of ceiling | link ms/token predicted | link ms/token measured | prefill ceiling | prefill measured |"
echo "|---|---|---|---|---|---|---|---|---|---|"
declare -A base
for n in 1 2 3; do
  read -r d0 p0 <<<"$(measure "$n" - -)"
  base[$n]=$d0
  read -r c e l pc <<<"$(predict "$n" - -)"
  python3 -c "print('| $n | none (loopback) | %.1f | %.1f | %.1f | %.0f%% | %.2f | - | %.0f | %.0f |' % ($c, $e, $d0, 100*$d0/$c, $l*1e3, $pc, $p0))"
  for lat in 1 10; do
    for gbit in 1 10; do
      read -r d p <<<"$(measure "$n" "$lat" "$gbit")"
      read -r c e l pc <<<"$(predict "$n" "$lat" "$gbit")"
      python3 - "$n" "$lat" "$gbit" "$c" "$e" "$d" "$l" "$d0" "$pc" "$p" <<'PY'
import sys
n, lat, gbit, c, e, d, l, d0, pc, p = sys.argv[1:]
c, e, d, l, d0, pc, p = map(float, (c, e, d, l, d0, pc, p))
meas_link = (1 / d - 1 / d0) * 1e3 if d > 0 and d0 > 0 else float("nan")
print(f"| {n} | {lat} ms, {gbit} Gbit/s | {c:.1f} | {e:.1f} | {d:.1f} | {100*d/c:.0f}% | {l*1e3:.2f} | {meas_link:.2f} | {pc:.0f} | {p:.0f} |")
PY
    done
  done
done
echo
echo "A measurement above its ceiling would be a bug in the model. Link ms/token measured = 1/shaped - 1/unshaped decode."

# The tuner on a split: two workers, RPC0 capped so `3,1` cannot fit it.
cap=$(python3 - "$RT" "$model" <<'PY'
import json, subprocess, sys
rt, model = sys.argv[1:]
def need(ts):
    v = json.loads(subprocess.check_output([rt, "predict", "--model", model, "--cluster", "3x ddr5-6000-2ch",
        "--link", "loopback", "--tensor-split", ts, "--ctx", "512", "--np", "1", "--json"]))
    return v["memory"]["devices"][0]
a, b = need("1,1"), need("3,1")
n = lambda d: d["weights_bytes"] + d["kv_bytes"] + d["compute_bytes"]
print(int((n(a) + n(b)) / 2))
PY
)
spec=$out/split-campaign.toml
cat >"$spec" <<EOF
model = "$model"
seed = 1
[space]
"-t" = [1]
"-c" = [512]
"-np" = [1]
"-ngl" = [99]
"-ts" = ["1,1", "3,1", "1,2", "1,3"]
[objective]
metric = "decode"
tokens = 16
[budget]
trials = 8
repeats = 3
screen_repeats = 3
[anchor]
every = 0
[race]
finalists = 2
rounds = 4
[quality]
enabled = false
[cluster]
workers = 2
threads = 1
memory = ["${cap}B", "64GiB"]
link = "loopback"
EOF
rm -rf "$out/split-campaign"
"$RT" tune "$spec" --server-bin "$LLAMA" --format markdown >"$out/campaign.md" 2>"$out/campaign.err" || echo "campaign failed: $out/campaign.err" >&2
echo
echo "## The split the tuner chose (RPC0 capped at $((cap / 1048576)) MiB; loopback, no proxy)"
echo
"$RT" campaign show "$out/split-campaign" --json >"$out/campaign.json" 2>/dev/null || echo '{}' >"$out/campaign.json"
python3 - "$out/split-campaign/trials.jsonl" "$out/campaign.json" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
trials = [l for l in lines if l["kind"] == "trial"]
print("| -ts | status | decode tok/s (mean) | vs defaults | why |")
print("|---|---|---|---|---|")
seen = {}
for t in trials:
    ts = t["config"].get("-ts", "(defaults)")
    v = t["objective"].get("value")
    s = t["objective"].get("score")
    row = f"| {ts} | {t['status']} | {v:.1f} |" if v else f"| {ts} | {t['status']} | - |"
    row += f" {100*(s-1):+.1f}% |" if s else " - |"
    row += f" {(t.get('reason') or t.get('verdict_reason') or '')} |"
    seen[(ts, t["role"])] = row
for r in seen.values():
    print(r)
ok = [t for t in trials if t["status"] == "ok" and t["objective"].get("value")]
means = {}
for t in ok:
    means.setdefault(t["config"].get("-ts", "(defaults)"), []).append(t["objective"]["value"])
print("\nMean over every measurement (search and race): " + ", ".join(
    f"-ts {k}: {sum(v)/len(v):.1f} tok/s (n={len(v)})" for k, v in means.items()))
summary = json.load(open(sys.argv[2]))
d = summary.get("decision") or {}
rec = d.get("recommend")
if rec:
    cfg = rec["config"]
    line = f"The tuner recommends `{cfg}`"
else:
    cfg = ""
    line = f"The tuner's decision: {d.get('why', 'none recorded')}"
ts = cfg.split("-ts ")[1].split()[0] if "-ts " in cfg else "(defaults)"
even = means.get("1,1")
chosen = means.get(ts)
if even and chosen:
    a, b = sum(chosen)/len(chosen), sum(even)/len(even)
    line += f"; what it runs (-ts {ts}) measured {a:.1f} tok/s vs the even split 1,1 at {b:.1f} tok/s ({100*(a/b-1):+.1f}%)"
print(line + ".")
PY
echo
echo "Raw: $out (bench-*.json, predict-*.json, split-campaign/trials.jsonl, campaign.md, campaign.json, logs/)"
