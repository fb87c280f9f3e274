"""`emolens bench CLIP --audio`: what a file's sound track costs the pipeline per frame, measured side by side.

The same frames go through the pipeline without audio and with the clip's own
sound track, which is decoded and analysed (VAD, loudness, pitch) in step with
the frames, as `analyze` does. Runs alternate off/on so that drift hits both.
"""

from __future__ import annotations

import statistics
import sys
import time

from app.bench.fast_path import load_frames
from capture.audio_file import has_audio
from engines.errors import EmolensError
from engines.pipeline import AudioOptions, FastPathOptions, Pipeline, PipelineOptions
from export.session_info import package_versions


def _per_frame_ms(pipeline: Pipeline, frames: list) -> list[float]:
    out = []
    for frame in frames:
        t = time.perf_counter()
        pipeline.step(frame)
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_audio(spec: str, options: FastPathOptions, max_frames: int = 600, repeats: int = 5) -> dict:
    if not has_audio(spec):
        raise EmolensError(f"{spec} has no sound track; --audio benches a clip with sound")
    frames = load_frames(spec, max_frames)
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    off_runs, on_runs = [], []
    for _ in range(repeats):
        for mode in ("off", "on"):
            audio = AudioOptions() if mode == "on" else None
            pipeline = Pipeline(PipelineOptions(fast=options, audio=audio), spec, progress=say)
            for frame in frames[:10]:  # warm the models; the track is read from where these left it
                pipeline.step(frame)
            pipeline.reset()
            per_frame = _per_frame_ms(pipeline, frames[10:])
            pipeline.close()
            (on_runs if mode == "on" else off_runs).append(statistics.median(per_frame))
    off, on = statistics.median(off_runs), statistics.median(on_runs)
    return {
        "input": spec,
        "frames": len(frames) - 10,
        "repeats": repeats,
        "ms_per_frame_off": round(off, 3),
        "ms_per_frame_with_voice": round(on, 3),
        "ratio": round(on / off, 3),
        "runs_off": [round(x, 3) for x in off_runs],
        "runs_on": [round(x, 3) for x in on_runs],
        "backend": pipeline.info["backend"],
        "versions": package_versions(),
    }


def format_audio_report(r: dict) -> str:
    return "\n".join(
        [
            f"{r['input']}: {r['frames']} frames, medians of {r['repeats']} runs each",
            f"  pipeline per frame: {r['ms_per_frame_off']} ms without audio, {r['ms_per_frame_with_voice']} ms with "
            f"the sound track decoded and analysed in step ({r['ratio']:.3f}x)",
        ]
    )
