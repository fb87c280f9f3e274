"""`emolens bench CLIP --audio`: what the voice path costs the fast path, measured side by side.

Three figures on a clip with sound: the fast path's per-frame time with no audio,
the same with voice cues attached to every frame while the audio is analysed at
its real pace on its own thread (as a microphone feeds it), and the analysis'
own cost per second of audio. Runs alternate off/on so that drift hits both.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time

import numpy as np

from app.assembly import FastPathOptions, build_fast_path
from app.bench import load_frames
from capture.audio_file import read_audio
from engines.voice.vad import CHUNK, RATE, SileroVad
from engines.voice.voice_track import VoiceTrack, with_voice_cues
from export.session_info import package_versions


def _paced_feeder(track: VoiceTrack, samples: np.ndarray, stop: threading.Event) -> threading.Thread:
    """Feeds the track 32 ms at a time at the audio's own pace, as a microphone's ring would."""

    def run() -> None:
        start = time.perf_counter()
        for i in range(0, len(samples) - CHUNK, CHUNK):
            if stop.is_set():
                return
            track.feed(samples[i : i + CHUNK], (i + CHUNK) / RATE)
            delay = start + (i + CHUNK) / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def bench_audio(spec: str, options: FastPathOptions, max_frames: int = 600, repeats: int = 5) -> dict:
    frames = load_frames(spec, max_frames)
    samples = read_audio(spec)
    fast, info = build_fast_path(options, progress=lambda line: print(line, file=sys.stderr))
    vad = SileroVad()
    start = time.perf_counter()
    whole = VoiceTrack.of_samples(samples, vad)
    analysis_s = time.perf_counter() - start
    for frame in frames[:10]:
        fast.process(frame)

    off_runs, on_runs, lookup_ms = [], [], []
    for _ in range(repeats):
        for mode in ("off", "on"):
            fast.reset()
            stop = threading.Event()
            track = VoiceTrack(SileroVad()) if mode == "on" else None
            feeder = _paced_feeder(track, samples, stop) if track else None
            per_frame = []
            for frame in frames:
                t = time.perf_counter()
                result = fast.process(frame)
                if track is not None:
                    result = with_voice_cues(result, whole)  # the lookup, on a track as long as the clip
                    lookup_ms.append(result.latency_ms["voice"])
                per_frame.append((time.perf_counter() - t) * 1000)
            stop.set()
            if feeder:
                feeder.join()
            (on_runs if mode == "on" else off_runs).append(statistics.median(per_frame))
    off, on = statistics.median(off_runs), statistics.median(on_runs)
    audio_s = len(samples) / RATE
    return {
        "input": spec,
        "frames": len(frames),
        "audio_s": round(audio_s, 2),
        "repeats": repeats,
        "fast_ms_per_frame_off": round(off, 3),
        "fast_ms_per_frame_with_voice": round(on, 3),
        "ratio": round(on / off, 3),
        "runs_off": [round(x, 3) for x in off_runs],
        "runs_on": [round(x, 3) for x in on_runs],
        "voice_lookup_ms_p50": round(statistics.median(lookup_ms), 4),
        "voice_analysis_ms_per_audio_s": round(1000 * analysis_s / audio_s, 2),
        "backend": info["backend"],
        "versions": package_versions(),
    }


def format_audio_report(r: dict) -> str:
    return "\n".join(
        [
            f"{r['input']}: {r['frames']} frames, {r['audio_s']} s of sound, medians of {r['repeats']} runs each",
            f"  fast path per frame: {r['fast_ms_per_frame_off']} ms without audio, "
            f"{r['fast_ms_per_frame_with_voice']} ms with voice cues ({r['ratio']:.3f}x)",
            f"  voice lookup per frame {r['voice_lookup_ms_p50']} ms; analysis (VAD, loudness, pitch) "
            f"{r['voice_analysis_ms_per_audio_s']} ms per second of audio, on its own thread",
        ]
    )
