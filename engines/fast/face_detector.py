"""Face detection behind one interface: the bundled RetinaFace-MobileNet, or a user's insightface pack."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from functools import lru_cache

import cv2
import numpy as np

from engines.backends import CompiledModel
from engines.contracts import Detection
from engines.fast.device_frames import DeviceImage
from engines.model_assets import ModelAsset

AUTO_MIN, AUTO_MAX = 320, 640


class FaceDetector(ABC):
    name: str

    @abstractmethod
    def detect(self, image: np.ndarray | DeviceImage) -> list[Detection]:
        """Faces in a BGR image (on the host, or already on the device), best first, in its pixel coordinates."""

    def describe(self) -> dict:
        return {"name": self.name}


@lru_cache(maxsize=8)
def retinaface_priors(
    width: int, height: int, strides: tuple[int, ...], sizes: tuple[tuple[int, ...], ...]
) -> np.ndarray:
    """Anchor boxes (cx, cy, w, h), normalised, in the order RetinaFace emits its outputs:
    stride by stride, cell rows then columns, each cell's anchor sizes in turn."""
    blocks = []
    for stride, cell_sizes in zip(strides, sizes, strict=True):
        nx, ny = math.ceil(width / stride), math.ceil(height / stride)
        xs, ys = np.meshgrid(np.arange(nx), np.arange(ny))
        centres = np.stack([(xs.ravel() + 0.5) * stride / width, (ys.ravel() + 0.5) * stride / height], axis=1)
        centres = np.repeat(centres, len(cell_sizes), axis=0)
        wh = np.tile(np.array([(s / width, s / height) for s in cell_sizes]), (nx * ny, 1))
        blocks.append(np.hstack([centres, wh]))
    return np.vstack(blocks).astype(np.float32)


