"""Facial actions, measured in code from the face mesh, against each person's own neutral face.

Each action is a geometric proxy of a FACS action unit (docs/facial-actions.md says
which), not a FACS-coded intensity: a distance on the mesh, in the face's own frame
(turned frontal with the head pose the mesh gives), divided by the distance between
the outer eye corners, read as a change from that person's baseline. Displacements
are in percent of that eye spacing; eye opening in percent of the person's usual.

The baseline is the median of a track's first frames, then follows the face slowly
and robustly (a capped step per frame), so a long smile does not become the new
neutral and a face that relaxes over minutes is not read as frowning forever.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from engines.contracts import FacialActions
from engines.fast.face_mesh import MeshReading

# Mesh indices (MediaPipe's canonical 468-point topology). "Right" is the subject's right (image left).
EYE_OUTER = (33, 263)
EYE_INNER = (133, 362)
UPPER_LID = ((159, 158, 160), (386, 385, 387))
LOWER_LID = ((145, 144, 153), (374, 373, 380))
INNER_BROW = ((107, 55, 65), (336, 285, 295))
OUTER_BROW = ((70, 46, 53), (300, 276, 283))
CHEEK = ((117, 118, 50), (346, 347, 280))
MOUTH_CORNERS = (61, 291)
UPPER_LIP_TOP, UPPER_LIP_INNER, LOWER_LIP_INNER, LOWER_LIP_BOTTOM = 0, 13, 14, 17
NOSE_TIP, CHIN, FOREHEAD = 1, 152, 10

# The measures that are read against the baseline; eye opening is a ratio, the rest are distances.
_MEASURES = (
    "inner_brow",
    "outer_brow",
    "brow_gap",
    "eye_open_right",
    "eye_open_left",
    "lower_lid",
    "cheek",
    "corner_lift",
    "mouth_width",
    "lip_gap",
    "jaw",
    "lip_thickness",
)


@dataclass(frozen=True)
class ActionSettings:
    learn_s: float = 1.5  # the baseline is the median of a track's first frames over this long
    learn_min_frames: int = 10
    follow_s: float = 120.0  # then it follows the face with this time constant ...
    follow_cap: float = 0.02  # ... each frame's pull on it capped at this difference (eye spacings)
    blink_ratio: float = 0.5  # both eyes below this share of their usual opening: closed
    blink_rate_s: float = 60.0  # blinks per minute, counted over this long once that much has been seen
    max_abs_yaw_deg: float = 45.0  # beyond this the mesh's far side is guessed: no actions are read


@dataclass
class _Track:
    first_t: float
    learning: list[np.ndarray] = field(default_factory=list)
    baseline: np.ndarray | None = None
    last_t: float | None = None
    closed: bool = False
    blinks: deque[float] = field(default_factory=deque)


def face_frame(points: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float, float]]:
    """The face's own axes (x: the subject's right-to-left eye line, y: forehead to chin, z: into the face), the
    eye spacing (3D, so turning the head does not shrink it) and the head's yaw, pitch and roll in degrees."""
    x = points[EYE_OUTER[1]] - points[EYE_OUTER[0]]
    spacing = float(np.linalg.norm(x))
    x = x / max(spacing, 1e-9)
    y = points[CHIN] - points[FOREHEAD]
    y = y - (y @ x) * x
    y = y / max(float(np.linalg.norm(y)), 1e-9)
    z = np.cross(x, y)
    axes = np.stack([x, y, z])
    yaw = math.degrees(math.atan2(x[2], x[0]))
    pitch = math.degrees(math.atan2(-y[2], y[1]))
    roll = math.degrees(math.atan2(x[1], x[0]))
    return axes, spacing, (yaw, pitch, roll)


def measures(points: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float, float]]:
    """The raw geometry (in `_MEASURES` order) of one mesh, frontal and in eye spacings; also the spacing in
    pixels and the head pose."""
    axes, spacing, pose = face_frame(points)
    f = (points - points[list(EYE_OUTER)].mean(0)) @ axes.T / max(spacing, 1e-9)  # origin between the outer eye corners
    y = f[:, 1]  # down the face

    def mean_y(idx) -> float:
        return float(np.mean([y[i] for i in idx]))

    eye_line = float(np.mean(y[list(EYE_OUTER + EYE_INNER)]))
    eye_open = []
    for side in (0, 1):
        width = float(np.linalg.norm(f[EYE_OUTER[side], :2] - f[EYE_INNER[side], :2]))
        eye_open.append((mean_y(LOWER_LID[side]) - mean_y(UPPER_LID[side])) / max(width, 1e-9))
    corners = f[list(MOUTH_CORNERS)]
    mouth_centre = (f[UPPER_LIP_INNER] + f[LOWER_LIP_INNER]) / 2
    values = np.array(
        [
            eye_line - mean_y(INNER_BROW[0] + INNER_BROW[1]),  # inner brow height above the eyes
            eye_line - mean_y(OUTER_BROW[0] + OUTER_BROW[1]),
            float(np.linalg.norm(f[INNER_BROW[1][0], :2] - f[INNER_BROW[0][0], :2])),  # between the inner brow ends
            eye_open[0],
            eye_open[1],
            np.mean([mean_y(LOWER_LID[s]) for s in (0, 1)]) - eye_line,  # lower lids' depth below the eye line
            np.mean([mean_y(CHEEK[s]) for s in (0, 1)]) - eye_line,  # upper cheeks' depth below the eye line
            float(mouth_centre[1] - corners[:, 1].mean()),  # lip corners above the mouth's centre
            float(np.linalg.norm(corners[1, :2] - corners[0, :2])),
            float(y[LOWER_LIP_INNER] - y[UPPER_LIP_INNER]),
            float(y[CHIN] - y[NOSE_TIP]),
            float((y[UPPER_LIP_INNER] - y[UPPER_LIP_TOP]) + (y[LOWER_LIP_BOTTOM] - y[LOWER_LIP_INNER])),
        ]
    )
    return values, spacing, pose


