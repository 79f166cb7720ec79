#!/usr/bin/env python3
"""Convert dlib's `dlib_face_recognition_resnet_model_v1.dat` to ONNX.

The .dat file is dlib's own serialisation of the network type

    loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
        max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>

The file stores only versions and layer parameters; which tag a skip or add_prev refers
to is part of the C++ type. We therefore rebuild the layer list from the architecture
(`architecture()` below), check every version and layer tag in the file against it while
reading the parameters, and emit an equivalent ONNX graph.

Input of the ONNX graph: `input` float32 [N, 3, 150, 150], RGB, already normalised as
dlib does: (pixel - channel_mean) / 256, channel means (122.782, 117.001, 104.298).
Output: `embedding` float32 [N, 128], not normalised.

Usage: dlib_to_onnx.py INPUT.dat OUTPUT.onnx
"""
import math
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Reader:
    """dlib serialisation primitives (dlib/serialize.h)."""

    def __init__(self, data: bytes):
        self.d = data
        self.p = 0

    def int(self) -> int:
        c = self.d[self.p]
        self.p += 1
        n = c & 0x0F
        v = int.from_bytes(self.d[self.p:self.p + n], "little")
        self.p += n
        return -v if c & 0x80 else v

    def str(self) -> str:
        n = self.int()
        s = self.d[self.p:self.p + n]
        self.p += n
        return s.decode("ascii")

    def float(self) -> float:
        m = self.int()
        e = self.int()
        return m * 2.0 ** e

    def bool(self) -> bool:
        c = self.d[self.p:self.p + 1]
        self.p += 1
        if c not in (b"0", b"1"):
            raise ValueError(f"bad bool {c!r} at {self.p - 1}")
        return c == b"1"

    def tensor(self) -> np.ndarray:
        ver = self.int()
        if ver != 2:
            raise ValueError(f"tensor version {ver} at {self.p}")
        dims = [self.int() for _ in range(4)]
        n = math.prod(dims)
        a = np.frombuffer(self.d, dtype="<f4", count=n, offset=self.p).astype(np.float32)
        self.p += 4 * n
        return a.reshape(dims)

    def alias(self):
        ver = self.int()
        if ver != 1:
            raise ValueError(f"alias_tensor version {ver} at {self.p}")
        return [self.int() for _ in range(4)]

    def expect(self, tag: str):
        got = self.str()
        if got != tag:
            raise ValueError(f"expected layer {tag!r}, found {got!r} at {self.p}")


def architecture():
    """Layers of dlib's face ResNet from the output inwards, as (kind, args)."""
    out = [("loss", ()), ("fc", (128,)), ("avg_all", ())]

    def block(n, stride):  # BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUB>>>>>
        return [("affine", ()), ("con", (n, 3, 1)), ("relu", ()), ("affine", ()), ("con", (n, 3, stride))]

    def ares(n):
        return [("relu", ()), ("add_prev", ("tag1",))] + block(n, 1) + [("tag", ("tag1",))]

    def ares_down(n):
        return ([("relu", ()), ("add_prev", ("tag2",)), ("avg_pool", (2, 2)), ("skip", ("tag1",)),
                 ("tag", ("tag2",))] + block(n, 2) + [("tag", ("tag1",))])

    out += ares_down(256)  # alevel0
    out += ares(256) + ares(256) + ares_down(256)  # alevel1
    out += ares(128) + ares(128) + ares_down(128)  # alevel2
    out += ares(64) + ares(64) + ares(64) + ares_down(64)  # alevel3
    out += ares(32) + ares(32) + ares(32)  # alevel4
    out += [("max_pool", (3, 2)), ("relu", ()), ("affine", ()), ("con", (32, 7, 2))]
    return out


def read_model(data: bytes):
    r = Reader(data)
    layers = architecture()
    # Wrapper versions, outside in. The loss layer writes its details first.
    if r.int() != 1:
        raise ValueError("loss wrapper version")
    r.expect("loss_metric_2")
    margin, dist_thresh = r.float(), r.float()
    for i, (kind, _) in enumerate(layers[1:]):
        v = r.int()
        innermost = i == len(layers) - 2
        want = 1 if kind in ("tag", "skip") else (3 if innermost else 2)
        if v != want:
            raise ValueError(f"layer {i + 1} ({kind}): version {v}, expected {want}")
    r.expect("input_rgb_image_sized")
    means = [r.float() for _ in range(3)]
    nr, nc = r.int(), r.int()
    params = []
    # Details of every computing layer, inside out.
    for depth, (kind, args) in enumerate(reversed(layers[1:])):
        if kind in ("tag", "skip"):
            params.append(None)
            continue
        if kind == "con":
            r.expect("con_4")
            p = r.tensor().reshape(-1)
            nf, kr, kc, sy, sx, py, px = (r.int() for _ in range(7))
            fdims = r.alias()
            bdims = r.alias()
            for _ in range(4):
                r.float()
            n, k, stride = args
            assert (nf, kr, kc, sy, sx) == (n, k, k, stride, stride), (kind, nf, kr, sy)
            nw = math.prod(fdims)
            w = p[:nw].reshape(fdims)
            b = p[nw:nw + math.prod(bdims)].reshape(-1)
            params.append({"w": w, "b": b, "pad": (py, px), "stride": stride})
        elif kind == "affine":
            r.expect("affine_")
            p = r.tensor().reshape(-1)
            g = r.alias()
            r.alias()
            mode = r.int()
            assert mode == 0, f"affine mode {mode} (want CONV_MODE = 0)"
            k = math.prod(g)
            params.append({"gamma": p[:k], "beta": p[k:2 * k]})
        elif kind == "relu":
            r.expect("relu_")
            params.append({})
        elif kind in ("max_pool", "avg_pool", "avg_all"):
            r.expect("max_pool_2" if kind == "max_pool" else "avg_pool_2")
            pr, pc, sy, sx, py, px = (r.int() for _ in range(6))
            params.append({"k": (pr, pc), "s": (sy, sx), "pad": (py, px)})
        elif kind == "add_prev":
            r.expect("add_prev_")
            params.append({})
        elif kind == "fc":
            r.expect("fc_2")
            nout, nin = r.int(), r.int()
            p = r.tensor().reshape(-1)
            wd = r.alias()
            r.alias()
            bias_mode = r.int()
            for _ in range(4):
                r.float()
            assert bias_mode == 1 and nout == 128, (bias_mode, nout)
            params.append({"w": p[:math.prod(wd)].reshape(nin, nout)})
        else:
            raise AssertionError(kind)
        # add_layer bookkeeping: three flags and three (empty) cached tensors.
        for _ in range(3):
            r.bool()
        for _ in range(3):
            t = r.tensor()
            assert t.size == 0
        if depth == 0:
            r.int()  # the input-level add_layer (version 3) also stores its sample expansion factor
    if r.p != len(data):
        raise ValueError(f"{len(data) - r.p} trailing bytes")
    params.reverse()
    return layers, params, means, (nr, nc), (margin, dist_thresh)


