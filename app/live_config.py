"""What a live session is built from (`SessionConfig`) and what it tells the window (`SessionListener`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from engines.contracts import Evidence, Explained, Frame, FrameResult, SessionDescription, SessionState, SessionStats
from engines.pipeline import AudioOptions, ExplainOptions, FastPathOptions

MICROPHONE_ONLY = "voice cues come from a microphone with a camera (for a file's sound track, use emolens analyze)"


@dataclass(frozen=True)
class SessionConfig:
    source: str  # a camera index ("0"), a device path, or a video file
    camera: bool | None = None  # None: a digit or /dev/video* is a camera, anything else a file
    loop: bool = False  # a file starts again at its end, as a camera would go on
    pace: bool = True  # a file plays at its own frame rate; False: as fast as the fast path goes
    fast: FastPathOptions = FastPathOptions()
    explain: ExplainOptions | None = field(default_factory=ExplainOptions)  # None: no explainer (gate inside)
    retry_s: tuple[float, float] = (1.0, 8.0)  # first and longest wait before reopening a lost source
    audio: AudioOptions | None = None  # voice cues from a microphone, with a camera; None: video alone

    @property
    def is_camera(self) -> bool:
        if self.camera is not None:
            return self.camera
        return self.source.isdigit() or self.source.startswith("/dev/video")

    @property
    def microphone(self) -> AudioOptions | None:
        """The voice options the pipeline gets: a live session hears a microphone, and only with a camera."""
        return self.audio if self.audio is not None and self.audio.enabled and self.is_camera else None

    @property
    def endless(self) -> bool:
        """Whether the source's end means it was lost (and is retried) rather than finished."""
        return self.is_camera or self.loop


class SessionListener(Protocol):
    """What the window implements. Called on the session's thread (or the explainer's dispatch thread for tokens)."""

    def on_state(self, state: SessionState) -> None: ...
    def on_info(self, info: SessionDescription) -> None: ...
    def on_result(self, frame: Frame, result: FrameResult) -> None: ...
    def on_explanation(self, item: Explained) -> None: ...
    def on_token(self, evidence: Evidence, piece: str) -> None: ...
    def on_stats(self, stats: SessionStats) -> None: ...
