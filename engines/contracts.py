"""The data that flows between stages: capture -> engines -> app/export.

Every stage takes and returns these frozen records and nothing else, so a stage
can be swapped (a camera for a file, ONNX Runtime for TensorRT) without its
neighbours noticing. Arrays inside are treated as read-only by convention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class Trigger(StrEnum):
    """Why the gate asked for an explanation."""

    CONFLICT = "conflict"  # face and voice disagree
    AMBIGUOUS = "ambiguous"  # the fast path is unsure
    CHANGE = "change"  # the label changed
    NEW_FACE = "new_face"  # seen a while and not explained yet
    STALE = "stale"  # the last explanation is old


class ExplanationSource(StrEnum):
    """Who wrote an explanation's sentence."""

    LLM = "llm"
    TEMPLATE = "template"


class SessionPhase(StrEnum):
    """Where a live session stands, as the window shows it."""

    STARTING = "starting"
    RUNNING = "running"
    WAITING = "waiting"  # the source has not delivered a frame yet and is tried again (no camera plugged in)
    RETRYING = "retrying"  # the source delivered frames, then stopped: lost, tried again
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    RECORDING_FAILED = "recording_failed"
    AUDIO_LOST = "audio_lost"


@dataclass(frozen=True)
class Frame:
    """One video frame. `t`: seconds on the session's time axis (a file's media time, or the capture clock for a
    camera); `captured`: the capture clock when a live source handed it over, for capture-to-screen delays."""

    t: float
    index: int
    image: np.ndarray  # HxWx3 uint8, BGR (OpenCV's order)
    captured: float | None = None


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
class FacialActions:
    """Geometric proxies of facial action units from the face mesh, as changes from this person's own
    baseline (docs/facial-actions.md names the FACS unit each approximates). Displacements are in percent of
    the eye spacing (outer corners), positive in the named direction; eye opening in percent of the person's
    usual; head pose in degrees; gaze as the irises' offset in their eyes, -1 to 1 (None without the iris)."""

    inner_brow_raise: float  # AU1
    outer_brow_raise: float  # AU2
    brow_lowering: float  # AU4: inner brows lowered and drawn together
    eye_opening_right: float  # AU5 when positive, the lids closing when negative
    eye_opening_left: float
    lid_tightening: float  # AU7: lower lids raised
    cheek_raise: float  # AU6
    lip_corner_pull: float  # AU12 when positive (up); AU15, lip-corner depression, when negative
    lip_stretch: float  # AU20: mouth widened
    lips_parted: float  # AU25
    jaw_drop: float  # AU26
    lip_press: float  # AU24: lips thinned
    blink: bool  # both eyes closed on this frame
    blink_rate: float | None  # per minute over the last minute; None before a minute was seen
    head_yaw_deg: float  # + turned toward the subject's left
    head_pitch_deg: float  # + chin down
    head_roll_deg: float  # + tilted toward the subject's left shoulder (image: clockwise)
    gaze_x: float | None  # + toward the subject's left
    gaze_y: float | None  # + down


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
    face_score: float | None = None  # the mesh's face presence, 0-1; None without the mesh
    actions: FacialActions | None = None  # None without the mesh, or while the person's baseline is learned
    action_label: str | None = None  # the emotion the actions clearly show (engines/fast/action_prototypes.py)
    disagrees: bool = False  # the actions clearly show another emotion than `label`, and contradict `label`
    person_id: int | None = None  # who the face is across tracks (PersonIdentity); None while not yet known


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
    captured: float | None = None  # the frame's capture clock reading, from a live source


@dataclass(frozen=True)
class Quantity:
    """One number a fact states, bound to what it measures.

    `subject`: what it is a quantity of ("sad" for sad's probability, "duration", "margin", "key frame", "pitch");
    `value`: the number as the fact's text writes it ("0.28", "-12"); `unit`: as written after it ("", "s", "%",
    "degrees", "dBFS", "Hz", "syllables/s", or any phrase such as "per minute"); `words`: how a sentence names the
    subject (lower-case stems, "pitch var" or "most expressive"); empty means the subject itself. A number an
    explanation writes after one of these words must be this quantity (engines/slow/grounding.py).
    """

    subject: str
    value: str
    unit: str = ""
    words: tuple[str, ...] = ()

    @property
    def number(self) -> float:
        return float(self.value)

    @property
    def written(self) -> str:
        """As a sentence writes it: "0.28", "1.0 s", "12%"."""
        if not self.unit:
            return self.value
        return f"{self.value}{self.unit}" if self.unit == "%" else f"{self.value} {self.unit}"

    @property
    def names(self) -> tuple[str, ...]:
        return self.words or (self.subject.lower(),)


@dataclass(frozen=True)
class Fact:
    """One measured statement about a face over a window, computed in code.

    `cue` is the id the explainer must cite; `text` is how the prompt states it; `quantities` are the only figures
    an explanation may quote about it, each bound to its subject, and each written in `text`; `words` are the words
    by which a sentence claims this cue (besides grounding.CUE_WORDS[cue]), so a new kind of fact declares them here.
    """

    cue: str
    text: str
    quantities: tuple[Quantity, ...] = ()
    words: tuple[str, ...] = ()

    def __post_init__(self):
        for q in self.quantities:
            if not isinstance(q, Quantity):
                raise TypeError(f"fact {self.cue!r}: {q!r} is not a Quantity (a number needs its subject and unit)")
            if q.written not in self.text:
                raise ValueError(f"fact {self.cue!r} does not write its {q.subject} as {q.written!r}: {self.text!r}")

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(q.value for q in self.quantities)


