#!/usr/bin/env python3
"""Prepare the two faceplugin models (npm faceplugin-face-recognition-js@0.0.1, package/model/)
for batched use, and prove the result computes exactly what the original does.

  fr_feature.onnx  (embedder, 512-d): the final Reshape's shape initializer `703` is [1,-1];
                   set it to [-1,512] and make the input/output batch dimension symbolic.
  fr_liveness.onnx (passive PAD, 3 logits): its Reshape already follows the input's batch;
                   make the batch symbolic and append a Softmax so the output is probabilities
                   (class 0 = live).

Usage: faceplugin_to_onnx.py SRC_MODEL_DIR OUT_DIR
Checks (exit 1 on failure): for random inputs, the converted model's output equals the
original's (feature) or softmax(original) (liveness) for every item of a batch of 3, with a
maximum absolute difference <= 1e-6.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper


def symbolic_batch(model):
    for v in list(model.graph.input) + list(model.graph.output):
        d = v.type.tensor_type.shape.dim[0]
        d.ClearField("dim_value")
        d.dim_param = "N"


def feature(src, dst):
    m = onnx.load(src)
    for init in m.graph.initializer:
        if init.name == "703":
            assert list(numpy_helper.to_array(init)) == [1, -1], "unexpected Reshape shape"
            init.CopyFrom(numpy_helper.from_array(np.array([-1, 512], dtype=np.int64), "703"))
            break
    else:
        raise SystemExit("fr_feature: initializer 703 not found")
    symbolic_batch(m)
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def liveness(src, dst):
    m = onnx.load(src)
    g = m.graph
    (out,) = g.output
    for n in g.node:
        for i, name in enumerate(n.output):
            if name == "output":
                n.output[i] = "logits"
    g.node.append(helper.make_node("Softmax", ["logits"], ["output"], axis=1, name="softmax"))
    symbolic_batch(m)
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check(orig, conv, side, scale, post):
    rng = np.random.default_rng(11)
    x = (rng.random((3, 3, side, side)) * scale).astype(np.float32)
    so, sc = ort.InferenceSession(orig), ort.InferenceSession(conv)
    want = np.concatenate([post(so.run(None, {"input": x[i : i + 1]})[0]) for i in range(3)])
    got = sc.run(None, {"input": x})[0]
    diff = float(np.abs(want - got).max())
    print(f"{conv}: batch of 3 vs original one by one, max difference {diff:.2e}")
    return diff <= 1e-6


def main():
    src, out = sys.argv[1:3]
    feature(f"{src}/fr_feature.onnx", f"{out}/fr_feature.onnx")
    liveness(f"{src}/fr_liveness.onnx", f"{out}/fr_liveness.onnx")
    ok = check(f"{src}/fr_feature.onnx", f"{out}/fr_feature.onnx", 112, 2.0, lambda y: y)
    ok &= check(f"{src}/fr_liveness.onnx", f"{out}/fr_liveness.onnx", 128, 255.0, softmax)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
