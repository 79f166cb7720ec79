#!/usr/bin/env bash
# Builds the Debian package target/debian/hoso_<version>-1_amd64.deb with cargo-deb:
# installs what is missing (scripts/setup.sh for ONNX Runtime, cargo-deb from crates.io),
# then `cargo deb`. Extra arguments go to cargo deb (e.g. --profile dev for a quick test build).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DEB_VERSION=3.6.2
scripts/setup.sh
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  echo "[deb] installing cargo-deb $CARGO_DEB_VERSION"
  cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi
if ! command -v dpkg-shlibdeps >/dev/null; then
  echo "[deb] installing dpkg-dev"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dpkg-dev >/dev/null
fi
cargo deb --locked "$@"
