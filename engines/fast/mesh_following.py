"""MeshFollower: between detections, each face's box and five landmarks come from its own mesh.

Without the mesh, a track coasts on a constant-velocity guess between the
detector's frames. With it, the face's 468 points are read on every frame anyway,
so they say where the face is now, as in MediaPipe's face mesh pipeline (Kartynnik
et al. 2019), where the detector runs only to find faces. The mesh's own extent and
points are not the detector's box and landmarks, so each track keeps the relation
between the two, measured on its last detection frame (in units of the mesh's box):
a followed face gets the box and landmarks the detector would most likely have
given, and the classifier's alignment and the tracker's matching see no jump when
the detector comes back.
"""

from __future__ import annotations

import numpy as np

# The mesh's stand-ins for the detector's five landmarks (the subject's right eye, left eye, nose tip, right and
# left mouth corner): eye centres as the mean of each eye's contour.
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
NOSE_TIP = 1
MOUTH_CORNERS = (61, 291)


def mesh_box(points: np.ndarray) -> np.ndarray:
    xy = points[:, :2]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def mesh_landmarks(points: np.ndarray) -> np.ndarray:
    xy = points[:, :2]
    return np.stack(
        [
            xy[list(RIGHT_EYE)].mean(axis=0),
            xy[list(LEFT_EYE)].mean(axis=0),
            xy[NOSE_TIP],
            xy[MOUTH_CORNERS[0]],
            xy[MOUTH_CORNERS[1]],
        ]
    )


class MeshFollower:
    """`anchor()` on a detection frame, `place()` on the frames between; tracks not anchored yet are not placed."""

    def __init__(self) -> None:
        self._relations: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def anchor(self, track_id: int, box: tuple[float, float, float, float], landmarks: np.ndarray, points) -> None:
        ref = mesh_box(points)
        size = np.maximum(ref[2:] - ref[:2], 1.0)
        scale = np.concatenate([size, size])
        box_offset = (np.asarray(box, np.float64) - ref) / scale
        landmark_offset = (np.asarray(landmarks, np.float64) - mesh_landmarks(points)) / size
        self._relations[track_id] = (box_offset, landmark_offset)

    def place(self, track_id: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The box (x1, y1, x2, y2) and 5x2 landmarks the detector would likely give for this mesh, or None."""
        relation = self._relations.get(track_id)
        if relation is None:
            return None
        box_offset, landmark_offset = relation
        ref = mesh_box(points)
        size = np.maximum(ref[2:] - ref[:2], 1.0)
        return ref + box_offset * np.concatenate([size, size]), mesh_landmarks(points) + landmark_offset * size

    def retain(self, track_ids: set[int]) -> None:
        for tid in [t for t in self._relations if t not in track_ids]:
            del self._relations[tid]
