"""A video file played as if it were a camera, for the app, a kiosk demo, or a test.

Paced, it behaves like a live device: a reader thread decodes at the file's own
rate, stamps each frame on the capture clock, and keeps only the newest; a slow
consumer skips frames (counted as drops) and never falls behind the picture.
Unpaced, the consumer pulls every frame as fast as it can (a stress run).
Either way it can loop, so a short clip can stand in for a camera that runs for days.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from capture import clock
from capture.newest_frame import NewestFrameSlot
from capture.source import CaptureError, FrameSource
from engines.contracts import Frame


class FilePlayback(FrameSource):
    def __init__(self, path: str | Path, loop: bool = False, pace: bool = True):
        self.path = Path(path)
        self.loop = loop
        self.pace = pace
        self.live = pace
        self.description = f"video file {self.path.name}" + (" (looped)" if loop else "")
        self._cap = self._open()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = None if loop or count <= 0 else count
        self._slot = NewestFrameSlot()
        self._stopped = False
        self._decoded = 0
        self._thread: threading.Thread | None = None
        self.started = clock.now()  # paced: the clock time of frame 0, to turn a frame's time into media time
        if pace:
            self._thread = threading.Thread(target=self._play, name="file-playback", daemon=True)
            self._thread.start()

    def _open(self) -> cv2.VideoCapture:
        if not self.path.is_file():
            raise CaptureError(f"no such video file: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise CaptureError(f"cannot open video {self.path}: not a video OpenCV can decode, or corrupt")
        return cap

    def _read(self) -> np.ndarray | None:
        """The next image, rewinding at the end when looping; None at the end."""
        ok, image = self._cap.read()
        if (not ok or image is None) and self.loop and self._decoded:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            return None
        self._decoded += 1
        return image

    @property
    def dropped(self) -> int:
        return self._slot.dropped if self.pace else 0

    def _play(self) -> None:
        period = 1.0 / self.fps
        due = time.monotonic()
        while True:
            image = self._read()
            if image is None:
                self._slot.end()
                return
            if not self._slot.put(clock.now(), image):
                return
            due += period
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                due = time.monotonic()  # decoding fell behind: no burst to catch up

    def frames(self) -> Iterator[Frame]:
        yield from (self._slot.frames() if self.pace else self._pull())

    def _pull(self) -> Iterator[Frame]:
        """Media time (index / fps), continuing across loops, as `VideoFileSource` stamps a file."""
        index = 0
        while not self._stopped:
            image = self._read()
            if image is None:
                return
            yield Frame(t=index / self.fps, index=index, image=image)
            index += 1

    def interrupt(self) -> None:
        self._stopped = True
        self._slot.interrupt()

    def close(self) -> None:
        self.interrupt()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._cap.release()
