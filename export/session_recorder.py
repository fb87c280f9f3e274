"""SessionRecorder: one session folder written as a live session goes (the app's Record button, the kiosk).

The folder is the one `emolens analyze` writes: session.json, events.jsonl,
frames.csv and explanations.jsonl. Numbers only: no frame or face crop is written.
A write that fails (a full disk, a removed drive) stops the recording, not the session.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

from engines.contracts import Evidence, Explanation, FrameResult
from engines.errors import EmolensError
from export.explanation_records import explanation_record
from export.frames_csv import FramesCsvWriter
from export.jsonl_log import JsonlLog
from export.session_info import SessionInfo


class RecordingError(EmolensError):
    """The session folder cannot be written; the recording stops, what was written stays."""


class SessionRecorder:
    def __init__(self, folder: Path, **info):
        """`folder` must be new: a recording never overwrites another (see `new_session_folder`)."""
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.session = SessionInfo(folder / "session.json", **info)
            self.events = JsonlLog(folder / "events.jsonl")
            self.frames = FramesCsvWriter(folder / "frames.csv")
            self.explanations = JsonlLog(folder / "explanations.jsonl")
        except OSError as exc:
            raise RecordingError(f"cannot record to {folder}: {exc.strerror or exc}") from exc
        self.frames_written = 0
        self.closed = False

    def event(self, record: dict) -> None:
        self._guard(self.events.write, record)

    def result(self, result: FrameResult) -> None:
        self._guard(self.frames.write, result)
        self.frames_written += 1

    def explanation(self, explanation: Explanation, evidence: Evidence) -> None:
        self._guard(self.explanations.write, explanation_record(explanation, evidence))

    def _guard(self, write, item) -> None:
        try:
            write(item)
        except OSError as exc:
            raise RecordingError(f"recording to {self.folder} stopped: {exc.strerror or exc}") from exc

    def close(self, status: str = "complete", **counts) -> None:
        if self.closed:
            return
        self.closed = True
        for closer in (self.frames.close, self.explanations.close, self.events.close):
            with contextlib.suppress(OSError):  # the disk is gone; what was flushed stays readable
                closer()
        with contextlib.suppress(OSError):
            self.session.finish(status=status, counts={"frames_recorded": self.frames_written, **counts})


def new_session_folder(root: Path, now: datetime | None = None) -> Path:
    """root/YYYY-MM-DD_HHMMSS, with a suffix when a folder of that second exists already."""
    stamp = (now or datetime.now()).strftime("%Y-%m-%d_%H%M%S")
    folder = root / stamp
    n = 2
    while folder.exists():
        folder = root / f"{stamp}-{n}"
        n += 1
    return folder
