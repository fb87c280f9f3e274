"""A video file, read frame by frame at its own pace (offline analysis drops nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2

from capture.source import CaptureError, FrameSource
from engines.contracts import Frame


class VideoFileSource(FrameSource):
    """Timestamps are media time (index / fps), so results line up with the file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.description = f"video file {self.path.name}"
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise CaptureError(f"cannot open video {self.path}: not a video OpenCV can decode, or corrupt")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise CaptureError(f"cannot read any frame from {self.path}: the file is empty or corrupt")
        self._first = first
        self.width, self.height = first.shape[1], first.shape[0]

    def frames(self) -> Iterator[Frame]:
        index = 0
        image = self._first
        while image is not None:
            yield Frame(t=index / self.fps, index=index, image=image)
            index += 1
            ok, image = self._cap.read()
            if not ok:
                break

    def close(self) -> None:
        self._cap.release()
