"""The data that flows between stages: capture -> engines -> app/export.

Every stage takes and returns these frozen records and nothing else, so a stage
can be swapped (a camera for a file, ONNX Runtime for TensorRT) without its
neighbours noticing. Arrays inside are treated as read-only by convention.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@dataclass(frozen=True)
class Frame:
    """One video frame. `t` is seconds on the capture clock (monotonic)."""

    t: float
    index: int
    image: np.ndarray  # HxWx3 uint8, BGR (OpenCV's order)


@dataclass(frozen=True)
class AudioChunk:
    t: float
    samples: np.ndarray
    rate: int


@dataclass(frozen=True)
class Detection:
    """A face as the detector sees it, before tracking."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels
    landmarks: np.ndarray  # 5x2: right eye, left eye, nose, right mouth, left mouth
    score: float


@dataclass(frozen=True)
class LandmarkCues:
    """Geometry from the 5 landmarks, normalised by the inter-ocular distance."""

    mouth_width: float  # mouth-corner distance / eye distance (a smile widens it)
    mouth_drop: float  # nose-to-mouth-line distance / eye distance
    roll_deg: float  # head tilt in the image plane
    yaw: float  # nose offset from the eye midline / eye distance, -left +right


@dataclass(frozen=True)
class FaceObservation:
    track_id: int
    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    det_score: float
    detected: bool  # True where the detector ran on this frame, False where the tracker predicted
    probs: np.ndarray  # smoothed probabilities over EMOTIONS
    raw_probs: np.ndarray  # this frame's classifier output
    label: str
    uncertain: bool
    margin: float  # top-1 minus top-2 smoothed probability
    entropy: float  # normalised to [0, 1]
    cues: LandmarkCues
    valence: float | None = None
    arousal: float | None = None


@dataclass(frozen=True)
class VoiceCues:
    speech: bool
    loudness_db: float
    pitch_hz: float | None
    pitch_var: float | None
    rate: float | None


@dataclass(frozen=True)
class FrameResult:
    t: float
    index: int
    faces: tuple[FaceObservation, ...]
    latency_ms: dict[str, float] = field(default_factory=dict)
    voice: VoiceCues | None = None


@dataclass(frozen=True)
class Explanation:
    window: tuple[float, float]
    trigger: str
    label: str
    confidence: float
    cues: tuple[str, ...]
    text: str
    tokens: int
    latency_ms: float
