"""A live camera: a reader thread keeps only the newest frame; older ones are dropped and counted.

Real time means the newest frame wins: a slow consumer sees fewer frames, never older ones,
and never a growing queue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import cv2

from capture import clock
from capture.newest_frame import NewestFrameSlot
from capture.source import CaptureError, FrameSource
from engines.contracts import Frame


class CameraSource(FrameSource):
    """An OpenCV capture device, by index (0, 1, ...) or by path (/dev/video0, a stream, a file)."""

    live = True
    clock_time = True

    def __init__(self, device: int | str, read_timeout_s: float = 5.0):
        self.device = device
        self.description = f"camera {device}"
        self.read_timeout_s = read_timeout_s
        self._cap = cv2.VideoCapture(device)
        if not self._cap.isOpened():
            self._cap.release()
            raise CaptureError(
                f"camera {device} could not be opened: no such device, or it is in use "
                f"(cameras found: {', '.join(map(str, list_cameras())) or 'none'})"
            )
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None
        self._slot = NewestFrameSlot()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_loop, name="camera-reader", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            ok, image = self._cap.read()
            if not ok or image is None:
                self._slot.end()
                return
            if not self._slot.put(clock.now(), image):
                return

    def frames(self) -> Iterator[Frame]:
        yield from self._slot.frames(
            self.read_timeout_s,
            lambda: CaptureError(f"camera {self.device} delivered no frame for {self.read_timeout_s:.0f} s"),
        )

    def interrupt(self) -> None:
        self._stop.set()
        self._slot.interrupt()

    def close(self) -> None:
        self.interrupt()
        self._thread.join(timeout=2.0)
        self._cap.release()


def list_cameras(max_index: int = 4) -> list[int]:
    """Indices OpenCV can open right now (a quick probe, no frames read)."""
    found = []
    for index in range(max_index):
        cap = cv2.VideoCapture(index)
        if cap.isOpened():
            found.append(index)
        cap.release()
    return found
