#!/usr/bin/env python3
"""Compare rebuilt models with the committed ones: same sha256, or the same outputs on
random inputs within 1e-5 (tf2onnx names nodes non-deterministically).

Usage: verify.py COMMITTED_MODELS_DIR REBUILT_DIR
"""
import hashlib
import sys

import numpy as np
import onnxruntime as ort

FILES = [
    "mtcnn/pnet.onnx",
    "mtcnn/rnet.onnx",
    "mtcnn/onet.onnx",
    "dlib_resnet_v1.onnx",
    "faceres.onnx",
    "fr_feature.onnx",
    "fr_liveness.onnx",
]


def sha(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def feed(sess, rng):
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else (2 if n == 0 else 64) for n, d in enumerate(i.shape)]
        feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def main():
    a, b = sys.argv[1:3]
    bad = 0
    for f in FILES:
        if sha(f"{a}/{f}") == sha(f"{b}/{f}"):
            print(f"{f}: identical")
            continue
        sa, sb = ort.InferenceSession(f"{a}/{f}"), ort.InferenceSession(f"{b}/{f}")
        x = feed(sa, np.random.default_rng(7))
        diff = max(float(np.abs(p - q).max()) for p, q in zip(sa.run(None, x), sb.run(None, x)))
        ok = diff <= 1e-5
        bad += not ok
        print(f"{f}: bytes differ, max output difference {diff:.2e} ({'ok' if ok else 'MISMATCH'})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
