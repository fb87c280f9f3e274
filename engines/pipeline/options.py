"""What a user can choose about a pipeline, checked when it is made, so a bad value never reaches a session folder.

Settings files (the gate's, the fusion's) are read into these options before
anything is opened or created; a wrong value is one line naming it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from engines.backends.base import BackendName
from engines.fusion import FusionSettings
from engines.settings_file import SettingsError
from engines.slow.gate import GateSettings

PREPROCESS = ("auto", "host", "device")


def _plain(options) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}


# How often the detector runs by default: between its frames, a face is followed by its own mesh when the mesh is on
# (engines/fast/mesh_following.py), which holds every track of the group pan at one frame in 6; without the mesh a
# face coasts on its motion, which holds at one in 3.
DETECT_EVERY_WITH_MESH = 6
DETECT_EVERY_WITHOUT_MESH = 3


@dataclass(frozen=True)
class FastPathOptions:
    backend: BackendName | Literal["auto"] = "auto"
    threads: int = 1
    detect_every: int | None = None  # None: DETECT_EVERY_WITH_MESH with the mesh (it follows faces), else 3
    detector_size: int | None = None  # None: auto, from the frame size
    smoothing_s: float = 0.5
    insightface_pack: Path | None = None
    model_dir: Path | None = None
    preprocess: str = "auto"  # auto | host | device: where frames are resized, normalised and cropped
    mesh: bool = True  # the face mesh on every tracked face: facial actions, and boxes that are not faces dropped
    min_face_score: float = 0.5  # the mesh's face presence below which a box is not a face
    min_face_s: float = 0.3  # how long a track must have been a face before it is reported as a person
    reid: bool = True  # a face that comes back is the person it was (descriptors in memory only); False: tracks
    describe_inline: bool = False  # faces described on the frame thread, not in a process of their own: one core,
    # and the same people on every run of a file (a batch worker's choice: engines/fast/inline_describer.py)

    @property
    def detection_interval(self) -> int:
        if self.detect_every is not None:
            return self.detect_every
        return DETECT_EVERY_WITH_MESH if self.mesh else DETECT_EVERY_WITHOUT_MESH

    def __post_init__(self) -> None:
        from engines.backends import BACKENDS

        if self.backend != "auto" and self.backend not in BACKENDS:
            raise SettingsError(f"backend takes auto or one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.threads < 1 or (self.detect_every is not None and self.detect_every < 1):
            raise SettingsError("threads and detect-every take a whole number of 1 or more")
        if self.smoothing_s < 0:
            raise SettingsError(f"smoothing takes seconds, 0 or more, not {self.smoothing_s}")
        if self.detector_size is not None and self.detector_size < 64:
            raise SettingsError(f"detector size takes pixels, 64 or more, not {self.detector_size}")
        if not 0.0 <= self.min_face_score <= 1.0 or self.min_face_s < 0:
            raise SettingsError(
                f"min face score takes 0 to 1 and min face seconds 0 or more, not {self.min_face_score}, "
                f"{self.min_face_s}"
            )
        if self.preprocess not in PREPROCESS:
            raise SettingsError(f"preprocess takes {', '.join(PREPROCESS)}, not {self.preprocess!r}")

    def as_dict(self) -> dict:
        return _plain(self)


@dataclass(frozen=True)
class ExplainOptions:
    llm: str | None = None  # a packaged model's name or a .gguf path; None: the default
    threads: int | None = None  # None: the cores the fast path leaves, at least 1
    gate: GateSettings = field(default_factory=GateSettings)
    gate_file: Path | None = None  # where `gate` was read from, for the record
    max_tokens: int = 96

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise SettingsError(f"explainer threads take a whole number of 1 or more, not {self.threads}")
        if self.max_tokens < 8:
            raise SettingsError(f"max tokens takes 8 or more, not {self.max_tokens}")

    @classmethod
    def from_file(cls, gate_file: Path | None, **options) -> ExplainOptions:
        """With the gate's settings read (and checked) from `gate_file` now, not when the session starts."""
        gate = GateSettings.load(gate_file) if gate_file else GateSettings()
        return cls(gate=gate, gate_file=gate_file, **options)

    def as_dict(self) -> dict:
        return {**_plain(self), "gate": self.gate.as_dict()}


@dataclass(frozen=True)
class AudioOptions:
    enabled: bool = True
    device: str | None = None  # a microphone's name or index, for a camera; None: the default input
    fusion: FusionSettings = field(default_factory=FusionSettings)
    fusion_file: Path | None = None  # where `fusion` was read from; None: the packaged calibration

    @classmethod
    def from_file(cls, fusion_file: Path | None, **options) -> AudioOptions:
        fusion = FusionSettings.load(fusion_file) if fusion_file else FusionSettings()
        return cls(fusion=fusion, fusion_file=fusion_file, **options)


@dataclass(frozen=True)
class PipelineOptions:
    """Everything a pipeline is built from; the same for `analyze`, the window, the kiosk and the benches."""

    fast: FastPathOptions = field(default_factory=FastPathOptions)
    explain: ExplainOptions | None = None  # None: no explainer
    audio: AudioOptions | None = None  # None: the video alone
