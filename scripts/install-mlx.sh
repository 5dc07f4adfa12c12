#!/usr/bin/env bash
# Install (or find) mlx_lm.server for rooftune's MLX backend.
#
# Usage: scripts/install-mlx.sh [--print-path]
#
#   (no option)    Print the path of a usable mlx_lm.server on stdout, creating the
#                  virtual environment in the cache first if needed.
#   --print-path   Print the path of mlx_lm.server (the cached venv's, else the one
#                  on PATH); exit 1 if there is none. Never downloads.
#
# Environment:
#   ROOFTUNE_CACHE_DIR   cache root (default: $HOME/.cache/rooftune)
#   PYTHON               the python used to create the venv (default: python3)
#
# Pins: on Linux `mlx[cpu]==0.32.4 mlx-lm==0.32.2` (MLX's CPU build; measured in
# the project's notes), on macOS `mlx-lm==0.32.2` (Metal). Network use: PyPI
# through pip; Debian apt for libopenblas0-pthread (Linux, root only, best effort:
# the wheel bundles reference BLAS, about 10x slower prefill; rooftune preloads
# OpenBLAS when it is present).
#
# Cache layout (under $ROOFTUNE_CACHE_DIR):
#   mlx-0.32.4-lm-0.32.2/venv/          the virtual environment
#   mlx-0.32.4-lm-0.32.2/.rooftune-complete   marker, written last
#   mlx-server-path                     text file: absolute path of mlx_lm.server
#   mlx_lm.server-path                  the same (the name rooftune's locator reads: <binary>-path)
set -euo pipefail

MLX_VERSION=0.32.4
MLX_LM_VERSION=0.32.2
MARKER=.rooftune-complete

CACHE_DIR="${ROOFTUNE_CACHE_DIR:-$HOME/.cache/rooftune}"
DEST="$CACHE_DIR/mlx-${MLX_VERSION}-lm-${MLX_LM_VERSION}"
PATH_FILE="$CACHE_DIR/mlx-server-path"
SERVER="$DEST/venv/bin/mlx_lm.server"

log() { printf 'install-mlx: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

MODE=install
while [ $# -gt 0 ]; do
    case "$1" in
        --print-path) MODE=print ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (try --help)" ;;
    esac
    shift
done

openblas_present() {
    [ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 ] \
        || [ -e /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ] \
        || [ -e /usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0 ]
}

ensure_openblas() {
    [ "$(uname -s)" = Linux ] || return 0
    openblas_present && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing libopenblas0-pthread (MLX's CPU wheel ships reference BLAS)"
        (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0-pthread >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 \
                 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0-pthread >/dev/null 2>&1; }) \
            || log "warning: libopenblas0-pthread could not be installed; MLX prefill will be about 10x slower"
    else
        log "warning: OpenBLAS not found (apt-get install libopenblas0-pthread); MLX prefill will be about 10x slower"
    fi
}

if [ "$MODE" = print ]; then
    if [ -f "$DEST/$MARKER" ] && [ -x "$SERVER" ]; then echo "$SERVER"; exit 0; fi
    if command -v mlx_lm.server >/dev/null 2>&1; then command -v mlx_lm.server; exit 0; fi
    exit 1
fi

ensure_openblas

if [ -f "$DEST/$MARKER" ] && [ -x "$SERVER" ]; then
    mkdir -p "$CACHE_DIR"
    printf "%s\n" "$SERVER" > "$PATH_FILE"; printf "%s\n" "$SERVER" > "$CACHE_DIR/mlx_lm.server-path"
    echo "$SERVER"
    exit 0
fi

PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || die "$PY not found (install Python 3.10+ or set PYTHON)"
case "$(uname -s)" in
    Linux) PKGS=("mlx[cpu]==${MLX_VERSION}" "mlx-lm==${MLX_LM_VERSION}") ;;
    Darwin) PKGS=("mlx-lm==${MLX_LM_VERSION}") ;;
    *) die "MLX runs on Linux and macOS only (this is $(uname -s))" ;;
esac

mkdir -p "$CACHE_DIR"
log "creating a venv with ${PKGS[*]} (once; cached under $DEST)"
# A venv holds absolute paths, so it is built in place; the marker, written last,
# says it is complete (an interrupted install is redone).
rm -rf "$DEST"
mkdir -p "$DEST"
"$PY" -m venv "$DEST/venv" || { rm -rf "$DEST"; die "python -m venv failed (Debian: apt-get install python3-venv)"; }
"$DEST/venv/bin/pip" install --quiet --disable-pip-version-check "${PKGS[@]}" \
    || { rm -rf "$DEST"; die "pip install ${PKGS[*]} failed (is PyPI reachable?)"; }
[ -x "$SERVER" ] || { rm -rf "$DEST"; die "the venv has no mlx_lm.server"; }
touch "$DEST/$MARKER"
printf "%s\n" "$SERVER" > "$PATH_FILE"; printf "%s\n" "$SERVER" > "$CACHE_DIR/mlx_lm.server-path"
log "installed $SERVER"
echo "$SERVER"
