"""Facial geometry from the five landmarks, as numbers the log and the explainer can quote.

Five points carry mouth width (a smile widens it), the mouth's distance below
the nose, head roll and a yaw proxy. Mouth opening, brow raise and eye opening
need dense landmarks (a face mesh) and are not claimed here.
"""

from __future__ import annotations

import math

import numpy as np

from engines.contracts import LandmarkCues


def landmark_cues(points: np.ndarray) -> LandmarkCues:
    """`points`: right eye, left eye, nose, right mouth corner, left mouth corner (image x, y)."""
    right_eye, left_eye, nose, right_mouth, left_mouth = np.asarray(points, dtype=np.float64)
    eye_vec = left_eye - right_eye
    eye_dist = max(float(np.hypot(*eye_vec)), 1e-6)
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    # Work in the face's own frame: x along the eye line, y down the face.
    ux = eye_vec / eye_dist
    uy = np.array([-ux[1], ux[0]])
    eye_mid = (left_eye + right_eye) / 2
    mouth_mid = (left_mouth + right_mouth) / 2
    mouth_width = float(np.hypot(*(left_mouth - right_mouth))) / eye_dist
    mouth_drop = float((mouth_mid - nose) @ uy) / eye_dist
    yaw = float((nose - eye_mid) @ ux) / eye_dist
    return LandmarkCues(mouth_width=mouth_width, mouth_drop=mouth_drop, roll_deg=roll, yaw=yaw)