@dataclass(frozen=True)
class Evidence:
    """What the fast path saw of one face over one window: the explainer's whole input.

    One definition per quantity: `confidence` and `second_confidence` are the window's mean probabilities of the
    two top labels, and `margin` is the difference of exactly those two; `frame_margin` (each frame's own top-1
    minus top-2, averaged) is the gate's measure of ambiguity and no fact states it.
    """

    track_id: int
    window: tuple[float, float]  # seconds on the session clock
    label: str  # top label of the window's mean smoothed probabilities
    confidence: float  # its mean probability
    second_label: str
    second_confidence: float
    frame_margin: float  # mean over the frames of each frame's top-1 minus top-2 (the gate's; never stated)
    entropy: float  # mean normalised entropy
    uncertain_share: float  # share of the window's frames the fast path flagged uncertain
    changed_from: str | None  # the previous window's label when it differs
    key_frames: tuple[float, ...]  # times of the most expressive, most confident frames
    facts: tuple[Fact, ...]
    voice: VoiceCues | None = None
    conflict: bool = False  # face and voice disagree (set by fusion when voice exists)
    action_disagreement: float = 0.0  # share of the measured frames whose facial actions contradicted the label

    @property
    def margin(self) -> float:
        """The label's mean probability minus the runner-up's: the margin a fact states."""
        return round(self.confidence - self.second_confidence, 4)

    @property
    def cue_ids(self) -> tuple[str, ...]:
        return tuple(f.cue for f in self.facts)


@dataclass(frozen=True)
class FusedState:
    """Face and voice over one window of one person, weighed by how much each can be trusted there."""

    track_id: int
    window: tuple[float, float]
    label: str  # the face's label: the voice gives arousal, not a label
    face_arousal: float  # 0-1, from the face's label mix
    voice_arousal: float | None  # 0-1, from loudness and pitch against the calibration; None without speech
    voice_weight: float  # 0 (face alone) to 1 (voice alone): the gate's weight for this window
    arousal: float  # the fused arousal
    conflict: bool
    reason: str  # why it is or is not a conflict, in numbers


@dataclass(frozen=True)
class GateDecision:
    """Whether one window is worth a call to the explainer, and why."""

    track_id: int
    window: tuple[float, float]
    invoke: bool
    trigger: Trigger | None  # when invoked
    reason: str  # the trigger's numbers, or why not (steady, already explained, budget)
    already_explained: bool = False  # declined because this same state has a fresh explanation


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
    track_id: int = -1
    fast_label: str = ""  # the fast path's label for the window; the fast label stays primary
    source: ExplanationSource = ExplanationSource.TEMPLATE
    first_token_ms: float | None = None
    rejected: str | None = None  # why the model's output was not used, when the template stands in
    model: str | None = None


@dataclass(frozen=True)
class Explained:
    """An explanation with the evidence it was given, returned together so that nobody keeps a side table."""

    explanation: Explanation
    evidence: Evidence


@dataclass(frozen=True)
class SessionDescription:
    """What a session runs on, in one place: the window shows it, session.json records it (`record()`)."""

    input: dict  # what was opened, as the user gave it
    devices: dict  # video (the source as opened), audio (the device, or why there is none, or when it was lost), vad
    backend: dict  # the runtime, why it was chosen, what each model runs on
    fast_path: dict  # the detector's and classifier's models (sha256, source, checks) and settings
    settings: dict  # the fast-path options
    explainer: dict | None = None  # its options, threads, gate and model; None: off
    fusion: dict | None = None  # the face/voice calibration, when there is a voice
    explainer_warning: str | None = None  # why explanations are off although asked for

    @property
    def audio(self) -> str:
        return str(self.devices.get("audio", "off"))

    def with_device(self, kind: str, description: str) -> SessionDescription:
        """The same session with its `video` or `audio` device described anew (a camera reopened, a sound lost)."""
        from dataclasses import replace

        return replace(self, devices={**self.devices, kind: description})

    def record(self) -> dict:
        """session.json's fields (the warning is for the window: session.json has the explainer's own entry)."""
        fields = {k: v for k, v in self.__dict__.items() if k != "explainer_warning"}
        return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True)
class SessionState:
    """Where a live session stands, for the window to show."""

    phase: SessionPhase
    detail: str = ""
    retry_in_s: float | None = None  # while retrying: seconds until the next attempt


@dataclass(frozen=True)
class SessionStats:
    """The last second of a live session, for the status bar."""

    capture_fps: float  # frames the source produced, dropped ones included
    processed_fps: float  # frames the fast path finished
    dropped: int  # frames the source discarded because the fast path was busy (whole session)
    latency_ms: dict[str, float]  # median per fast-path stage over the last second
    faces: int
    explainer: str  # off | loading | ready | busy | failed: why
    recording: str | None = None  # the folder being written, when recording
