#!/usr/bin/env bash
# Side by side on one clip, in one run: emolens' fast path vs the `fer` package's own video analysis.
# fer needs TensorFlow, so it gets its own venv (.venv-fer/, about 2 GB; not part of the install or CI).
# usage: scripts/bench-vs-fer.sh [CLIP] [OUT.json]
set -euo pipefail
cd "$(dirname "$0")/.."
clip=${1:-tests/data/portrait_zoom.mp4}
out=${2:-runs/bench-vs-fer.json}
mkdir -p "$(dirname "$out")"
if [ ! -x .venv-fer/bin/python ]; then
    python3 -m venv .venv-fer
    # fer's declared dependencies pull PyTorch (for MTCNN, unused here); take only what its Haar path imports
    .venv-fer/bin/pip install -q --no-deps fer==25.10.3
    .venv-fer/bin/pip install -q tensorflow-cpu "setuptools<81" "opencv-contrib-python<5" requests Pillow tqdm pandas
fi
.venv/bin/emolens bench "$clip" --repeats 3 --json runs/bench-emolens.json
start=$(date +%s.%N)
for _ in 1 2 3; do .venv/bin/emolens analyze "$clip" --out runs/bench-analyze --quiet >/dev/null; done
end=$(date +%s.%N)
fer_json=$(.venv-fer/bin/python scripts/fer_video_bench.py "$clip" 3 2>/dev/null | tail -n 1)
.venv/bin/python - "$clip" "$out" "$start" "$end" "$fer_json" <<'PY'
import json, statistics, sys
clip, out, start, end, fer = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5])
emolens = json.load(open("runs/bench-emolens.json"))
frames = json.load(open("runs/bench-analyze/session.json"))["counts"]["frames_processed"]
analyze_fps = 3 * frames / (end - start)  # whole command: start-up, decode, fast path, CSV
fer_fps = statistics.median(r["fps"] for r in fer["runs"])
report = {
    "clip": clip,
    "emolens_fast_path_fps": emolens["fps"],
    "emolens_analyze_command_fps": round(analyze_fps, 1),
    "fer_video_analyze_fps": round(fer_fps, 1),
    "ratio_fast_path_vs_fer": round(emolens["fps"] / fer_fps, 1),
    "ratio_analyze_command_vs_fer": round(analyze_fps / fer_fps, 1),
    "fer_runs": fer["runs"],
    "emolens_bench": emolens,
}
json.dump(report, open(out, "w"), indent=2)
print(json.dumps({k: v for k, v in report.items() if k not in ("fer_runs", "emolens_bench")}, indent=2))
PY
