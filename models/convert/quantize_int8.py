#!/usr/bin/env python3
"""Quantise an embedder (or a passive liveness model) to int8 QDQ with ONNX Runtime's
static quantisation, calibrated on real aligned face chips, and check it against fp32.

The chips come from `hoso faces chips --faces ../shared/faces --embedder NAME --out F`:
raw little-endian f32 in the network's input layout, one chip after another (the
mirror image after each face, as enrolment sees it). Every other face (with its mirror
image) calibrates; the rest are held out to compare the int8 and fp32 embeddings.

Steps: opset raised to 13 (per-channel QDQ needs it), ONNX Runtime's pre-processing
(shape inference and graph clean-up), then quantize_static with per-channel int8
weights and uint8 activations. Calibration takes the 0.001–99.999 percentile range of
each activation (MinMax lets a few outliers stretch the scale: held-out cosine to fp32
min 0.92 against 0.96), and the first convolution and the last two (the embedding's
projection) stay fp32 (min 0.97, median 0.988; they cost little). Nothing of the chips
is kept in the output but the activation ranges.

A passive liveness model (`--kind pad`; its chips are the crops of live photos and of
presentation attacks, no mirror images) is compared by its live probability instead:
the largest and typical difference to fp32 on the held-out crops.

Usage:
  quantize_int8.py --model models/fr_feature.onnx --chips /tmp/chips.f32 \
      --size 112 --layout nchw --out models/fr_feature_int8.onnx
  quantize_int8.py --kind pad --model models/fr_liveness.onnx --chips /tmp/pad.f32 \
      --size 128 --layout nchw --out models/fr_liveness_int8.onnx
"""

import argparse
import hashlib
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process


def load_chips(path, size, layout):
    raw = np.fromfile(path, dtype="<f4")
    per = size * size * 3
    if raw.size == 0 or raw.size % per:
        sys.exit(f"{path}: {raw.size} values is not a whole number of {size}×{size}×3 chips")
    shape = (-1, 3, size, size) if layout == "nchw" else (-1, size, size, 3)
    return raw.reshape(shape)


class Chips(CalibrationDataReader):
    def __init__(self, name, chips, batch=8):
        self.name, self.chips, self.batch, self.at = name, chips, batch, 0

    def get_next(self):
        if self.at >= len(self.chips):
            return None
        b = self.chips[self.at : self.at + self.batch]
        self.at += self.batch
        return {self.name: b}

    def rewind(self):
        self.at = 0


def session(path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(sess, chips):
    name = sess.get_inputs()[0].name
    out = np.concatenate([sess.run(None, {name: chips[i : i + 16]})[0] for i in range(0, len(chips), 16)])
    return out.reshape(len(chips), -1)


def embed(sess, chips):
    out = run(sess, chips)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--chips", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--layout", choices=["nchw", "nhwc"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kind", choices=["embedder", "pad"], default="embedder")
    ap.add_argument("--live-index", type=int, default=0, help="--kind pad: the live class's output")
    a = ap.parse_args()

    chips = load_chips(a.chips, a.size, a.layout)
    if a.kind == "pad":
        calib, held = chips[0::2], chips[1::2]
    else:
        faces = chips.reshape((-1, 2) + chips.shape[1:])
        calib = faces[0::2].reshape((-1,) + chips.shape[1:])
        held = faces[1::2].reshape((-1,) + chips.shape[1:])
    # Whole batches only: the percentile calibrator stacks every batch's activations.
    calib = calib[: len(calib) // 8 * 8]
    model = onnx.load(a.model)
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    keep_fp32 = convs[:1] + convs[-2:]
    input_name = model.graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < 13:
            model = version_converter.convert_version(model, 13)
        raised = os.path.join(tmp, "opset13.onnx")
        onnx.save(model, raised)
        pre = os.path.join(tmp, "pre.onnx")
        quant_pre_process(raised, pre)
        quantize_static(
            pre,
            a.out,
            Chips(input_name, calib),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            nodes_to_exclude=keep_fp32,
        )
    digest = hashlib.sha256(open(a.out, "rb").read()).hexdigest()
    print(f"{a.out}: sha256 {digest}")
    if a.kind == "pad":
        f32 = run(session(a.model), held)[:, a.live_index]
        q8 = run(session(a.out), held)[:, a.live_index]
        d = np.abs(f32 - q8)
        print(
            f"fp32 kept: {', '.join(keep_fp32)}; calibrated on {len(calib)} crops; {len(held)} held out: "
            f"|live(int8) - live(fp32)| max {d.max():.4f}, p99 {np.percentile(d, 99):.4f}, median {np.median(d):.4f}"
        )
        return
    f32 = embed(session(a.model), held)
    q8 = embed(session(a.out), held)
    cos = np.sum(f32 * q8, axis=1)
    print(
        f"fp32 kept: {', '.join(keep_fp32)}; calibrated on {len(calib)} chips; {len(held)} held out: cosine(int8, fp32) "
        f"min {cos.min():.4f}, p1 {np.percentile(cos, 1):.4f}, median {np.median(cos):.4f}"
    )


if __name__ == "__main__":
    main()
