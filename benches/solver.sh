#!/usr/bin/env bash
# Score the tuner on the recorded grid over 20 seeds, in seconds, without a
# server: picks in the grid's top group, share of the grid's measuring time,
# recommendations not better than the defaults.
#   benches/solver.sh [GRID.jsonl] [SPEC.toml] [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --example solver_bench -- \
  "${1:-tests/data/grid.jsonl}" "${2:-benches/replay.toml}" "${3:-20}"
