"""A video file played as if it were a camera, for the app, a kiosk demo, or a test.

Paced, it behaves like a live device: a reader thread decodes at the file's own
rate from the first call of `frames()`, and keeps only the newest; a slow
consumer skips frames (counted as drops) and never falls behind the picture.
Every frame, paced or not, carries its media time (continuing across loops) and
its index in the file, so the frames a paced run skipped are visible as gaps.
Unpaced, the consumer pulls every frame as fast as it can (a stress run).
Either way it can loop, so a short clip can stand in for a camera that runs for days.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from capture.newest_frame import NewestFrameSlot
from capture.source import CaptureError, FrameSource
from capture.video_decoder import VideoDecoder
from engines.contracts import Frame


class FilePlayback(FrameSource):
    def __init__(self, path: str | Path, loop: bool = False, pace: bool = True):
        self.path = Path(path)
        self.loop = loop
        self.pace = pace
        self.live = pace
        self.description = f"video file {self.path.name}" + (" (looped)" if loop else "")
        if not self.path.is_file():
            raise CaptureError(f"no such video file: {self.path}")
        self._decoder = VideoDecoder(self.path)
        self.fps = self._decoder.fps
        self.frame_count = None if loop else self._decoder.frame_count
        self._slot = NewestFrameSlot()
        self._stopped = False
        self._decoded = 0
        self._loop_offset = 0.0  # media time of the current pass's start, when looping
        self._last_t = 0.0
        self._thread: threading.Thread | None = None

    def _read(self) -> tuple[float, int, np.ndarray] | None:
        """The next (media time, index, image), going back to the start at the end when looping; None at the end."""
        decoded = self._decoder.read()
        if decoded is None and self.loop and self._decoded:
            self._loop_offset = self._last_t + 1.0 / self.fps
            self._decoder.restart()
            decoded = self._decoder.read()
        if decoded is None:
            return None
        t = self._loop_offset + decoded[0]
        self._last_t = t
        index = self._decoded
        self._decoded += 1
        return t, index, decoded[1]

    @property
    def dropped(self) -> int:
        return self._slot.dropped if self.pace else 0

    def _play(self) -> None:
        period = 1.0 / self.fps
        due = time.monotonic()
        while True:
            frame = self._read()
            if frame is None:
                self._slot.end()
                return
            t, index, image = frame
            if not self._slot.put(t, image, index):
                return
            due += period
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                due = time.monotonic()  # decoding fell behind: no burst to catch up

    def frames(self) -> Iterator[Frame]:
        if not self.pace:
            yield from self._pull()
            return
        if self._thread is None and not self._stopped:  # playing starts when the consumer is ready
            self._thread = threading.Thread(target=self._play, name="file-playback", daemon=True)
            self._thread.start()
        yield from self._slot.frames()

    def _pull(self) -> Iterator[Frame]:
        while not self._stopped:
            frame = self._read()
            if frame is None:
                return
            t, index, image = frame
            yield Frame(t=t, index=index, image=image)

    def interrupt(self) -> None:
        self._stopped = True
        self._slot.interrupt()

    def close(self) -> None:
        self.interrupt()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._decoder.close()
