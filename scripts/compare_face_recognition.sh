#!/usr/bin/env bash
# The same 640×480 frame through the `face_recognition` library (dlib: HOG detector,
# 5-point landmarks, ResNet embedding) and through Hồ Sơ's pipeline, in one run, and the
# ratio of their median times per frame.
#
#   scripts/compare_face_recognition.sh [photo] [iterations]
#
# face_recognition is installed in a throwaway venv (PyPI dlib-bin, face_recognition_models,
# face_recognition without its source-built dlib dependency); nothing is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
photo="${1:-${HOSO_TEST_FACES:-../shared/faces}/nuaa_0001/0001_00_00_01_185.jpg}"
iterations="${2:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q dlib-bin==20.0.1.post1 face_recognition_models==0.3.0 numpy==2.4.6 \
  Pillow==13.0.0 Click==8.5.1
"$work/venv/bin/pip" install -q --no-deps face_recognition==1.3.0

# One frame for both: the photo letterboxed onto grey at 640×480, JPEG quality 85.
"$work/venv/bin/python" - "$photo" "$work/frame.jpg" <<'EOF'
import sys
from PIL import Image
src = Image.open(sys.argv[1]).convert("RGB")
s = min(640 / src.width, 480 / src.height)
small = src.resize((int(src.width * s), int(src.height * s)), Image.BILINEAR)
canvas = Image.new("RGB", (640, 480), (128, 128, 128))
canvas.paste(small, ((640 - small.width) // 2, (480 - small.height) // 2))
canvas.save(sys.argv[2], quality=85)
EOF

fr_ms="$("$work/venv/bin/python" - "$work/frame.jpg" "$iterations" <<'EOF'
import sys, time, statistics
import face_recognition
path, n = sys.argv[1], int(sys.argv[2])
def frame():
    img = face_recognition.load_image_file(path)
    boxes = face_recognition.face_locations(img)
    return face_recognition.face_encodings(img, boxes)
assert len(frame()) == 1, "face_recognition should find one face"
times = []
for _ in range(n):
    t = time.perf_counter()
    frame()
    times.append((time.perf_counter() - t) * 1e3)
print(f"{statistics.median(times):.2f}")
EOF
)"

cargo build --release --locked -q
json="$(RUST_LOG=warn target/release/hoso bench --json --image "$work/frame.jpg" \
  --iterations "$iterations" --max-gallery 1000)"
read -r pipeline kiosk < <(python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print(r["pipeline"]["p50_ms"], r["kiosk"]["1000"]["p50_ms"])' <<<"$json")

python3 - "$fr_ms" "$pipeline" "$kiosk" <<'EOF'
import sys
fr, pipe, kiosk = map(float, sys.argv[1:])
print(f"same 640×480 frame, median of one frame:")
print(f"  face_recognition (dlib HOG + 5 landmarks + ResNet): {fr:8.2f} ms")
print(f"  Hồ Sơ pipeline (decode, detect, align, embed, liveness): {pipe:8.2f} ms  → {fr / pipe:.1f}× faster")
print(f"  Hồ Sơ kiosk frame → decision (1 000 enrolled): {kiosk:8.2f} ms  → {fr / kiosk:.1f}× faster")
EOF
