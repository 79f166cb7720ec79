#!/usr/bin/env bash
# Kiosk load on loopback, one server on SQLite against several on one PostgreSQL (with a key
# database): each server gets K kiosks playing visits of an enrolled person for S seconds
# (examples/kiosk_load), all servers at once; frames/s and per-frame p50/p95 are printed
# per server and in all. A throwaway cluster (scripts/pg-cluster.sh) is started and removed.
#   scripts/load-servers.sh [--servers N] [--kiosks K] [--seconds S] [--release]
# Needs scripts/setup.sh --tests (PostgreSQL) and the photos in HOSO_TEST_FACES
# (default ../shared/faces).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
servers=2 kiosks=4 seconds=20 profile=debug release=()
while [ $# -gt 0 ]; do
  case $1 in
    --servers) servers=$2; shift ;;
    --kiosks) kiosks=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --release) profile=release release=(--release) ;;
    *) echo "usage: $0 [--servers N] [--kiosks K] [--seconds S] [--release]" >&2; exit 2 ;;
  esac
  shift
done
faces=${HOSO_TEST_FACES:-$root/../shared/faces}
[ -d "$faces/deepface_p01" ] || { echo "[load] no photos in $faces" >&2; exit 1; }
cargo build -q "${release[@]}" --bin hoso --example kiosk_load
hoso=$root/target/$profile/hoso
load=$root/target/$profile/examples/kiosk_load
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$(ls "$root"/.local/onnxruntime/libonnxruntime.so.* | head -1)}
export RUST_LOG=warn

tmp=$(mktemp -d /tmp/hoso-load.XXXXXX)
[ "$(id -u)" -eq 0 ] && chmod 755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg-cluster.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
pw=correct-horse-battery

# Starts `hoso serve` on data dir $1 with the remaining arguments (in this shell, so the
# cleanup can stop it); sets $base to its URL.
serve() {
  local dir=$1; shift
  "$hoso" serve --listen 127.0.0.1:0 --data-dir "$dir" "$@" >"$dir/serve.out" 2>"$dir/serve.err" &
  pids+=($!)
  for _ in $(seq 1 200); do
    base=$(grep -o 'http://[0-9.:]*' "$dir/serve.out" 2>/dev/null | head -1 || true)
    [ -n "$base" ] && return 0
    sleep 0.1
  done
  cat "$dir/serve.err" >&2
  return 1
}

# Makes a clerk and a kiosk token in data dir $1 (database arguments after it); prints the token.
accounts() {
  local dir=$1; shift
  echo "$pw" | "$hoso" admin create-user --role clerk --username clerk1 --data-dir "$dir" "$@" >/dev/null 2>&1
  "$hoso" admin issue-token --role kiosk --name "Sảnh" --data-dir "$dir" "$@" 2>/dev/null | tail -1
}

# Enrols deepface_p01 (two photos) with an open dossier through the clerk API of $1.
enrol() {
  python3 - "$1" "$faces" "$pw" <<'PY'
import json, sys, urllib.request
base, faces, pw = sys.argv[1:]
def call(method, path, body=None, ctype="application/json", headers={}):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    r = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": ctype, **headers})
    with urllib.request.urlopen(r) as res:
        return res.headers, json.loads(res.read() or b"null")
h, v = call("POST", "/api/v1/auth/login", {"username": "clerk1", "password": pw})
auth = {"Cookie": h["Set-Cookie"].split(";")[0], "X-CSRF-Token": v["csrf_token"]}
_, a = call("POST", "/api/v1/applicants", {"full_name": "Người Thử Tải", "id_number": "001099400001"}, headers=auth)
_, t = call("GET", "/api/v1/consent/text", headers=auth)
call("POST", f"/api/v1/applicants/{a['id']}/consent", {"text_version": t["version"], "method": "tick"}, headers=auth)
for f in ("img1.jpg", "img2.jpg"):
    call("POST", f"/api/v1/applicants/{a['id']}/faces", open(f"{faces}/deepface_p01/{f}", "rb").read(), "image/jpeg", auth)
call("POST", "/api/v1/dossiers", {"code": "000.00.17.H29-261201-0900", "applicant_id": a["id"], "procedure": "Thử tải",
     "received_at": "2026-12-01 08:00", "due_at": "2026-12-10"}, headers=auth)
PY
}

# Runs K kiosks on every base URL given, at once; prints each report and the sum.
run_load() {
  local label=$1 token=$2; shift 2
  local i=0 outs=() runs=()
  for base in "$@"; do
    i=$((i + 1))
    "$load" --base "$base" --token "$token" --kiosks "$kiosks" --seconds "$seconds" \
      --image "$faces/deepface_p01/img5.jpg" --json >"$tmp/$label.$i.json" &
    runs+=($!)
    outs+=("$tmp/$label.$i.json")
  done
  wait "${runs[@]}"
  python3 - "$label" "${outs[@]}" <<'PY'
import json, sys
label, files = sys.argv[1], sys.argv[2:]
reps = [json.load(open(f)) for f in files]
for r in reps:
    l = r["latency_ms"]
    print(f"  {label} {r['base']}: {r['kiosks']} kiosks, {r['frames_per_s']:.1f} frames/s, p50 {l['p50']:.0f} ms, p95 {l['p95']:.0f} ms, decisions {r['states']}, refused {r['refused']}")
total = sum(r["frames_per_s"] for r in reps)
p95 = max(r["latency_ms"]["p95"] for r in reps)
print(f"{label}: {len(reps)} server(s) × {reps[0]['kiosks']} kiosks: {total:.1f} frames/s in all, worst p95 {p95:.0f} ms")
PY
}

echo "[load] $profile build, $kiosks kiosks per server, $seconds s"
# One server on SQLite.
mkdir -p "$tmp/lite"
token=$(accounts "$tmp/lite")
serve "$tmp/lite"
enrol "$base"
run_load sqlite "$token" "$base"
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
pids=()

# N servers on PostgreSQL.
url=$(scripts/pg-cluster.sh start "$tmp/pg")
psql -q "$url/postgres" -c "CREATE DATABASE hoso" -c "CREATE DATABASE hoso_keys"
db=(--database "$url/hoso" --keys-database "$url/hoso_keys")
mkdir -p "$tmp/s1"
token=$(accounts "$tmp/s1" "${db[@]}")
bases=()
for n in $(seq 1 "$servers"); do
  mkdir -p "$tmp/s$n/keys"
  [ "$n" -gt 1 ] && cp "$tmp/s1/keys/deployment.key" "$tmp/s$n/keys/"
  serve "$tmp/s$n" "${db[@]}"
  bases+=("$base")
done
enrol "${bases[0]}"
sleep 1
run_load postgresql "$token" "${bases[@]}"
