"""VideoDecoder: a file's first video stream decoded with PyAV (FFmpeg), frame by frame, on media time.

Files are decoded by the same FFmpeg that reads their sound track
(`capture/audio_file.py`), so a session with sound loads one decoder, not two,
and picture and sound share one clock: each frame's time is its presentation
timestamp, from the file's start, as each audio sample's is. A packet that
cannot be decoded is skipped and counted; the frames around it go on. `close`
may come from another thread than `read` (a player stopped): it waits for the
frame being decoded, and reads after it find the end.
Cameras stay with OpenCV (`capture/camera.py`), which speaks V4L2.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from capture.source import CaptureError


class VideoDecoder:
    def __init__(self, path: str | Path):
        try:
            import av
        except ImportError as exc:
            raise CaptureError("PyAV is not installed, so no video file can be read: run ./install.sh") from exc
        self._av = av
        self.path = Path(path)
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise CaptureError(f"cannot open video {self.path}: not a video emolens can decode, or corrupt") from exc
        if not self._container.streams.video:
            self._container.close()
            raise CaptureError(f"cannot open video {self.path}: it has no video stream")
        self._stream = stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate and rate > 0 else 30.0
        self.frame_count: int | None = stream.frames or None  # None where the container does not say
        self.skipped = 0  # packets that could not be decoded
        self._lock = threading.Lock()
        self._closed = False
        self._rewind()

    def _rewind(self) -> None:
        self._packets = self._container.demux(self._stream)
        self._ready: list = []
        self._index = 0  # frames handed out in this pass
        self._ended = False

    def read(self) -> tuple[float, np.ndarray] | None:
        """The next frame's (media time in seconds, BGR image); None at the end of the file."""
        with self._lock:
            return None if self._closed else self._next()

    def _next(self) -> tuple[float, np.ndarray] | None:
        while not self._ready and not self._ended:
            try:
                packet = next(self._packets)
            except StopIteration:
                self._ended = True
                break
            except self._av.error.FFmpegError:  # the container itself is cut short: what was read stands
                self._ended = True
                break
            try:
                self._ready = list(packet.decode())
            except (self._av.error.FFmpegError, ValueError):
                self.skipped += 1
        if not self._ready:
            return None
        frame = self._ready.pop(0)
        t = frame.time if frame.time is not None else self._index / self.fps
        self._index += 1
        return max(float(t), 0.0), frame.to_ndarray(format="bgr24")

    def restart(self) -> None:
        """Back to the first frame (a looped file)."""
        with self._lock:
            if self._closed:
                return
            try:
                self._container.seek(0, stream=self._stream)
            except self._av.error.FFmpegError as exc:
                raise CaptureError(f"cannot go back to the start of {self.path}: {exc}") from exc
            self._rewind()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._container.close()
