"""Faces with known movements: a real photo's face, one region of its mesh moved by k pixels.

No action-unit-labelled data exists here, so ground truth is made: the mesh of the
unmoved face says where the mouth, lip corners, brows and lids are; a smooth
displacement field moves that region (and nothing far from it) by a known amount
along the face's own axes, and the image is resampled. The action that names the
movement must then rise with k.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engines.fast.facial_actions import face_frame


@dataclass(frozen=True)
class Movement:
    name: str
    points: tuple[int, ...]  # mesh indices of the region moved
    direction: tuple[float, float]  # in the face's frame: x toward the subject's left, y down the face
    action: str  # the FacialActions field that must rise with it
    sign: float = 1.0  # -1 where the action falls as the movement grows (lids lowered: the eyes open less)
    reach: float = 0.15  # the field's Gaussian width, in eye spacings
    step: float = 0.015  # each step of k, in eye spacings (k stays under half the reach: the warp never folds)


LOWER_LIP_AND_JAW = (14, 87, 178, 88, 95, 317, 402, 318, 324, 17, 84, 314, 181, 405, 152, 148, 377, 176, 400)
BROWS = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
UPPER_LIDS = (159, 158, 160, 157, 161, 386, 385, 387, 384, 388)
LIP_CORNERS = (61, 146, 91, 185, 40, 78, 291, 375, 321, 409, 270, 308)

MOVEMENTS = (
    Movement("mouth opened", LOWER_LIP_AND_JAW, (0.0, 1.0), "jaw_drop"),
    Movement("lip corners raised", LIP_CORNERS, (0.0, -1.0), "lip_corner_pull"),
    Movement("brows raised", BROWS, (0.0, -1.0), "outer_brow_raise", reach=0.08, step=0.01),
    Movement("lids lowered", UPPER_LIDS, (0.0, 1.0), "eye_opening_right", sign=-1.0, reach=0.05, step=0.006),
)


def moved(image: np.ndarray, points: np.ndarray, movement: Movement, k: float) -> np.ndarray:
    """`image` with the region of `movement` moved `k` pixels along its direction; the field falls off as a
    Gaussian of `movement.reach` eye spacings around the region's points."""
    axes, spacing, _ = face_frame(points)
    direction = np.asarray(movement.direction) @ axes[:2, :2]  # face frame -> image x, y
    direction /= max(float(np.linalg.norm(direction)), 1e-9)
    sigma = movement.reach * spacing
    region = points[list(movement.points), :2]
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(region.min(0) - 4 * sigma), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(region.max(0) + 4 * sigma), (w, h)).astype(int)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    weight = np.zeros(xs.shape, np.float32)
    for px, py in region:
        weight = np.maximum(weight, np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2)))
    # backward mapping: the pixel now at x came from x - d(x) (exact enough while k stays under sigma)
    map_x = (xs - k * direction[0] * weight).astype(np.float32)
    map_y = (ys - k * direction[1] * weight).astype(np.float32)
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out