def gaze(points: np.ndarray, irises: np.ndarray) -> tuple[float, float]:
    """Where the irises sit in their eyes, averaged over both: x from -1 (toward the subject's right eye corner
    side, i.e. looking to their right) to +1, y from -1 (up) to +1; 0, 0 is straight ahead of the face."""
    axes, spacing, _ = face_frame(points)
    gx, gy = [], []
    for side in (0, 1):
        outer, inner = points[EYE_OUTER[side]][:2], points[EYE_INNER[side]][:2]
        centre = (outer + inner) / 2
        half = max(float(np.linalg.norm(inner - outer)) / 2, 1e-9)
        offset = (irises[side] - centre) @ axes[:2, :2].T / half
        gx.append(float(offset[0]))
        gy.append(float(offset[1]))
    return float(np.mean(gx)), float(np.mean(gy))


class FacialActionMeter:
    """Per track: `update(track_id, t, reading)` gives the frame's FacialActions, or None while the person's
    baseline is still being learned or the head is turned too far to read the face."""

    def __init__(self, settings: ActionSettings | None = None):
        self.settings = settings or ActionSettings()
        self._tracks: dict[int, _Track] = {}

    def retain(self, track_ids: set[int]) -> None:
        for tid in [t for t in self._tracks if t not in track_ids]:
            del self._tracks[tid]

    @property
    def tracks(self) -> int:
        return len(self._tracks)

    def update(self, track_id: int, t: float, reading: MeshReading, whole: bool = True) -> FacialActions | None:
        """`whole`: the face lies wholly inside the frame; a face cut by the frame's edge is not read (the mesh
        guesses its missing part: 6.5% of jaw drop on a still photo panned past the edge)."""
        s = self.settings
        values, _, (yaw, pitch, roll) = measures(reading.points)
        track = self._tracks.setdefault(track_id, _Track(first_t=t))
        if abs(yaw) > s.max_abs_yaw_deg or not whole:
            return None
        if track.baseline is None:
            track.learning.append(values)
            if t - track.first_t < s.learn_s or len(track.learning) < s.learn_min_frames:
                return None
            track.baseline = np.median(np.stack(track.learning), axis=0)
            track.learning = []
        dt = 0.0 if track.last_t is None else max(0.0, t - track.last_t)
        track.last_t = t
        base = track.baseline.copy()
        d = values - base
        track.baseline += np.clip(d, -s.follow_cap, s.follow_cap) * min(1.0, dt / s.follow_s)
        m = dict(zip(_MEASURES, d, strict=True))
        eye_ratio = values[3:5] / np.maximum(base[3:5], 1e-6)
        closed = bool(np.all(eye_ratio < s.blink_ratio))
        if closed and not track.closed:
            track.blinks.append(t)
        track.closed = closed
        while track.blinks and track.blinks[0] < t - s.blink_rate_s:
            track.blinks.popleft()
        seen = t - track.first_t
        rate = len(track.blinks) * 60.0 / s.blink_rate_s if seen >= s.blink_rate_s else None
        gaze_x, gaze_y = gaze(reading.points, reading.irises) if reading.irises is not None else (None, None)

        def pct(v: float) -> float:
            return round(100.0 * float(v), 2)

        return FacialActions(
            inner_brow_raise=pct(m["inner_brow"]),
            outer_brow_raise=pct(m["outer_brow"]),
            brow_lowering=pct(-(m["inner_brow"] + m["brow_gap"]) / 2),
            eye_opening_right=pct(eye_ratio[0] - 1.0),
            eye_opening_left=pct(eye_ratio[1] - 1.0),
            lid_tightening=pct(-m["lower_lid"]),
            cheek_raise=pct(-m["cheek"]),
            lip_corner_pull=pct(m["corner_lift"]),
            lip_stretch=pct(m["mouth_width"]),
            lips_parted=pct(m["lip_gap"]),
            jaw_drop=pct(m["jaw"]),
            lip_press=pct(-m["lip_thickness"]),
            blink=closed,
            blink_rate=None if rate is None else round(rate, 1),
            head_yaw_deg=round(yaw, 1),
            head_pitch_deg=round(pitch, 1),
            head_roll_deg=round(roll, 1),
            gaze_x=None if gaze_x is None else round(gaze_x, 3),
            gaze_y=None if gaze_y is None else round(gaze_y, 3),
        )
