"""FaceTracker: stable IDs per person, with detection only every few frames.

On detection frames, detections are matched to tracks by IoU against each
track's predicted box (Hungarian assignment). In between, tracks coast on a
constant-velocity prediction of box and landmarks, which is what lets the
detector run on one frame in N, or are moved to where their face mesh found them
(`follow`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.contracts import Detection
from engines.fast.assignment import min_cost_assignment


@dataclass
class Track:
    track_id: int
    box: np.ndarray  # x1, y1, x2, y2 at `frame`
    landmarks: np.ndarray  # 5x2 at `frame`
    score: float
    frame: int  # frame index of the last detection, or of the last frame its mesh placed it
    velocity: np.ndarray  # per-frame motion of (x1, y1, x2, y2)
    missed: int = 0  # detection rounds in a row without a match

    def predict(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        dt = frame - self.frame
        box = self.box + self.velocity * dt
        shift = (self.velocity[:2] + self.velocity[2:]) / 2 * dt
        return box, self.landmarks + shift


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a (N x 4) and b (M x 4)."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass(frozen=True)
class TrackedFace:
    track_id: int
    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float
    detected: bool


class FaceTracker:
    def __init__(
        self,
        iou_threshold: float = 0.3,
        max_missed: int = 2,
        velocity_smoothing: float = 0.5,
        max_unseen_frames: int = 6,
    ):
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed  # detection rounds a track survives unseen (occlusion, a missed detection)
        self.velocity_smoothing = velocity_smoothing
        # ... and frames, whatever the detector's interval: a face gone longer than this is not the one that comes
        # into its place (2 rounds of 3 frames; with the detector at 1 in 6, rounds alone would keep it 12)
        self.max_unseen_frames = max_unseen_frames
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, detections: list[Detection], frame: int) -> list[TrackedFace]:
        """A detection frame: match, update, start and retire tracks; returns the faces seen now."""
        self.tracks = [t for t in self.tracks if frame - t.frame <= self.max_unseen_frames]
        predicted = [t.predict(frame) for t in self.tracks]
        matches: dict[int, int] = {}
        if self.tracks and detections:
            ious = iou_matrix(np.array([p[0] for p in predicted]), np.array([d.box for d in detections]))
            rows, cols = min_cost_assignment(-ious)
            matches = {c: r for r, c in zip(rows, cols, strict=True) if ious[r, c] >= self.iou_threshold}
        seen: list[TrackedFace] = []
        matched_tracks = set(matches.values())
        for di, det in enumerate(detections):
            box = np.array(det.box, dtype=np.float64)
            if di in matches:
                track = self.tracks[matches[di]]
                dt = max(frame - track.frame, 1)
                motion = (box - track.box) / dt
                a = self.velocity_smoothing
                track.velocity = a * motion + (1 - a) * track.velocity
                track.box, track.landmarks, track.score = box, det.landmarks.astype(np.float64), det.score
                track.frame, track.missed = frame, 0
            else:
                track = Track(self._next_id, box, det.landmarks.astype(np.float64), det.score, frame, np.zeros(4))
                self._next_id += 1
                self.tracks.append(track)
            seen.append(TrackedFace(track.track_id, tuple(box.tolist()), det.landmarks, det.score, True))
        for ti, track in enumerate(self.tracks):
            if ti not in matched_tracks and track.frame != frame:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return seen

    def follow(self, track_id: int, box: np.ndarray, landmarks: np.ndarray, frame: int) -> None:
        """Where a track's face was found on a frame without detection (by its mesh): its position from now on,
        and its motion since its last position folded into its velocity, as a detection's would be."""
        for track in self.tracks:
            if track.track_id == track_id and not track.missed and frame > track.frame:
                motion = (box - track.box) / (frame - track.frame)
                a = self.velocity_smoothing
                track.velocity = a * motion + (1 - a) * track.velocity
                track.box, track.landmarks, track.frame = np.asarray(box, np.float64), landmarks, frame
                return

    def predict(self, frame: int) -> list[TrackedFace]:
        """A frame without detection: every live track at its predicted place (tracks lost since are left out)."""
        faces = []
        for track in self.tracks:
            if track.missed:
                continue
            box, landmarks = track.predict(frame)
            faces.append(
                TrackedFace(track.track_id, tuple(box.tolist()), landmarks.astype(np.float32), track.score, False)
            )
        return faces
