#!/usr/bin/env bash
# Sets up and runs the service in demo mode on http://127.0.0.1:8080/ (embedded SQLite in
# ./demo-data, models from ./models). Extra arguments go to `hoso serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release --locked -- serve --demo "$@"
