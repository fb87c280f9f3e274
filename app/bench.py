"""`emolens bench`: the fast path's per-stage latency, frames/s and memory on a clip, as JSON.

Frames are decoded into memory first, so the figures are the fast path's own
(detector + tracker + expression + smoothing), not the video decoder's.
"""

from __future__ import annotations

import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

from app.assembly import FastPathOptions, build_fast_path
from capture import open_source
from engines.fast.pipeline import STAGES
from export.session_info import package_versions


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    a = np.asarray(values)
    return {f"p{q}": round(float(np.percentile(a, q)), 4) for q in (50, 95, 99)}


def load_frames(spec: str, max_frames: int) -> list:
    with open_source(spec) as source:
        frames = []
        for frame in source.frames():
            frames.append(frame)
            if len(frames) >= max_frames:
                break
    return frames


def bench(spec: str, options: FastPathOptions, max_frames: int = 600, warmup: int = 10, repeats: int = 3) -> dict:
    """Runs the clip `repeats` times, each from a fresh tracking state on the same warm models; reports the
    median run."""
    frames = load_frames(spec, max_frames)
    fast_path, info = build_fast_path(options, progress=lambda line: print(line, file=sys.stderr))
    for frame in frames[:warmup]:
        fast_path.process(frame)

    runs = []
    for _ in range(repeats):
        fast_path.reset()
        stage_ms: dict[str, list[float]] = {s: [] for s in STAGES}
        detect_frames: list[float] = []
        faces = 0
        start = time.perf_counter()
        for frame in frames:
            result = fast_path.process(frame)
            for stage in STAGES:
                stage_ms[stage].append(result.latency_ms[stage])
            if result.latency_ms["detect"] > 0:
                detect_frames.append(result.latency_ms["detect"])
            faces += len(result.faces)
        wall = time.perf_counter() - start
        runs.append(
            {
                "wall_s": wall,
                "fps": len(frames) / wall,
                "stage_ms": stage_ms,
                "detect_frames": detect_frames,
                "faces": faces,
            }
        )
    median = sorted(runs, key=lambda r: r["fps"])[len(runs) // 2]
    h, w = frames[0].image.shape[:2]
    return {
        "input": spec,
        "frames": len(frames),
        "frame_size": [w, h],
        "repeats": repeats,
        "fps": round(median["fps"], 1),
        "fps_runs": [round(r["fps"], 1) for r in runs],
        "ms_per_frame_mean": round(1000 * median["wall_s"] / len(frames), 3),
        "per_stage_ms": {s: _percentiles(v) for s, v in median["stage_ms"].items()},
        "detect_ms_on_detection_frames": _percentiles(median["detect_frames"]),
        "faces_per_frame": round(median["faces"] / len(frames), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "backend": info["backend"],
        "settings": info["settings"],
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "versions": package_versions(),
    }


def format_report(report: dict) -> str:
    lines = [
        f"{report['input']}: {report['frames']} frames at {report['frame_size'][0]}x{report['frame_size'][1]}, "
        f"{report['faces_per_frame']} faces/frame, backend {report['backend']['name']}",
        f"  fast path: {report['fps']} frames/s (median of {report['repeats']} runs: {report['fps_runs']})",
        "  stage          p50 ms    p95 ms    p99 ms",
    ]
    for stage, p in report["per_stage_ms"].items():
        lines.append(f"  {stage:<12} {p['p50']:>8.3f}  {p['p95']:>8.3f}  {p['p99']:>8.3f}")
    d = report["detect_ms_on_detection_frames"]
    lines.append(f"  detect (on its frames) p50 {d['p50']:.3f} ms, p95 {d['p95']:.3f} ms")
    lines.append(f"  peak RSS {report['peak_rss_mb']} MB")
    return "\n".join(lines)


def write_report(report: dict, path: Path) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
