"""`emolens bench`: the fast path's per-stage latency, frames/s and memory, as JSON.

On one clip, frames are decoded into memory first, so the figures are the fast
path's own (upload + detector + tracker + expression + smoothing), not the video
decoder's; variants (`--compare`) run in the same process on the same frames, in
turn, and are reported side by side with ratios. On a folder, every video is
decoded and analysed end to end, as a batch job would: that is throughput.
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

from capture import open_source
from capture.video_file import VIDEO_SUFFIXES
from engines.errors import EmolensError
from engines.fast.pipeline import STAGES
from engines.pipeline import FastPathOptions, Pipeline, PipelineOptions
from engines.summary_stats import percentiles
from export.session_info import package_versions


def load_frames(spec: str, max_frames: int) -> list:
    with open_source(spec) as source:
        frames = []
        for frame in source.frames():
            frames.append(frame)
            if len(frames) >= max_frames:
                break
    return frames


def parse_variant(text: str, base: FastPathOptions) -> FastPathOptions:
    """`BACKEND`, optionally `+host|+device`, `+mesh|+no-mesh` and `+reid|+no-reid` (e.g. onnxruntime-gpu+host,
    +no-mesh): the base options with those changed."""
    backend, *flags = text.split("+")
    changes: dict = {"backend": backend or base.backend}
    for flag in flags:
        if flag in ("host", "device"):
            changes["preprocess"] = flag
        elif flag in ("mesh", "no-mesh"):
            changes["mesh"] = flag == "mesh"
        elif flag in ("reid", "no-reid"):
            changes["reid"] = flag == "reid"
        else:
            raise EmolensError(f"--compare {text}: {flag!r} is none of host, device, mesh, no-mesh, reid, no-reid")
    return replace(base, **changes)


def _variant_name(info: dict) -> str:
    where = info["fast_path"]["preprocess"]["where"].split(" ")[0]
    name = f"{info['backend']['name']}+{where}"
    if not info["fast_path"].get("mesh"):
        name += "+no-mesh"
    if info["fast_path"].get("re_identification", True) is None:
        name += "+no-reid"
    return name


def _one_run(pipeline: Pipeline, frames) -> dict:
    pipeline.reset()
    stage_ms: dict[str, list[float]] = {s: [] for s in STAGES}
    detect_frames: list[float] = []
    faces = 0
    start = time.perf_counter()
    for frame in frames:
        result = pipeline.step(frame)
        for stage in STAGES:
            stage_ms[stage].append(result.latency_ms[stage])
        if result.latency_ms["detect"] > 0:
            detect_frames.append(result.latency_ms["detect"])
        faces += len(result.faces)
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "fps": len(frames) / wall,
        "stage_ms": stage_ms,
        "detect_frames": detect_frames,
        "faces": faces,
    }


def _summary(runs: list[dict], frames: int, info: dict) -> dict:
    median = sorted(runs, key=lambda r: r["fps"])[len(runs) // 2]
    return {
        "fps": round(median["fps"], 1),
        "fps_runs": [round(r["fps"], 1) for r in runs],
        "ms_per_frame_mean": round(1000 * median["wall_s"] / frames, 3),
        "per_stage_ms": {s: percentiles(v) for s, v in median["stage_ms"].items()},
        "detect_ms_on_detection_frames": percentiles(median["detect_frames"]),
        "faces_per_frame": round(median["faces"] / frames, 2),
        "backend": info["backend"],
        "preprocess": info["fast_path"]["preprocess"],
        "settings": info["settings"],
    }


def _machine() -> dict:
    machine = {"platform": platform.platform(), "processor": platform.processor()}
    try:
        import torch

        if torch.cuda.is_available():
            machine["gpu"] = torch.cuda.get_device_name()
    except ImportError:
        pass
    return machine


def bench(
    spec: str,
    options: FastPathOptions,
    max_frames: int = 600,
    warmup: int = 10,
    repeats: int = 3,
    compare: list[FastPathOptions] | None = None,
) -> dict:
    """Each variant runs the clip `repeats` times from a fresh tracking state on warm models, the variants in
    turn (A B A B ...), so a machine that slows down mid-run slows all of them; the median run is reported."""
    frames = load_frames(spec, max_frames)
    paths = []
    for variant in [options, *(compare or [])]:
        pipeline = Pipeline(PipelineOptions(fast=variant), spec, progress=lambda line: print(line, file=sys.stderr))
        for frame in frames[:warmup]:
            pipeline.step(frame)
        paths.append((pipeline, pipeline.info))
    runs: list[list[dict]] = [[] for _ in paths]
    for _ in range(repeats):
        for k, (pipeline, _info) in enumerate(paths):
            runs[k].append(_one_run(pipeline, frames))
    variants = {}
    for k, (_pipeline, info) in enumerate(paths):
        name = _variant_name(info)
        variants[name if name not in variants else f"{name}#{k}"] = _summary(runs[k], len(frames), info)
    first_name, first = next(iter(variants.items()))
    h, w = frames[0].image.shape[:2]
    report = {
        "input": spec,
        "frames": len(frames),
        "frame_size": [w, h],
        "repeats": repeats,
        **first,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": _machine(),
        "versions": package_versions(),
    }
    report["variants"] = variants
    report["reference"] = first_name
    if compare:
        base_ms = first["per_stage_ms"]["total"]["p50"]
        report["speedup_vs_reference"] = {  # > 1: faster than the first; p50 of the per-frame total
            name: round(base_ms / v["per_stage_ms"]["total"]["p50"], 3) if v["per_stage_ms"]["total"]["p50"] else None
            for name, v in variants.items()
        }
    return report


def format_report(report: dict) -> str:
    lines = [
        f"{report['input']}: {report['frames']} frames at {report['frame_size'][0]}x{report['frame_size'][1]}, "
        f"{report['faces_per_frame']} faces/frame"
        + (f", on {report['machine']['gpu']}" if "gpu" in report["machine"] else "")
    ]
    for name, v in report["variants"].items():
        lines.append(
            f"  {name}: {v['fps']} frames/s (median of {report['repeats']} runs: {v['fps_runs']})"
            + _ratio_text(report, name)
        )
        lines.append("    stage          p50 ms    p95 ms    p99 ms")
        for stage, p in v["per_stage_ms"].items():
            lines.append(f"    {stage:<12} {p['p50']:>8.3f}  {p['p95']:>8.3f}  {p['p99']:>8.3f}")
        d = v["detect_ms_on_detection_frames"]
        lines.append(f"    detect (on its frames) p50 {d['p50']:.3f} ms, p95 {d['p95']:.3f} ms")
    lines.append(f"  peak RSS {report['peak_rss_mb']} MB")
    return "\n".join(lines)


def _ratio_text(report: dict, name: str) -> str:
    if "speedup_vs_reference" not in report:
        return ""
    if name == report["reference"]:
        return ", the reference"
    return f", {report['speedup_vs_reference'][name]}x the reference's speed (p50 per frame)"


def videos_in(folder: Path) -> list[Path]:
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise FileNotFoundError(f"no video files ({', '.join(sorted(VIDEO_SUFFIXES))}) in {folder}")
    return videos


def bench_folder(folder: Path, options: FastPathOptions, max_frames: int | None = None) -> dict:
    """Every video in `folder`, decoded and analysed end to end on one fast path (fresh tracking per video):
    frames/s of the whole batch, and how the time splits between decoding and the fast path."""
    videos = videos_in(folder)
    pipeline = Pipeline(PipelineOptions(fast=options), str(folder), progress=lambda line: print(line, file=sys.stderr))
    info = pipeline.info
    per_video, total_ms, decode_ms = [], [], []
    frames_done, start = 0, time.perf_counter()
    for n, path in enumerate(videos, 1):
        pipeline.reset()
        count, t_video = 0, time.perf_counter()
        try:
            with open_source(str(path)) as source:
                iterator = iter(source.frames())
                while max_frames is None or count < max_frames:
                    t = time.perf_counter()
                    frame = next(iterator, None)
                    if frame is None:
                        break
                    decode_ms.append((time.perf_counter() - t) * 1000)
                    total_ms.append(pipeline.step(frame).latency_ms["total"])
                    count += 1
        except Exception as exc:  # a corrupt file is reported and skipped; the batch goes on
            per_video.append({"video": str(path), "error": str(exc).splitlines()[0] if str(exc) else repr(exc)})
            print(f"[{n}/{len(videos)}] {path.name}: skipped ({per_video[-1]['error']})", file=sys.stderr)
            continue
        seconds = time.perf_counter() - t_video
        frames_done += count
        per_video.append({"video": str(path), "frames": count, "fps": round(count / seconds, 1) if seconds else None})
        print(f"[{n}/{len(videos)}] {path.name}: {count} frames, {count / seconds:.1f} frames/s", file=sys.stderr)
    wall = time.perf_counter() - start
    return {
        "input": str(folder),
        "videos": len(videos),
        "frames": frames_done,
        "wall_s": round(wall, 3),
        "throughput_fps": round(frames_done / wall, 1) if wall else None,
        "decode_ms": percentiles(decode_ms),
        "fast_path_ms": percentiles(total_ms),
        "per_video": per_video,
        "backend": info["backend"],
        "preprocess": info["fast_path"]["preprocess"],
        "settings": info["settings"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": _machine(),
        "versions": package_versions(),
    }


def format_folder_report(report: dict) -> str:
    d, f = report["decode_ms"], report["fast_path_ms"]
    skipped = sum(1 for v in report["per_video"] if "error" in v)
    return "\n".join(
        [
            f"{report['input']}: {report['videos']} videos, {report['frames']} frames in {report['wall_s']} s"
            + (f" ({skipped} skipped)" if skipped else ""),
            f"  throughput {report['throughput_fps']} frames/s end to end, backend {report['backend']['name']}, "
            f"preprocessing {report['preprocess']['where']}",
            f"  per frame: decode p50 {d['p50']:.3f} ms, fast path p50 {f['p50']:.3f} / p95 {f['p95']:.3f} / "
            f"p99 {f['p99']:.3f} ms",
            f"  peak RSS {report['peak_rss_mb']} MB",
        ]
    )


def write_report(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
