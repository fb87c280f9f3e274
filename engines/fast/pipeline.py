"""FastPath: one frame in, one FrameResult out: detect (every N frames) or track, classify, smooth, measure."""

from __future__ import annotations

import time

from engines.contracts import EMOTIONS, FaceObservation, Frame, FrameResult
from engines.fast.device_frames import DeviceFrames
from engines.fast.expression import ExpressionClassifier
from engines.fast.face_detector import FaceDetector
from engines.fast.landmark_cues import landmark_cues
from engines.fast.smoothing import ExpressionSmoother
from engines.fast.tracker import FaceTracker

STAGES = ("upload", "detect", "track", "expression", "smooth", "total")


class FastPath:
    """Runs on one worker thread; every call returns at once with whatever this frame shows.

    With `device_frames`, each frame is moved to the accelerator once ("upload") and
    the detector's input and the face crops are cut there.
    """

    def __init__(
        self,
        detector: FaceDetector,
        classifier: ExpressionClassifier,
        detect_every: int = 3,
        tracker: FaceTracker | None = None,
        smoother: ExpressionSmoother | None = None,
        device_frames: DeviceFrames | None = None,
    ):
        if detect_every < 1:
            raise ValueError("detect_every must be at least 1")
        self.detector = detector
        self.classifier = classifier
        self.detect_every = detect_every
        self.tracker = tracker or FaceTracker()
        self.smoother = smoother or ExpressionSmoother()
        self.device_frames = device_frames
        self._processed = 0

    def reset(self) -> None:
        """Forget every face, as at the start of a new session; the loaded models stay."""
        self.tracker = FaceTracker(self.tracker.iou_threshold, self.tracker.max_missed, self.tracker.velocity_smoothing)
        self.smoother.retain(set())
        self._processed = 0

    def process(self, frame: Frame) -> FrameResult:
        start = time.perf_counter()
        step = self._processed
        self._processed += 1
        image = frame.image if self.device_frames is None else self.device_frames.upload(frame.image)
        upload_ms = (time.perf_counter() - start) * 1000
        detect_ms = 0.0
        if step % self.detect_every == 0:
            t = time.perf_counter()
            detections = self.detector.detect(image)
            detect_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            faces = self.tracker.update(detections, step)
        else:
            t = time.perf_counter()
            faces = self.tracker.predict(step)
        track_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        raw = self.classifier.classify(image, [f.landmarks for f in faces])
        expression_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        observations = []
        for face, probs in zip(faces, raw, strict=True):
            s = self.smoother.update(face.track_id, frame.t, probs)
            observations.append(
                FaceObservation(
                    track_id=face.track_id,
                    box=face.box,
                    landmarks=face.landmarks,
                    det_score=face.score,
                    detected=face.detected,
                    probs=s.probs,
                    raw_probs=probs,
                    label=EMOTIONS[s.label_index],
                    uncertain=s.uncertain,
                    margin=s.margin,
                    entropy=s.entropy,
                    cues=landmark_cues(face.landmarks),
                )
            )
        self.smoother.retain({track.track_id for track in self.tracker.tracks})
        smooth_ms = (time.perf_counter() - t) * 1000
        latency = {
            "upload": upload_ms,
            "detect": detect_ms,
            "track": track_ms,
            "expression": expression_ms,
            "smooth": smooth_ms,
            "total": (time.perf_counter() - start) * 1000,
        }
        return FrameResult(
            t=frame.t, index=frame.index, faces=tuple(observations), latency_ms=latency, captured=frame.captured
        )

    def describe(self) -> dict:
        return {
            "detector": self.detector.describe(),
            "expression": self.classifier.describe(),
            "detect_every": self.detect_every,
            "preprocess": self.device_frames.describe() if self.device_frames else {"where": "host (OpenCV)"},
            "smoothing": {
                "time_constant_s": self.smoother.time_constant_s,
                "min_margin": self.smoother.min_margin,
                "max_entropy": self.smoother.max_entropy,
            },
            "tracker": {"iou_threshold": self.tracker.iou_threshold, "max_missed": self.tracker.max_missed},
        }
