"""Five-point face alignment, through insightface's `face_align` template."""

from __future__ import annotations

import importlib.util
import warnings

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

# insightface calls a scikit-image method deprecated in 0.26; the result is the same.
warnings.filterwarnings("ignore", message=".*`estimate` is deprecated.*", category=FutureWarning)


def alignment_matrix(landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    """The similarity transform taking the face to a `size` square crop.

    insightface's ArcFace template frames brows to chin tightly; `margin` > 1 zooms
    out about the crop centre, toward the looser framing expression data sets use.
    """
    m = face_align.estimate_norm(np.asarray(landmarks, dtype=np.float32), _TEMPLATE_SIZE)
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
