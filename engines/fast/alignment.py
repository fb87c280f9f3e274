"""Five-point face alignment onto insightface's ArcFace template (`face_align.arcface_dst`).

The similarity transform is solved here (Umeyama's least squares, as scikit-image's
SimilarityTransform does): insightface's own `estimate_norm` imports scikit-image on
the first face, which cost 0.7 s of the first frame of every run.
"""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np


def _face_align():
    """insightface's `utils/face_align.py` on its own: the package's `__init__` imports its model zoo and ONNX
    (1.7 s at every start) for a module that needs only OpenCV and scikit-image."""
    spec = importlib.util.find_spec("insightface")
    if spec is None or not spec.submodule_search_locations:
        from insightface.utils import face_align  # raises the ImportError that says what is missing

        return face_align
    path = f"{spec.submodule_search_locations[0]}/utils/face_align.py"
    module_spec = importlib.util.spec_from_file_location("emolens_insightface_face_align", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


face_align = _face_align()

_TEMPLATE_SIZE = 112


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of the rotation, uniform scale and shift that takes the `src` points onto `dst` with the
    least squared error (Umeyama, 1991)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, singular, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.array([1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) > 0 else -1.0])  # a rotation, never a mirror
    rotation = u @ np.diag(sign) @ vt
    scale = (singular @ sign) / src_c.var(0).sum()
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def alignment_matrix(landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    """The similarity transform taking the face to a `size` square crop.

    insightface's ArcFace template frames brows to chin tightly; `margin` > 1 zooms
    out about the crop centre, toward the looser framing expression data sets use.
    """
    m = similarity_transform(np.asarray(landmarks, dtype=np.float32), face_align.arcface_dst)
    k = size / (_TEMPLATE_SIZE * margin)
    offset = size / 2 - k * _TEMPLATE_SIZE / 2
    zoom = np.array([[k, 0, offset], [0, k, offset], [0, 0, 1]], dtype=np.float64)
    return (zoom @ np.vstack([m, [0, 0, 1]]))[:2]


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int, margin: float = 1.2) -> np.ndarray:
    return cv2.warpAffine(
        image,
        alignment_matrix(landmarks, size, margin),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
