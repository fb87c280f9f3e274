"""Five-point face alignment, through insightface's `face_align` template."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
from insightface.utils import face_align

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
