#!/usr/bin/env bash
# Issue 14's closing table: does the calibrated estimate hold, and is every
# measurement under its ceiling? (about 16 minutes on a quiet 2-core machine)
#
#   benches/calibrate.sh OUTDIR
#
# 1. `rooftune calibrate --run` on this machine (the docs/calibrate.md run):
#    18 generated shapes fitted (q4_0, q5_0, q8_0 and q6_K weights; layer-heavy
#    shapes, shapes with Gemma's 262,144-row head, and three with heads of 256
#    instead of 64; every one past a 32 MiB last-level cache), 1280x8,
#    1024x12h8 (heads of 128, as most real models have), 1024x12 in q4_K (a
#    type never fitted) and the real Gemma 3 270M held out of the fit, decode at depths 0 and 4096,
#    prefill of 512 tokens, REPEATS repeats in each of STARTS (2) server starts
#    per model; the first model measured again every 4 models gives the
#    spread between starts.
# 2. `rooftune published`: the per-family held-out errors and the depth rows.
# Prints one markdown table of held-out errors against the +-15% goal and the
# rates above their ceilings (there must be none), and leaves the raw JSON and
# server notes under OUTDIR. Exits 1 when a rate is above its ceiling.
# Needs llama-server ($ROOFTUNE_LLAMA_SERVER or scripts/install-llama-server.sh)
# and Gemma ($ROOFTUNE_GEMMA or scripts/fetch-model.sh). Figures taken while
# other work runs are marked by `others_cores` notes in OUTDIR/calibrate.err.
set -euo pipefail
out=${1:?usage: benches/calibrate.sh OUTDIR}
cd "$(dirname "$0")/.."
mkdir -p "$out"
repeats=${REPEATS:-3}
SHAPES=${SHAPES:-1024x12,768x24,640x6v,512x4v,1024x8h4,1024x8:q5_0,768x16:q5_0,640x6v:q5_0,512x4v:q5_0,768x12h3:q5_0,1024x8:q8_0,768x16:q8_0,640x6v:q8_0,512x4v:q8_0,1024x8h4:q8_0,1024x8:q6_K,768x6v:q6_K,512x4v:q6_K}
server=${ROOFTUNE_LLAMA_SERVER:-$(bash scripts/install-llama-server.sh --print-path)}
gemma=${ROOFTUNE_GEMMA:-$(bash scripts/fetch-model.sh --print-path)}
[ -x "$server" ] || { echo "no llama-server at $server (hint: bash scripts/install-llama-server.sh)" >&2; exit 2; }
[ -f "$gemma" ] || { echo "no Gemma at $gemma (hint: bash scripts/fetch-model.sh)" >&2; exit 2; }
RT=${ROOFTUNE_BIN:-}
if [ -z "$RT" ]; then
  cargo build --release --locked -q --bin rooftune
  RT=target/release/rooftune
fi
{ uptime; nproc; } >"$out/machine.txt"
start=$(date +%s)
"$RT" calibrate --run --server-bin "$server" \
  --shapes "$SHAPES" --vocab-from "$gemma" \
  --validate "1280x8,1024x12h8,1024x12:q4_K,$gemma" --depths 0,4096 --prompt-tokens 512 \
  --n-predict 64 --repeats "$repeats" --starts "${STARTS:-2}" --json -o "$out/calibrate.json" 2>"$out/calibrate.err"
"$RT" published --json -o "$out/published.json"
echo "calibrate took $(( $(date +%s) - start )) s; $(cat "$out/machine.txt" | head -1)" >"$out/timing.txt"
status=0
python3 - "$out" <<'PY' || status=$?
import json, sys
out = sys.argv[1]
c = json.load(open(f"{out}/calibrate.json"))
p = json.load(open(f"{out}/published.json"))
goal = 15.0
rows = []
def row(what, err, note=""):
    ok = "yes" if err is not None and abs(err) <= goal else "no"
    rows.append(f"| {what} | {'' if err is None else f'{err:+.0f}%'} | {ok} | {note} |")
