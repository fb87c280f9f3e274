"""A video file, read frame by frame at its own pace (offline analysis drops nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2

from capture.source import CaptureError, FrameSource
from engines.contracts import Frame


class VideoFileSource(FrameSource):
    """Timestamps are media time: each frame's presentation time, so results line up with the file even when
    its frame rate varies."""

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
        self._first_t = media_time(self._cap, 0, self.fps)
        self.width, self.height = first.shape[1], first.shape[0]

    def frames(self) -> Iterator[Frame]:
        index, image, t = 0, self._first, self._first_t
        while image is not None:
            yield Frame(t=t, index=index, image=image)
            index += 1
            ok, image = self._cap.read()
            if not ok:
                break
            t = media_time(self._cap, index, self.fps)

    def close(self) -> None:
        self._cap.release()


def media_time(cap: cv2.VideoCapture, index: int, fps: float) -> float:
    """The presentation time of the frame just read, in seconds; index / fps where the container gives none."""
    ms = cap.get(cv2.CAP_PROP_POS_MSEC)
    known = ms == ms and (ms > 0 or index == 0)  # NaN, or 0 after the first frame: the container did not say
    return ms / 1000.0 if known else index / fps
