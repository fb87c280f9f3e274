"""The audio track of a file (a video's sound, a wav, an mp3), decoded to 16 kHz mono with PyAV (FFmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from capture.source import CaptureError

RATE = 16000


def _av():
    try:
        import av
    except ImportError as exc:
        raise CaptureError("PyAV is not installed, so no sound can be read from a file: pip install av") from exc
    return av


def has_audio(path: str | Path) -> bool:
    av = _av()
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.error.FFmpegError, OSError):
        return False


def read_audio(path: str | Path, rate: int = RATE) -> np.ndarray:
    """The whole first audio track as float32 mono at `rate`; time 0 is the file's start, as for its frames."""
    av = _av()

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise CaptureError(f"cannot read audio from {path}: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise CaptureError(f"{path} has no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        start = None
        try:
            for frame in container.decode(stream):
                if start is None and frame.time is not None:
                    start = frame.time
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise CaptureError(f"{path}: the audio track is corrupt ({exc})") from exc
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    lead = int(round((start or 0.0) * rate))  # a track that starts late is padded, so sample i is at i / rate
    return np.concatenate([np.zeros(max(lead, 0), np.float32), samples])
