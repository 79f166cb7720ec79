#!/usr/bin/env bash
# Runs every check and test: installs what is missing (scripts/setup.sh), then formatting,
# clippy, the Debian package, and the whole test suite (unit, integration against a live
# server, real models on the real photos in ../shared/faces or $HOSO_TEST_FACES, browser,
# and — as root — installing and purging the package; see tests/deb.rs) on SQLite; then
# every integration and browser test again on PostgreSQL, in a throwaway cluster started
# here (scripts/pg-cluster.sh) and stopped after.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
export HOSO_TEST_FACES=${HOSO_TEST_FACES:-$(cd .. && pwd)/shared/faces}
export HOSO_TEST_DISTRACTORS=${HOSO_TEST_DISTRACTORS:-$(cd .. && pwd)/shared/distractors}
echo "[test] cargo fmt --check"
cargo fmt --check
echo "[test] cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "[test] Debian package (dev profile; scripts/build-deb.sh builds the release one)"
rm -f target/debian/hoso_*.deb
scripts/build-deb.sh --profile dev --fast
HOSO_DEB=$(ls target/debian/hoso_*.deb)
export HOSO_DEB
echo "[test] cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets --locked 2>&1 | tee "$log" || status=$?
if [ "$status" -eq 0 ]; then
  echo "[test] the integration and browser tests again, on PostgreSQL"
  pgdir=$(mktemp -d /tmp/hoso-pg.XXXXXX)
  trap 'scripts/pg-cluster.sh stop "$pgdir"; rm -f "$log"' EXIT
  HOSO_TEST_PG=$(scripts/pg-cluster.sh start "$pgdir")
  export HOSO_TEST_PG HOSO_TEST_PG_DIR=$pgdir
  # Not the package, the models and photos alone (vision_real, evals), the gallery at a
  # thousand people (kiosk_scale: the decision lives in memory; the store's side of the same
  # visits runs in kiosk), or the soak: they do not touch the store in a way the first pass
  # did not.
  targets=()
  for t in tests/*.rs; do
    name=$(basename "$t" .rs)
    case $name in deb | vision_real | evals | kiosk_scale | soak) ;; *) targets+=(--test "$name") ;; esac
  done
  cargo test --locked "${targets[@]}" 2>&1 | sed 's/^test result:/test result (PostgreSQL):/' | tee -a "$log" || status=$?
fi
# One closing line for the whole suite (both passes).
awk '/^test result/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
echo "[test] the whole run took $((SECONDS / 60)) min $((SECONDS % 60)) s"
exit "$status"
