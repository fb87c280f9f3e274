"""The interface all frame sources share, and the dispatcher from a user's INPUT."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from engines.contracts import Frame
from engines.errors import EmolensError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


class CaptureError(EmolensError):
    """A source cannot be opened or read; the message says which and why."""


class FrameSource(ABC):
    """Yields `Frame`s in order. Live sources drop frames rather than queue them."""

    description: str = ""
    fps: float | None = None  # nominal rate when the source knows it
    frame_count: int | None = None  # known length, for progress bars
    live: bool = False
    clock_time: bool = False  # frames stamped on the capture clock (a camera); else media time (a file)

    @property
    def dropped(self) -> int:
        """Frames the source discarded because the consumer was slower."""
        return 0

    @abstractmethod
    def frames(self) -> Iterator[Frame]: ...

    def interrupt(self) -> None:  # noqa: B027 - optional hook
        """Ends a `frames()` iteration blocked in another thread (a live source waiting for its device)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or file."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(spec: str, paced: bool = False, loop: bool = False, camera: bool | None = None) -> FrameSource:
    """Open INPUT as the user typed it: a camera index or device, an image, or a video.

    `paced`: a video plays at its own frame rate and the frames a slow consumer misses are dropped, as with a
    camera; otherwise every frame is read, as fast as it is taken. `loop`: a video starts again at its end.
    `camera`: None decides by the name (a digit or /dev/video*)."""
    from capture.camera import CameraSource
    from capture.playback import FilePlayback
    from capture.still_image import StillImageSource
    from capture.video_file import VideoFileSource

    if camera is None:
        camera = spec.isdigit() or spec.startswith("/dev/video")
    if camera:
        return CameraSource(int(spec) if spec.isdigit() else spec)
    path = Path(spec)
    if not path.exists():
        raise CaptureError(f"no such file: {spec} (give a video, an image, or a camera index such as 0)")
    if path.is_dir():
        raise CaptureError(f"{spec} is a folder; give one video or image file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return StillImageSource(path)
    if paced or loop:
        return FilePlayback(path, loop=loop, pace=paced)
    return VideoFileSource(path)
