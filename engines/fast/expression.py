"""Facial-expression classification, batched over the faces of a frame."""

from __future__ import annotations

import cv2
import numpy as np

from engines.backends import CompiledModel
from engines.contracts import EMOTIONS
from engines.errors import ModelError
from engines.fast.alignment import align_face, alignment_matrix
from engines.fast.device_frames import DeviceImage
from engines.model_assets import ModelAsset


class ExpressionClassifier:
    """Crop size, colour and scaling are read from the model's manifest, not assumed here.

    Output columns are reordered to `EMOTIONS`, so a second model with other label
    order drops in without touching the callers.
    """

    def __init__(self, model: CompiledModel, asset: ModelAsset, margin: float = 1.2):
        spec = asset.manifest["input"]
        _, channels, height, width = spec["shape"]
        if height != width:
            raise ModelError(f"{asset.name}: expected a square input, got {height}x{width}")
        self.model = model
        self.asset = asset
        self.name = asset.name
        self.input_name = spec["name"]
        self.size = int(height)
        self.gray = spec["color"] == "gray"
        if self.gray != (channels == 1):
            raise ModelError(f"{asset.name}: manifest colour {spec['color']!r} does not fit {channels} channels")
        self.scale = float(spec["scale"])
        self.offset = float(spec["offset"])
        labels = asset.manifest["labels"]
        if sorted(labels) != sorted(EMOTIONS):
            raise ModelError(f"{asset.name}: labels {labels} are not the seven FER classes")
        self.order = [labels.index(e) for e in EMOTIONS]
        self.margin = margin

    def crops(self, image: np.ndarray, landmarks: list[np.ndarray]) -> np.ndarray:
        """Aligned, normalised model input for each face: N x C x S x S float32."""
        batch = np.empty((len(landmarks), 1 if self.gray else 3, self.size, self.size), dtype=np.float32)
        for i, points in enumerate(landmarks):
            crop = align_face(image, points, self.size, self.margin)
            if self.gray:
                batch[i, 0] = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
            else:
                batch[i] = crop.transpose(2, 0, 1)
        batch *= self.scale
        batch += self.offset
        return batch

    def classify(self, image: np.ndarray | DeviceImage, landmarks: list[np.ndarray]) -> np.ndarray:
        """Probabilities over EMOTIONS, one row per face."""
        if not landmarks:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        if isinstance(image, DeviceImage):
            matrices = [alignment_matrix(points, self.size, self.margin) for points in landmarks]
            batch = image.face_crops(matrices, self.size, self.gray, self.scale, self.offset)
            return self.model.run_device({self.input_name: batch})[0][:, self.order]
        return self.classify_batch(self.crops(image, landmarks))

    def classify_batch(self, batch: np.ndarray) -> np.ndarray:
        probs = self.model.run({self.input_name: batch})[0]
        return probs[:, self.order]

    def describe(self) -> dict:
        return {"name": self.name, "crop_margin": self.margin, "device": self.model.device, **self.asset.summary()}
