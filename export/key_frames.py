"""Facial key frames: the most expressive moment of each face, one per stretch of time, saved only when asked.

Off by default: emolens writes numbers, not faces. When on, each face keeps its
most expressive confident frame of every `every_s` seconds (expressiveness is
1 - p(neutral), weighted by the top probability) and that crop is written as a
JPEG; with `blur`, the face inside the crop is pixelated first, so the image
shows that a face was there and how it was framed, not who it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engines.contracts import EMOTIONS, Frame, FrameResult

_NEUTRAL = EMOTIONS.index("neutral")


@dataclass(frozen=True)
class KeyFrameOptions:
    every_s: float = 10.0
    blur: bool = False
    margin: float = 0.25  # the crop is the face box grown by this share on each side


@dataclass
class _Best:
    score: float
    t: float
    label: str
    crop: np.ndarray


def expressiveness(probs: np.ndarray) -> float:
    return float((1.0 - probs[_NEUTRAL]) * probs.max())


def pixelate(image: np.ndarray, box: tuple[int, int, int, int], blocks: int = 8) -> None:
    """Pixelates `box` of `image` in place to `blocks` squares across, then softens the block edges."""
    x1, y1, x2, y2 = box
    region = image[y1:y2, x1:x2]
    if region.size == 0:
        return
    h, w = region.shape[:2]
    small = cv2.resize(region, (blocks, max(1, blocks * h // max(w, 1))), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    k = max(3, (min(w, h) // blocks) | 1)
    image[y1:y2, x1:x2] = cv2.GaussianBlur(coarse, (k, k), 0)


class KeyFrameCapture:
    def __init__(self, folder: Path, options: KeyFrameOptions):
        self.folder = folder
        self.options = options
        self._segment_end: float | None = None
        self._best: dict[int, _Best] = {}

    def observe(self, frame: Frame, result: FrameResult) -> list[dict]:
        """Takes one frame; returns the records of the key frames written when a stretch ends."""
        written = []
        if self._segment_end is None:
            self._segment_end = result.t + self.options.every_s
        elif result.t >= self._segment_end:
            written = self.flush()
            self._segment_end = result.t + self.options.every_s
        for face in result.faces:
            if face.uncertain or face.person_id is None:
                continue
            score = expressiveness(face.probs)
            best = self._best.get(face.person_id)
            if best is None or score > best.score:
                self._best[face.person_id] = _Best(score, result.t, face.label, self._crop(frame.image, face.box))
        return written

    def flush(self) -> list[dict]:
        """Writes the stretch's best crop per face; raises OSError when it cannot (a full disk)."""
        records = []
        for person_id, best in sorted(self._best.items()):
            self.folder.mkdir(exist_ok=True)
            name = f"t{best.t:09.3f}_person{person_id}.jpg"
            ok, data = cv2.imencode(".jpg", best.crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
            if not ok:
                raise OSError(f"could not encode key frame {name}")
            (self.folder / name).write_bytes(data.tobytes())
            records.append(
                {
                    "event": "key_frame",
                    "file": f"{self.folder.name}/{name}",
                    "person_id": person_id,
                    "t": round(best.t, 3),
                    "label": best.label,
                    "expressiveness": round(best.score, 3),
                    "blurred": self.options.blur,
                }
            )
        self._best.clear()
        return records

    def _crop(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        h, w = image.shape[:2]
        x1, y1, x2, y2 = box
        mx, my = (x2 - x1) * self.options.margin, (y2 - y1) * self.options.margin
        cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        cx2, cy2 = min(w, int(x2 + mx)), min(h, int(y2 + my))
        crop = image[cy1:cy2, cx1:cx2].copy()
        if self.options.blur:
            fx1, fy1 = max(0, int(x1) - cx1), max(0, int(y1) - cy1)
            pixelate(crop, (fx1, fy1, min(cx2, int(x2)) - cx1, min(cy2, int(y2)) - cy1))
        return crop
