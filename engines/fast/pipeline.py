"""FastPath: one frame in, one FrameResult out: detect (every N frames) or track, mesh, classify, smooth, measure."""

from __future__ import annotations

import time

from engines.contracts import EMOTIONS, FaceObservation, Frame, FrameResult
from engines.fast.action_prototypes import action_opinion
from engines.fast.device_frames import DeviceFrames
from engines.fast.expression import ExpressionClassifier
from engines.fast.face_detector import FaceDetector
from engines.fast.face_mesh import FaceMesh
from engines.fast.face_presence import FacePresence
from engines.fast.facial_actions import FacialActionMeter
from engines.fast.landmark_cues import landmark_cues
from engines.fast.smoothing import ExpressionSmoother
from engines.fast.tracker import FaceTracker

STAGES = ("upload", "detect", "track", "mesh", "expression", "smooth", "total")


class FastPath:
    """Runs on one worker thread; every call returns at once with whatever this frame shows.

    With `device_frames`, each frame is moved to the accelerator once ("upload") and
    the detector's input and the face crops are cut there. With a `mesh`, every
    tracked face is meshed: only tracks the mesh reads as faces are reported (under
    person numbers, see FacePresence), each with its facial actions.
    """

    def __init__(
        self,
        detector: FaceDetector,
        classifier: ExpressionClassifier,
        detect_every: int = 3,
        tracker: FaceTracker | None = None,
        smoother: ExpressionSmoother | None = None,
        device_frames: DeviceFrames | None = None,
        mesh: FaceMesh | None = None,
        presence: FacePresence | None = None,
        actions: FacialActionMeter | None = None,
    ):
        if detect_every < 1:
            raise ValueError("detect_every must be at least 1")
        self.detector = detector
        self.classifier = classifier
        self.detect_every = detect_every
        self.tracker = tracker or FaceTracker()
        self.smoother = smoother or ExpressionSmoother()
        self.device_frames = device_frames
        self.mesh = mesh
        self.presence = presence or FacePresence()
        self.actions = actions or FacialActionMeter()
        self._processed = 0

    def reset(self) -> None:
        """Forget every face, as at the start of a new session; the loaded models stay."""
        self.tracker = FaceTracker(self.tracker.iou_threshold, self.tracker.max_missed, self.tracker.velocity_smoothing)
        self.smoother.retain(set())
        self.presence = FacePresence(self.presence.min_score, self.presence.min_face_s, self.presence.sure_score)
        self.actions.retain(set())
        self._processed = 0

    def process(self, frame: Frame) -> FrameResult:
        start = time.perf_counter()
        step = self._processed
        self._processed += 1
        image = frame.image if self.device_frames is None else self.device_frames.upload(frame.image)
        upload_ms = (time.perf_counter() - start) * 1000
        detect_ms = 0.0
        detect_frame = step % self.detect_every == 0
        if detect_frame:
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
        readings = [None] * len(faces)
        people = [face.track_id for face in faces]
        if self.mesh is not None:
            # the irises (gaze) on detection frames only: the iris model costs more than the mesh
            meshed = self.mesh.read(frame.image, [(f.box, f.landmarks) for f in faces], irises=detect_frame)
            people = [self.presence.update(f.track_id, frame.t, m.score) for f, m in zip(faces, meshed, strict=True)]
            kept = [i for i, person in enumerate(people) if person is not None]
            faces, readings, people = [faces[i] for i in kept], [meshed[i] for i in kept], [people[i] for i in kept]
        mesh_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        raw = self.classifier.classify(image, [f.landmarks for f in faces])
        expression_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        observations = []
        for face, probs, person, reading in zip(faces, raw, people, readings, strict=True):
            s = self.smoother.update(person, frame.t, probs)
            label = EMOTIONS[s.label_index]
            whole = _inside(face.box, frame.image.shape)
            actions = None if reading is None else self.actions.update(person, frame.t, reading, whole)
            opinion = None if actions is None else action_opinion(actions, label)
            observations.append(
                FaceObservation(
                    track_id=person,
                    box=face.box,
                    landmarks=face.landmarks,
                    det_score=face.score,
                    detected=face.detected,
                    probs=s.probs,
                    raw_probs=probs,
                    label=label,
                    uncertain=s.uncertain,
                    margin=s.margin,
                    entropy=s.entropy,
                    cues=landmark_cues(face.landmarks),
                    face_score=None if reading is None else round(reading.score, 4),
                    actions=actions,
                    action_label=None if opinion is None else opinion.label,
                    disagrees=opinion is not None and opinion.disagrees,
                )
            )
        live = {track.track_id for track in self.tracker.tracks}
        if self.mesh is not None:
            self.presence.retain(live)
            live = {self.presence.person(tid) for tid in live} - {None}
        self.smoother.retain(live)
        self.actions.retain(live)
        smooth_ms = (time.perf_counter() - t) * 1000
        latency = {
            "upload": upload_ms,
            "detect": detect_ms,
            "track": track_ms,
            "mesh": mesh_ms,
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
            "mesh": None if self.mesh is None else self.mesh.describe(),
            "face_presence": None
            if self.mesh is None
            else {
                "min_score": self.presence.min_score,
                "sure_score": self.presence.sure_score,
                "min_face_s": self.presence.min_face_s,
            },
            "facial_actions": None if self.mesh is None else self.actions.settings.__dict__,
        }


def _inside(box: tuple[float, float, float, float], shape: tuple[int, ...], slack: float = 0.02) -> bool:
    """Whether the face box lies inside the frame, give or take `slack` of its size."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * slack, (y2 - y1) * slack
    return x1 >= -dx and y1 >= -dy and x2 <= shape[1] + dx and y2 <= shape[0] + dy
