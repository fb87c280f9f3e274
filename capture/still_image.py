"""A single image as a one-frame source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from capture.source import CaptureError, FrameSource
from engines.contracts import Frame


class StillImageSource(FrameSource):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.description = f"image {self.path.name}"
        data = np.fromfile(str(self.path), dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if image is None:
            raise CaptureError(f"cannot decode image {self.path}: not an image, or corrupt")
        self.image = image
        self.frame_count = 1
        self.width, self.height = image.shape[1], image.shape[0]

    def frames(self) -> Iterator[Frame]:
        yield Frame(t=0.0, index=0, image=self.image)
