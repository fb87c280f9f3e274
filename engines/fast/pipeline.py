"""FastPath: one frame in, one FrameResult out: detect (every N frames) or track, mesh, classify, smooth, measure."""

from __future__ import annotations

import time

import numpy as np

from engines.contracts import EMOTIONS, FaceObservation, Frame, FrameResult
from engines.fast.action_prototypes import action_opinion
from engines.fast.descriptor_worker import DescriptorWorker
from engines.fast.device_frames import DeviceFrames
from engines.fast.expression import ExpressionClassifier
from engines.fast.face_descriptor import face_region
from engines.fast.face_detector import FaceDetector
from engines.fast.face_mesh import FaceMesh
from engines.fast.face_presence import FacePresence
from engines.fast.facial_actions import FacialActionMeter, face_frame
from engines.fast.inline_describer import InlineDescriber
from engines.fast.landmark_cues import landmark_cues
from engines.fast.mesh_following import MeshFollower
from engines.fast.person_identity import PersonIdentity
from engines.fast.smoothing import ExpressionSmoother
from engines.fast.tracker import FaceTracker, TrackedFace

STAGES = ("upload", "detect", "track", "mesh", "expression", "identity", "smooth", "total")


class FastPath:
    """Runs on one worker thread; every call returns at once with whatever this frame shows.

    With `device_frames`, each frame is moved to the accelerator once ("upload") and
    the detector's input and the face crops are cut there. With a `mesh`, every
    tracked face is meshed: only tracks the mesh reads as faces are reported (under
    person numbers, see FacePresence), each with its facial actions, and between
    detections each face is followed by its mesh (MeshFollower). With a
    `describer`, each track is also told apart from the people seen before it
    (PersonIdentity): `person_id` is who the face is, `track_id` this sighting.
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
        describer: DescriptorWorker | InlineDescriber | None = None,
        identity: PersonIdentity | None = None,
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
        self.follower = MeshFollower()
        self.describer = describer
        self.identity = (identity or PersonIdentity()) if describer is not None else None
        self._generation = 0
        self._last_t = 0.0
        self._processed = 0

    def reset(self) -> None:
        """Forget every face, as at the start of a new session; the loaded models stay."""
        old = self.tracker
        self.tracker = FaceTracker(old.iou_threshold, old.max_missed, old.velocity_smoothing, old.max_unseen_frames)
        self.smoother.retain(set())
        self.presence = FacePresence(self.presence.min_score, self.presence.min_face_s, self.presence.sure_score)
        self.actions.retain(set())
        self.follower.retain(set())
        self.forget_people()
        self._processed = 0

    def forget_people(self) -> None:
        """Every person and descriptor is dropped; the tracks in view become new people on their next frame."""
        if self.identity is not None:
            self.identity = PersonIdentity(self.identity.settings)
            self.describer.drop_all()
            self._generation += 1  # an answer still on its way describes a face of the last session

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
            faces = self._follow(faces, readings, step, detect_frame)
        mesh_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        raw = self.classifier.classify(image, [f.landmarks for f in faces])
        expression_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        persons = self._persons(frame, faces, people, readings)
        identity_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        observations = []
        for face, probs, person, reading, who in zip(faces, raw, people, readings, persons, strict=True):
            s = self.smoother.update(person, frame.t, probs)
            label = EMOTIONS[s.label_index]
            whole = _inside(face.box, frame.image.shape)
            actions = None if reading is None else self.actions.update(person, frame.t, reading, whole)
            opinion = None if actions is None else action_opinion(actions, label)
            observations.append(
                FaceObservation(
                    track_id=person,
                    person_id=who,
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
        self.follower.retain({track.track_id for track in self.tracker.tracks})
        self.smoother.retain(live)
        self.actions.retain(live)
        if self.identity is not None:
            self.identity.retain(live)
            self.describer.keep_only({(self._generation, track) for track in self.identity.wanted()})
        smooth_ms = (time.perf_counter() - t) * 1000
        latency = {
            "upload": upload_ms,
            "detect": detect_ms,
            "track": track_ms,
            "mesh": mesh_ms,
            "expression": expression_ms,
            "identity": identity_ms,
            "smooth": smooth_ms,
            "total": (time.perf_counter() - start) * 1000,
        }
        return FrameResult(
            t=frame.t, index=frame.index, faces=tuple(observations), latency_ms=latency, captured=frame.captured
        )

    def _follow(self, faces: list[TrackedFace], readings, step: int, detect_frame: bool) -> list[TrackedFace]:
        """Detection frames anchor each face's mesh to its detection; on the frames between, a face is where its
        mesh puts it (the box and landmarks classified, shown and tracked from), not where its motion guessed."""
        if detect_frame:
            for face, reading in zip(faces, readings, strict=True):
                self.follower.anchor(face.track_id, face.box, face.landmarks, reading.points)
            return faces
        out = []
        for face, reading in zip(faces, readings, strict=True):
            placed = self.follower.place(face.track_id, reading.points)
            if placed is None:
                out.append(face)
                continue
            box, landmarks = placed
            self.tracker.follow(face.track_id, box, landmarks, step)
            out.append(TrackedFace(face.track_id, tuple(box.tolist()), landmarks.astype(np.float32), face.score, False))
        return out

    def _persons(self, frame: Frame, faces, tracks: list[int], readings) -> list[int | None]:
        """Who each face is: its person, or None while that is not known yet (its descriptor is on its way).
        Without re-identification, people are tracks."""
        if self.identity is None:
            return list(tracks)
        identity, describer, t = self.identity, self.describer, frame.t
        self._last_t = t
        for (generation, track), descriptor in describer.poll():
            if generation == self._generation:
                identity.described(track, t, descriptor)
        if describer.failed is not None:
            identity.blind = describer.failed
        s = identity.settings
        seen = []
        for face, track, reading in zip(faces, tracks, readings, strict=True):
            x1, y1, x2, y2 = face.box
            describable = x2 - x1 >= s.min_face_px and _inside(face.box, frame.image.shape, slack=s.max_cut)
            if describable and reading is not None:
                describable = abs(face_frame(reading.points)[2][0]) <= s.max_yaw_deg
            seen.append((track, describable, face.detected))
        for face, track, ask in zip(faces, tracks, identity.observe_frame(t, seen), strict=True):
            if ask:
                region, box = face_region(frame.image, face.box)
                describer.submit((self._generation, track), region, box, urgent=identity.urgent(track))
        return [identity.person(track) for track in tracks]

    def settle(self, timeout_s: float) -> None:
        """The end of a file: waits up to `timeout_s` for the descriptors that faces still in view are waiting
        on, so that who they were is decided (their rows get their person when the folder closes)."""
        if self.identity is None or self.describer.failed is not None:
            return
        deadline = time.monotonic() + timeout_s
        while self.identity.undecided() and time.monotonic() < deadline:
            answers = self.describer.poll()
            for (generation, track), descriptor in answers:
                if generation == self._generation:
                    self.identity.described(track, self._last_t, descriptor)
            if not answers:
                if not any(self.describer.waiting((self._generation, t)) for t in self.identity.undecided()):
                    return
                time.sleep(0.01)

    def close(self) -> None:
        """Ends the face describer's process."""
        if self.describer is not None:
            self.describer.close()

    def describe(self) -> dict:
        return {
            "detector": self.detector.describe(),
            "expression": self.classifier.describe(),
            "detect_every": self.detect_every,
            "between_detections": "followed by the face mesh" if self.mesh is not None else "coasting on motion",
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
            "re_identification": None
            if self.identity is None
            else {
                "model": self.describer.asset.summary(),
                "described": "on the frame thread"
                if isinstance(self.describer, InlineDescriber)
                else "in a process of its own",
                **self.identity.settings.__dict__,
                "kept": "descriptors in memory for this session only; never written",
            },
        }


def _inside(box: tuple[float, float, float, float], shape: tuple[int, ...], slack: float = 0.02) -> bool:
    """Whether the face box lies inside the frame, give or take `slack` of its size."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * slack, (y2 - y1) * slack
    return x1 >= -dx and y1 >= -dy and x2 <= shape[1] + dx and y2 <= shape[0] + dy
