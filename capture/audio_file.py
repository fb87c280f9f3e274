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


class AudioTrackReader:
    """A file's first audio track decoded in step with its video: `read_until(t)` decodes only as far as `t`,
    so the first frame never waits for the whole track and memory holds seconds, not the hour.

    A packet that cannot be decoded raises CaptureError naming the time it was at; what came before stays valid.
    """

    def __init__(self, path: str | Path, rate: int = RATE):
        av = _av()
        self._av = av
        self.path = Path(path)
        self.rate = rate
        try:
            self._container = av.open(str(path))
        except (av.error.FFmpegError, OSError) as exc:
            raise CaptureError(f"cannot read audio from {path}: {exc}") from exc
        if not self._container.streams.audio:
            self._container.close()
            raise CaptureError(f"{path} has no audio track")
        self._stream = self._container.streams.audio[0]
        self._packets = self._container.demux(self._stream)
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        self.position_s = 0.0  # the end of the samples handed out so far
        self._started = False
        self.ended = False

    def read_until(self, t: float) -> np.ndarray:
        """The samples from the last call's end up to at least `t` (fewer at the end of the track)."""
        chunks: list[np.ndarray] = []
        end = self.position_s
        while end < t and not self.ended:
            try:
                packet = next(self._packets)
                frames = packet.decode()
                if not packet.size:  # the demuxer's last, empty packet flushed the decoder: the track has ended
                    self.ended = True
            except StopIteration:
                self.ended, frames = True, []
            except (self._av.error.FFmpegError, ValueError) as exc:
                self.ended = True
                raise CaptureError(
                    f"the sound track of {self.path.name} is damaged at {end:.1f} s (a packet could not be decoded)"
                ) from exc
            for frame in frames:
                if not self._started:  # a track that starts late is padded, so sample i is at i / rate
                    self._started = True
                    lead = int(round(max(frame.time or 0.0, 0.0) * self.rate))
                    if lead:
                        chunks.append(np.zeros(lead, np.float32))
                        end += lead / self.rate
                for out in self._resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1).astype(np.float32)
                    chunks.append(samples)
                    end += len(samples) / self.rate
        self.position_s = end
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)

    def close(self) -> None:
        self._container.close()