d = c["decode"]
row("decode, fitted shapes held out one at a time (max)", d.get("holdout_max_pct"), f"mean {d.get('holdout_mean_pct') or 0:.0f}%")
if c.get("prefill"):
    row("prefill 512, fitted shapes held out (max)", c["prefill"].get("holdout_max_pct"), f"mean {c['prefill'].get('holdout_mean_pct') or 0:.0f}%")
for h in (c.get("validation") or {}).get("decode", []):
    row(f"decode {h['group']} @ {h['depth']} (never fitted)", h["error_pct"], f"measured {h['measured_tok_s']:.1f}, predicted {h['predicted_tok_s']:.1f} tok/s")
for h in (c.get("validation") or {}).get("prefill", []):
    row(f"prefill {h['group']} @ {h['depth']} (never fitted)", h["error_pct"], f"measured {h['measured_tok_s']:.0f}, predicted {h['predicted_tok_s']:.0f} tok/s")
for h in p.get("depth_held_out", []):
    r = h["row"]
    if r["model"] == "glm-5.1" or (r["model"] == "gpt-oss-120b" and r["depth"] == 32768):
        row(f"published {r['hw']} {r['model']} @ {r['depth']} (held out)", h["error_pct"], f"measured {r['measured_tok_s']:.1f}, predicted {h['predicted_tok_s']:.1f}; KV bytes alone {h['kv_only_error_pct']:+.0f}%")
for s in p.get("depth_summary", []):
    row(f"published {s['family']} depth rows, each model held out (max)", s["max_abs_pct"], f"{s['rows']} rows of {s['models']} models, mean {s['mean_abs_pct']:.0f}%; KV bytes alone mean {s['kv_only_mean_abs_pct']:.0f}%")
for s in p.get("prefill_summary", []):
    row(f"published {s['family']} prefill rows, each model held out (mean)", s["mean_abs_pct"], f"{s['rows']} rows, max {s['max_abs_pct']:.0f}%; half the ceiling mean {s['default_mean_abs_pct']:.0f}%")
for fam, f in p.get("families", {}).items():
    row(f"published {fam}, each row held out (mean abs)", f["holdout_mape_pct"], f"{f['n']} rows, {f['band']['per_expert_s']*1e6:.0f} us per routed expert, coverage {100*f['holdout_coverage']:.0f}%")
print("| held-out figure | error | within +-15% | detail |")
print("|---|---|---|---|")
print("\n".join(rows))
above = c.get("above_ceiling", [])
plain = [r for r in p["rows"] if r["measurement"]["kind"] == "plain"]
pub_above = [r for r in plain if r["measurement"]["tok_s"] > r["ceiling_tok_s"]]
n_rates = sum(len(m["decode"]) + len(m["prefill"]) for m in c.get("models", []))
print()
print(f"rates measured here above their ceilings: {len(above)} of {n_rates}" + "".join(f"\n- {a}" for a in above))
print(f"published plain-decode rows above their ceilings: {len(pub_above)} of {len(plain)}")
if c.get("drift"):
    x = c["drift"]
    rates = ", ".join(f"{a['decode_tok_s']:.0f}" for a in x["anchors"])
    print(f"between starts: {x['model']} decode@{x['depth']} in {len(x['anchors'])} server starts: {rates} tok/s (spread {x['spread_pct']:.0f}%, first to last {x['drift_pct']:+.0f}%)")
sys.exit(1 if above or pub_above else 0)
PY
cat "$out/timing.txt"
busy=$(grep -c "other processes used" "$out/calibrate.err" || true)
if [ "$busy" -gt 0 ]; then
  most=$(grep -o "used [0-9.]* cores" "$out/calibrate.err" | awk '{print $2}' | sort -g | tail -1)
  echo "contention: $busy points measured while other processes used over 0.25 core (up to $most cores): those rates measure the machine, not the model (see $out/calibrate.err)"
else
  echo "contention: none (no point saw other processes use over 0.25 core)"
fi
exit $status
