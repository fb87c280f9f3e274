#!/usr/bin/env bash
# On a GPU machine with no package index (carry .gpu-kit from scripts/gpu-kit.sh): the kit's wheels and emolens
# added to the machine's Python (no downloads), the models exported, then the GPU tests and
# the fast-path benchmark side by side, GPU variants against the CPU in one run. Results go to $OUT (or runs/gpu).
# usage: scripts/gpu-check.sh [BACKEND ...]   (default: every GPU backend that starts here, then onnxruntime-cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-runs/gpu}
mkdir -p "$out"
python=${PYTHON:-python3}
# Into the machine's own Python (a throwaway machine; --no-deps adds only the kit's pure-Python wheels), since
# a venv made from it would not see its packages when it is itself a venv.
bin=$("$python" -c 'import os, sys; print(os.path.dirname(sys.executable))')
if [ ! -x "$bin/emolens" ]; then
    "$python" -m pip install -q --no-index --no-deps .gpu-kit/wheels/*.whl
    # emolens from this folder, as an editable install has it, without needing setuptools there
    site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$PWD" > "$site/emolens-source.pth"
    printf '#!%s\nfrom app.cli import main\nraise SystemExit(main())\n' "$bin/python" > "$bin/emolens"
    chmod +x "$bin/emolens"
fi
export PATH="$bin:$PATH" EMOLENS_MODEL_DIR=${EMOLENS_MODEL_DIR:-$PWD/.gpu-kit/models}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
  python - <<'PY'
import onnxruntime
print("onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
try:
    import torch
except ImportError:
    print("no torch")
else:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA GPU"
    print("torch", torch.__version__, "cuda", torch.version.cuda, gpu)
PY
} | tee "$out/machine.txt"
emolens export-models
python -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py tests/test_torch_backend.py tests/test_tensorrt.py \
    tests/test_backends.py 2>&1 | tee "$out/tests.txt" || echo "some tests failed: see $out/tests.txt; measuring anyway"
backends=("$@")
if [ ${#backends[@]} -eq 0 ]; then
    for b in tensorrt onnxruntime-gpu torch-cuda; do
        python -c "import sys; from engines.backends import BACKENDS; sys.exit(BACKENDS['$b'](1).probe() is not None)" \
            && backends+=("$b")
    done
fi
compare=()
for b in "${backends[@]}"; do compare+=(--compare "$b+host"); done
[ ${#backends[@]} -gt 0 ] || echo "no GPU backend starts here: only the CPU is measured" | tee -a "$out/machine.txt"
first=${backends[0]:-onnxruntime-cpu}
[ "$first" = onnxruntime-cpu ] || compare+=(--compare onnxruntime-cpu)  # the CPU beside the GPU, same run
for clip in portrait_zoom group_pan; do
    emolens bench "tests/data/$clip.mp4" --frames 240 --repeats 5 --backend "$first" "${compare[@]}" \
        --json "$out/bench-$clip.json" | tee "$out/bench-$clip.txt"
done
emolens bench tests/data --frames-per-video 240 --backend "$first" --json "$out/bench-folder.json" \
    | tee "$out/bench-folder.txt"
