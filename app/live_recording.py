"""LiveRecording: recording on and off during a live session, one session folder at a time.

Record can be switched at any frame; the kiosk keeps a folder a day, a session
folder in it for each start, and prunes old days. A write that fails (a full disk) stops the recording, not the
session: the folder keeps what was written and says so, and the window is told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from engines.contracts import Explained, Frame, FrameResult
from export.daily_rotation import DailyRotation
from export.key_frames import KeyFrameOptions
from export.session_recorder import RecordingError, SessionRecorder, new_session_folder


@dataclass(frozen=True)
class RecordingPlan:
    root: Path  # session folders go under it, one per recording
    daily: bool = False  # a new folder each day (the kiosk), older ones pruned
    keep_days: int = 30
    key_frames: KeyFrameOptions | None = None  # None: numbers only, no image written


class LiveRecording:
    def __init__(
        self,
        plan: RecordingPlan | None,
        wanted: bool,
        session_info: Callable[[], dict],
        on_failed: Callable[[str], None],
        today: Callable[[], date] = date.today,
    ):
        """`session_info`: what session.json records of the session when a folder opens (input, devices,
        backend, models, settings); `on_failed`: told why when a write fails and the recording stops."""
        self.plan = plan
        self.wanted = wanted and plan is not None
        self._info = session_info
        self._on_failed = on_failed
        self._rotation = DailyRotation(plan.root, plan.keep_days, today) if plan and plan.daily else None
        self._recorder: SessionRecorder | None = None
        self._day: date | None = None
        self.last_folder: Path | None = None  # the folder of the recording closed last

    @property
    def folder(self) -> Path | None:
        recorder = self._recorder
        return recorder.folder if recorder else None

    def sync(self) -> bool:
        """Opens or closes a folder as asked, and starts the next day's; True when a new day's folder began."""
        rotate = self._rotation is not None and self._recorder is not None and self._rotation.due(self._day)
        if self._recorder is not None and (not self.wanted or rotate):
            self.close("complete" if self.wanted else "recording stopped by user")
        if self.wanted and self._recorder is None:
            self._open()
        return rotate

    def _open(self) -> None:
        assert self.plan is not None
        if self._rotation is not None:
            self._rotation.prune()
        info = self._info()
        try:
            self._recorder = SessionRecorder(
                new_session_folder(self._rotation.day_folder() if self._rotation else self.plan.root),
                key_frames=self.plan.key_frames,
                **info,
            )
        except RecordingError as exc:
            self._failed(exc)
            return
        self._day = self._rotation.today() if self._rotation else None
        backend = (info.get("backend") or {}).get("name")
        self.event({"event": "recording_started", "folder": str(self._recorder.folder), "backend": backend})

    def event(self, record: dict) -> None:
        self._write(lambda r: r.event(record))

    def result(self, result: FrameResult, frame: Frame, dropped: int) -> None:
        self._write(lambda r: r.result(result, frame, dropped=dropped))

    def explanation(self, item: Explained) -> None:
        self._write(lambda r: r.explanation(item.explanation, item.evidence))

    def _write(self, write: Callable[[SessionRecorder], None]) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        try:
            write(recorder)
        except RecordingError as exc:
            self._failed(exc)

    def close(self, status: str, **counts) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close(status=status, last_event={"event": "recording_stopped", "status": status}, **counts)
            self.last_folder = recorder.folder
            if recorder.failed:
                self._on_failed(recorder.failed)

    def _failed(self, exc: RecordingError) -> None:
        """The recording stops with a clear line; the session and what was written stay."""
        self.wanted = False
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close(status=f"failed: {exc}")  # a no-op when the failed write closed it already
            self.last_folder = recorder.folder
        self._on_failed(str(exc))
