"""FaceMesh: MediaPipe's 468-point face mesh, and its iris model, on every tracked face.

The mesh is what facial actions are measured from, and its face score says whether
a detector's box holds a face at all (boxes on hair or a dark background read near
0). Crops follow MediaPipe's own recipe (Kartynnik et al. 2019; Ablavatski et al.
2020): the face box enlarged 1.5x and turned upright on the eye line; each eye a
square 2.3x its corner distance along the corner line, the subject's left eye
mirrored, as the iris model was trained on right eyes only. All faces of a frame go
through one batched call per model.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engines.backends import CompiledModel
from engines.errors import ModelError
from engines.model_assets import ModelAsset

FACE_ROI_SCALE = 1.5
EYE_ROI_SCALE = 2.3
# Mesh indices of the eye corners, outer then inner, for the subject's right eye (image left when facing the
# camera) and left eye, as the iris model's crops are cut.
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (263, 362)


@dataclass(frozen=True)
class MeshReading:
    """One face's mesh on one frame, in frame pixels: `points` 468x3 (z toward the camera is negative, in the
    same scale as x); `irises` 2x2, the iris centres of the subject's right and left eye, or None without the
    iris model."""

    points: np.ndarray
    score: float
    irises: np.ndarray | None


@dataclass(frozen=True)
class _Input:
    name: str
    size: int
    scale: float
    offset: float


def _model_input(asset: ModelAsset) -> _Input:
    spec = asset.manifest["input"]
    _, channels, height, width = spec["shape"]
    if height != width or channels != 3 or spec.get("color") != "rgb" or spec.get("layout", "NCHW") != "NCHW":
        raise ModelError(f"{asset.name}: expected a square NCHW RGB input, got {spec}")
    return _Input(spec["name"], int(height), float(spec["scale"]), float(spec["offset"]))


def _affine(center: np.ndarray, angle: float, side: float, size: int, mirror: bool = False) -> np.ndarray:
    """The 2x3 matrix taking a `side`-pixel square centred on `center` and turned by `angle` (radians) onto a
    `size` square, upright; mirrored left-right when asked."""
    k = size / max(side, 1e-6)
    c, s = np.cos(angle), np.sin(angle)
    m = np.array([[k * c, k * s, 0.0], [-k * s, k * c, 0.0]])
    if mirror:
        m[0] = -m[0]
    m[:, 2] = size / 2 - m[:, :2] @ np.asarray(center, np.float64)
    return m


def _to_frame(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Crop pixels back to frame pixels through the inverse of `m`; z is rescaled with x and y."""
    inverse = cv2.invertAffineTransform(m)
    out = np.empty_like(points, dtype=np.float64)
    out[:, :2] = points[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    if points.shape[1] > 2:
        out[:, 2] = points[:, 2] / np.sqrt(abs(np.linalg.det(m[:, :2])))
    return out


class FaceMesh:
    """`read(image, faces)` gives a MeshReading per face; `faces` are (box, five landmarks) pairs."""

    def __init__(
        self,
        mesh: CompiledModel,
        mesh_asset: ModelAsset,
        iris: CompiledModel | None = None,
        iris_asset: ModelAsset | None = None,
    ):
        self.mesh, self.mesh_asset, self.mesh_input = mesh, mesh_asset, _model_input(mesh_asset)
        self.iris, self.iris_asset = iris, iris_asset
        self.iris_input = _model_input(iris_asset) if iris_asset is not None else None
        self._mesh_outputs = self._output_order(mesh, mesh_asset, ("landmarks", "face_logit"))
        self._iris_outputs = self._output_order(iris, iris_asset, ("eye_contour", "iris")) if iris else None

    @staticmethod
    def _output_order(model: CompiledModel, asset: ModelAsset, wanted: tuple[str, ...]) -> list[int]:
        names = list(asset.manifest.get("outputs", []))
        missing = [n for n in wanted if n not in names]
        if missing:
            raise ModelError(f"{asset.name}: its manifest lists no output {missing}; it lists {names}")
        return [names.index(n) for n in wanted]

    @staticmethod
    def _batch(image: np.ndarray, matrices: list[np.ndarray], spec: _Input, layout: str = "NCHW") -> np.ndarray:
        """The crops as the model takes them: RGB, scaled, in the model's layout (NCHW, or NHWC for LiteRT)."""
        n, size = len(matrices), spec.size
        batch = np.empty((n, size, size, 3) if layout == "NHWC" else (n, 3, size, size), np.float32)
        for i, m in enumerate(matrices):
            rgb = cv2.cvtColor(cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
            np.multiply(rgb if layout == "NHWC" else rgb.transpose(2, 0, 1), spec.scale, out=batch[i])
        if spec.offset:
            batch += spec.offset
        return batch

    def face_matrix(self, box: tuple[float, float, float, float], landmarks: np.ndarray) -> np.ndarray:
        x1, y1, x2, y2 = box
        right_eye, left_eye = np.asarray(landmarks[0], np.float64), np.asarray(landmarks[1], np.float64)
        angle = float(np.arctan2(*(left_eye - right_eye)[::-1]))
        side = max(x2 - x1, y2 - y1) * FACE_ROI_SCALE
        return _affine(np.array([(x1 + x2) / 2, (y1 + y2) / 2]), angle, side, self.mesh_input.size)

    def eye_matrix(self, points: np.ndarray, corners: tuple[int, int], mirror: bool) -> np.ndarray:
        a, b = points[corners[0], :2], points[corners[1], :2]
        start, end = (b, a) if mirror else (a, b)
        angle = float(np.arctan2(*(end - start)[::-1]))
        side = float(np.hypot(*(b - a))) * EYE_ROI_SCALE
        return _affine((a + b) / 2, angle, side, self.iris_input.size, mirror=mirror)

    def read(
        self,
        image: np.ndarray,
        faces: list[tuple[tuple[float, float, float, float], np.ndarray]],
        irises: bool = True,
    ) -> list[MeshReading]:
        """`irises` False: the mesh alone (the iris model costs more than the mesh: two eyes a face)."""
        if not faces:
            return []
        matrices = [self.face_matrix(box, landmarks) for box, landmarks in faces]
        batch = self._batch(image, matrices, self.mesh_input, self.mesh.layout)
        outputs = self.mesh.run({self.mesh_input.name: batch})
        coords, logits = (outputs[i] for i in self._mesh_outputs)
        coords = np.asarray(coords, np.float64).reshape(len(faces), -1, 3)
        scores = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64).reshape(len(faces))))
        meshes = [_to_frame(c, m) for c, m in zip(coords, matrices, strict=True)]
        centres = self._irises(image, meshes) if self.iris is not None and irises else [None] * len(faces)
        return [MeshReading(p, float(s), i) for p, s, i in zip(meshes, scores, centres, strict=True)]

    def _irises(self, image: np.ndarray, meshes: list[np.ndarray]) -> list[np.ndarray]:
        """The iris centres of each face. The iris model's lids are not taken into the mesh (MediaPipe's
        refinement): on small or turned faces they read eyes half shut that the mesh reads open, and eye opening
        measured on the mesh alone moved less when nothing near the eyes moved."""
        matrices = []
        for points in meshes:
            matrices += [
                self.eye_matrix(points, RIGHT_EYE_CORNERS, False),
                self.eye_matrix(points, LEFT_EYE_CORNERS, True),
            ]
        batch = self._batch(image, matrices, self.iris_input, self.iris.layout)
        outputs = self.iris.run({self.iris_input.name: batch})
        iris = np.asarray(outputs[self._iris_outputs[1]], np.float64).reshape(len(matrices), -1, 3)
        centres = np.array([_to_frame(i[:1], m)[0, :2] for i, m in zip(iris, matrices, strict=True)])
        return [centres[2 * k : 2 * k + 2] for k in range(len(meshes))]

    def describe(self) -> dict:
        out = {"mesh": {"device": self.mesh.device, **self.mesh_asset.summary()}, "face_roi_scale": FACE_ROI_SCALE}
        if self.iris is not None:
            out["iris"] = {"device": self.iris.device, **self.iris_asset.summary()}
        return out
