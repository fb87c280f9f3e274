"""A video file, read frame by frame at its own pace (offline analysis drops nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from capture.source import CaptureError, FrameSource
from capture.video_decoder import VideoDecoder
from engines.contracts import Frame

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v"})  # what a folder of videos holds


class VideoFileSource(FrameSource):
    """Timestamps are media time: each frame's presentation time, so results line up with the file (and its
    sound) even when its frame rate varies."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.description = f"video file {self.path.name}"
        self._decoder = VideoDecoder(self.path)
        self.fps = self._decoder.fps
        self.frame_count = self._decoder.frame_count
        first = self._decoder.read()
        if first is None:
            self._decoder.close()
            raise CaptureError(f"cannot read any frame from {self.path}: the file is empty or corrupt")
        self._first = first
        self.height, self.width = first[1].shape[:2]

    def frames(self) -> Iterator[Frame]:
        index, decoded, self._first = 0, self._first, None
        while decoded is not None:
            yield Frame(t=decoded[0], index=index, image=decoded[1])
            index += 1
            decoded = self._decoder.read()

    def close(self) -> None:
        self._decoder.close()
