#!/usr/bin/env python3
"""Convert a TF.js graph model (e.g. Human's `faceres`) to ONNX with tf2onnx.

tf2onnx --tfjs fails under TensorFlow 2.15 with "NodeDef missing attr 'TArgs'" on fused
nodes; we give each node that has `num_args` a `TArgs` attribute of `[T] * num_args`
first. Then only the requested output is kept (the age/gender heads are dropped) and the
graph is renamed to stable names: input `input`, output `embedding` (or the name given).

Usage: tfjs_to_onnx.py MODEL.json OUTPUT.onnx TF_OUTPUT_NAME [ONNX_OUTPUT_NAME]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import onnx
from onnx import utils


def patch(model_json: str, workdir: str) -> str:
    m = json.load(open(model_json))
    for n in m["modelTopology"]["node"]:
        attr = n.get("attr", {})
        if "num_args" in attr and "TArgs" not in attr:
            t = attr.get("T", {}).get("type", "DT_FLOAT")
            attr["TArgs"] = {"list": {"type": [t] * int(attr["num_args"]["i"])}}
    out = os.path.join(workdir, os.path.basename(model_json))
    json.dump(m, open(out, "w"))
    src = os.path.dirname(os.path.abspath(model_json))
    for group in m["weightsManifest"]:
        for p in group["paths"]:
            shutil.copy(os.path.join(src, p), os.path.join(workdir, p))
    return out


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    src, dst, tf_out = sys.argv[1:4]
    onnx_out = sys.argv[4] if len(sys.argv) == 5 else "embedding"
    with tempfile.TemporaryDirectory() as tmp:
        patched = patch(src, tmp)
        full = os.path.join(tmp, "full.onnx")
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tfjs", patched,
                        "--output", full, "--opset", "13"], check=True)
        m = onnx.load(full)
        inputs = [i.name for i in m.graph.input]
        outs = [o.name for o in m.graph.output if o.name.split(":")[0] == tf_out]
        if len(inputs) != 1 or len(outs) != 1:
            sys.exit(f"unexpected graph: inputs {inputs}, outputs {[o.name for o in m.graph.output]}")
        pruned = os.path.join(tmp, "pruned.onnx")
        utils.extract_model(full, pruned, inputs, outs)
        m = onnx.load(pruned)
        renames = {inputs[0]: "input", outs[0]: onnx_out}
        for node in m.graph.node:
            node.input[:] = [renames.get(x, x) for x in node.input]
            node.output[:] = [renames.get(x, x) for x in node.output]
        for v in list(m.graph.input) + list(m.graph.output):
            v.name = renames.get(v.name, v.name)
        m.producer_name = "hoso-tfjs-to-onnx"
        onnx.checker.check_model(m)
        onnx.save(m, dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
