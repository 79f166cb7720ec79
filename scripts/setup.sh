#!/usr/bin/env bash
# Installs everything the demo and the tests need, idempotently:
#   - Debian packages: python3 + pip (to fetch the ONNX Runtime wheel); with --tests also
#     chromium, ffmpeg, nodejs and npm for the browser tests,
#   - libonnxruntime.so.1.31.1 from the PyPI onnxruntime==1.31.1 wheel into .local/onnxruntime/,
#   - with --tests: playwright-core (npm, pinned by tests/browser/package-lock.json; it never
#     downloads a browser: the tests use Debian's chromium).
# Usage: scripts/setup.sh [--tests]     (as root or with sudo available for apt-get)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ORT_VERSION=1.31.1
ORT_LIB=libonnxruntime.so.$ORT_VERSION
ORT_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
ort_dir=$root/.local/onnxruntime
with_tests=false
[ "${1:-}" = "--tests" ] && with_tests=true

say() { printf '[setup] %s\n' "$*"; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

sha_ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

# 1. Tools to fetch the ONNX Runtime wheel.
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
  apt_install python3 python3-pip
fi

# 2. ONNX Runtime shared library.
if sha_ok "$ort_dir/$ORT_LIB" "$ORT_SHA256"; then
  say "ONNX Runtime $ORT_VERSION present"
else
  say "fetching ONNX Runtime $ORT_VERSION from PyPI"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --python-version 3.11 --implementation cp "onnxruntime==$ORT_VERSION" -d "$tmp"
  python3 - "$tmp" "$ORT_LIB" <<'PY'
import glob, sys, zipfile
tmp, lib = sys.argv[1], sys.argv[2]
whl = glob.glob(f"{tmp}/onnxruntime-*.whl")[0]
with zipfile.ZipFile(whl) as z:
    data = z.read(f"onnxruntime/capi/{lib}")
open(f"{tmp}/{lib}", "wb").write(data)
PY
  sha_ok "$tmp/$ORT_LIB" "$ORT_SHA256" || { echo "[setup] checksum mismatch for $ORT_LIB" >&2; exit 1; }
  mkdir -p "$ort_dir"
  install -m 0644 "$tmp/$ORT_LIB" "$ort_dir/$ORT_LIB"
  say "installed $ort_dir/$ORT_LIB"
fi

# 3. Browser-test tooling.
if $with_tests; then
  apt_install chromium ffmpeg
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    say "installing playwright-core (npm)"
    (cd tests/browser && npm ci --no-audit --no-fund --silent)
  fi
fi