class RetinaFaceDetector(FaceDetector):
    """RetinaFace-MobileNet0.25. Preprocessing (mean, channel order, anchors) comes from the model's manifest.

    `input_size` is the longer side the frame is resized to before detection: the main
    speed/recall knob (faces under ~16 px at that size are missed). None means auto:
    half the frame's longer side, kept within 320-640 px.
    """

    def __init__(
        self,
        model: CompiledModel,
        asset: ModelAsset,
        input_size: int | None = None,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.4,
    ):
        spec = asset.manifest["input"]
        self.model = model
        self.asset = asset
        self.name = asset.name
        self.input_name = spec["name"]
        self.mean = np.array(spec["mean"], dtype=np.float32)
        self.swap_rb = spec["color"] == "RGB"
        decode = asset.manifest["decode"]
        self.strides = tuple(decode["strides"])
        self.anchor_sizes = tuple(tuple(s) for s in decode["anchor_sizes"])
        self.variances = decode["variances"]
        self.input_size = input_size
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    def input_size_for(self, width: int, height: int) -> tuple[int, int, float]:
        """The detector input's width and height for a frame, and the scale from frame to input."""
        scale = min(1.0, self.size_for(width, height) / max(height, width))
        if scale == 1.0:
            return width, height, scale
        return max(1, round(width * scale)), max(1, round(height * scale)), scale

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = image.shape[:2]
        width, height, scale = self.input_size_for(w, h)
        if scale < 1.0:
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        x = image.astype(np.float32)
        if self.swap_rb:
            x = x[..., ::-1]
        x -= self.mean
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), scale

    def size_for(self, width: int, height: int) -> int:
        if self.input_size is not None:
            return self.input_size
        return int(min(max(max(width, height) // 2, AUTO_MIN), AUTO_MAX))

    def detect(self, image: np.ndarray | DeviceImage) -> list[Detection]:
        if isinstance(image, DeviceImage):
            h, w = image.shape[:2]
            width, height, scale = self.input_size_for(w, h)
            x = image.detector_input(width, height, self.mean, self.swap_rb)
            loc, conf, landmarks = self.model.run_device({self.input_name: x})
        else:
            x, scale = self.preprocess(image)
            loc, conf, landmarks = self.model.run({self.input_name: x})
        height, width = x.shape[2], x.shape[3]
        return self.decode(loc[0], conf[0], landmarks[0], width, height, scale)

    def decode(
        self, loc: np.ndarray, conf: np.ndarray, landmarks: np.ndarray, width: int, height: int, scale: float
    ) -> list[Detection]:
        scores = conf[:, 1]
        keep = np.flatnonzero(scores > self.score_threshold)
        if keep.size == 0:
            return []
        priors = retinaface_priors(width, height, self.strides, self.anchor_sizes)[keep]
        v_centre, v_size = self.variances
        loc = loc[keep]
        centre = priors[:, :2] + loc[:, :2] * v_centre * priors[:, 2:]
        size = priors[:, 2:] * np.exp(loc[:, 2:] * v_size)
        to_pixels = np.array([width, height], dtype=np.float32) / scale
        x1y1 = (centre - size / 2) * to_pixels
        wh = size * to_pixels
        points = landmarks[keep].reshape(-1, 5, 2)
        points = (priors[:, None, :2] + points * v_centre * priors[:, None, 2:]) * to_pixels
        kept_scores = scores[keep]
        order = cv2.dnn.NMSBoxes(
            np.hstack([x1y1, wh]).tolist(), kept_scores.tolist(), self.score_threshold, self.nms_threshold
        )
        order = sorted(np.asarray(order).ravel().tolist(), key=lambda i: -kept_scores[i])
        return [
            Detection(
                box=(float(x1y1[i, 0]), float(x1y1[i, 1]), float(x1y1[i, 0] + wh[i, 0]), float(x1y1[i, 1] + wh[i, 1])),
                landmarks=points[i].astype(np.float32),
                score=float(kept_scores[i]),
            )
            for i in order
        ]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "input_size": self.input_size or f"auto (half the frame's longer side, {AUTO_MIN}-{AUTO_MAX} px)",
            "score_threshold": self.score_threshold,
            "device": self.model.device,
            **self.asset.summary(),
        }


class InsightFacePackDetector(FaceDetector):
    """A user's insightface model pack (e.g. buffalo_l's SCRFD `det_10g.onnx`), loaded offline through
    insightface's `model_zoo`. insightface runs it with ONNX Runtime itself."""

    def __init__(self, pack_dir, input_size: int = 640, score_threshold: float = 0.5, providers=None):
        from pathlib import Path

        from engines.errors import ModelError

        pack = Path(pack_dir)
        if not pack.is_dir():
            raise ModelError(f"insightface pack {pack} is not a folder")
        candidates = sorted(pack.glob("det_*.onnx")) or sorted(pack.glob("*scrfd*.onnx"))
        if not candidates:
            raise ModelError(f"no face detection model (det_*.onnx or *scrfd*.onnx) in insightface pack {pack}")
        from insightface.model_zoo import model_zoo

        try:
            model = model_zoo.get_model(str(candidates[0]), providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # insightface raises plain exceptions on unknown files
            raise ModelError(f"insightface cannot load {candidates[0]}: {exc}") from exc
        if model is None or getattr(model, "taskname", None) != "detection":
            raise ModelError(f"{candidates[0]} is not a face detection model insightface recognises")
        model.prepare(ctx_id=-1, input_size=(input_size, input_size), det_thresh=score_threshold)
        self.model = model
        self.path = candidates[0]
        self.name = f"insightface:{self.path.name}"
        self.input_size = input_size

    def detect(self, image: np.ndarray | DeviceImage) -> list[Detection]:
        if isinstance(image, DeviceImage):  # insightface preprocesses on the host itself
            image = image.host
        boxes, points = self.model.detect(image, max_num=0)
        if points is None:
            return []
        return [
            Detection(box=tuple(float(v) for v in b[:4]), landmarks=p.astype(np.float32), score=float(b[4]))
            for b, p in sorted(zip(boxes, points, strict=True), key=lambda bp: -bp[0][4])
        ]

    def describe(self) -> dict:
        from engines.model_assets import sha256_file

        return {
            "name": self.name,
            "path": str(self.path),
            "sha256": sha256_file(self.path),
            "input_size": self.input_size,
        }