def build_onnx(layers, params, size):
    nodes, inits = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(prefix, arr):
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), n))
        return n

    x = "input"
    shape = [3, size[0], size[1]]  # C, H, W of the current value
    tags = {}
    # Walk inside out (the last entry of `layers` is the innermost).
    for (kind, args), p in reversed(list(zip(layers[1:], params))):
        if kind == "tag":
            tags[args[0]] = (x, list(shape))
        elif kind == "skip":
            x, shape = tags[args[0]]
            shape = list(shape)
        elif kind == "con":
            out = name("conv")
            k = p["w"].shape[2]
            py, px = p["pad"]
            nodes.append(helper.make_node(
                "Conv", [x, const("w", p["w"]), const("b", p["b"])], [out],
                kernel_shape=[k, k], strides=[p["stride"]] * 2, pads=[py, px, py, px]))
            shape = [p["w"].shape[0],
                     (shape[1] + 2 * py - k) // p["stride"] + 1,
                     (shape[2] + 2 * px - k) // p["stride"] + 1]
            x = out
        elif kind == "affine":
            c = p["gamma"].shape[0]
            m = name("aff")
            out = name("aff")
            nodes.append(helper.make_node("Mul", [x, const("g", p["gamma"].reshape(1, c, 1, 1))], [m]))
            nodes.append(helper.make_node("Add", [m, const("be", p["beta"].reshape(1, c, 1, 1))], [out]))
            x = out
        elif kind == "relu":
            out = name("relu")
            nodes.append(helper.make_node("Relu", [x], [out]))
            x = out
        elif kind in ("max_pool", "avg_pool"):
            (kr, kc), (sy, sx), (py, px) = p["k"], p["s"], p["pad"]
            out = name("pool")
            op = "MaxPool" if kind == "max_pool" else "AveragePool"
            nodes.append(helper.make_node(op, [x], [out], kernel_shape=[kr, kc], strides=[sy, sx],
                                          pads=[py, px, py, px]))
            shape = [shape[0], (shape[1] + 2 * py - kr) // sy + 1, (shape[2] + 2 * px - kc) // sx + 1]
            x = out
        elif kind == "avg_all":
            assert p["k"] == (0, 0)
            out = name("gap")
            nodes.append(helper.make_node("GlobalAveragePool", [x], [out]))
            shape = [shape[0], 1, 1]
            x = out
        elif kind == "add_prev":
            # dlib adds tensors of different sizes by zero-padding both to the larger size.
            y, yshape = tags[args[0]]
            full = [max(a, b) for a, b in zip(shape, yshape)]

            def padded(v, s):
                if s == full:
                    return v
                out = name("pad")
                pads = [0, 0, 0, 0, 0, full[0] - s[0], full[1] - s[1], full[2] - s[2]]
                nodes.append(helper.make_node("Pad", [v, const("pads", np.array(pads, dtype=np.int64))], [out]))
                return out

            a, b = padded(x, shape), padded(y, yshape)
            out = name("add")
            nodes.append(helper.make_node("Add", [a, b], [out]))
            x, shape = out, full
        elif kind == "fc":
            flat = name("flat")
            nodes.append(helper.make_node("Flatten", [x], [flat], axis=1))
            nodes.append(helper.make_node("MatMul", [flat, const("fcw", p["w"])], ["embedding"]))
            x = "embedding"
        else:
            raise AssertionError(kind)
    graph = helper.make_graph(
        nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size[0], size[1]])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 128])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="hoso-dlib-to-onnx")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data = open(sys.argv[1], "rb").read()
    layers, params, means, size, loss = read_model(data)
    print(f"read {len(layers)} layers; input {size}, channel means {[round(m, 3) for m in means]}, "
          f"loss margin {loss[0]:.3f} threshold {loss[1]:.3f}")
    model = build_onnx(layers, params, size)
    onnx.save(model, sys.argv[2])
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
