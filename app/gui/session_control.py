"""SessionControl: starts, stops and records live sessions for a window, and hands it their signals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal

from app.gui.preferences import Preferences
from app.gui.session_bridge import SessionBridge
from app.live_session import LiveSession, RecordingPlan, SessionConfig


class SessionControl(QObject):
    running_changed = pyqtSignal(bool)
    recording_changed = pyqtSignal(bool)

    def __init__(self, prefs: Preferences, kiosk: bool = False, parent: QObject | None = None):
        super().__init__(parent)
        self.prefs = prefs
        self.kiosk = kiosk
        self.bridge = SessionBridge(self)
        self.session: LiveSession | None = None
        self._last_recording: Path | None = None
        self.recording = prefs.kiosk_record if kiosk else prefs.record_on_start
        self.config_overrides: dict = {}  # tests and benchmarks: e.g. pace=False, retry_s=(0.2, 0.5)
        self.bridge.state_changed.connect(self._on_state)

    @property
    def running(self) -> bool:
        return self.session is not None and self.session.running

    def config(self) -> SessionConfig:
        p = self.prefs
        config = SessionConfig(
            source=p.source,
            loop=p.loop_file,
            fast=p.fast_options(),
            explain=p.explain_options(),
            audio=p.audio_options(),
        )
        return replace(config, **self.config_overrides)

    def recording_plan(self) -> RecordingPlan:
        p = self.prefs
        return RecordingPlan(
            p.recording_root(self.kiosk),
            daily=self.kiosk,
            keep_days=p.kiosk_keep_days,
            key_frames=p.key_frame_options(),
        )

    def start(self) -> None:
        if self.running:
            return
        feed = self.bridge.begin()  # anything the last session still has on its way is dropped from here on
        self.session = LiveSession(self.config(), feed, self.recording_plan(), record=self.recording).start()
        self.running_changed.emit(True)

    def stop(self, status: str = "complete") -> None:
        """`status`: the recording's; "stopped" when a signal ends the session rather than the user."""
        session, self.session = self.session, None
        if session is not None:
            self.bridge.end()  # a frame on its way is not painted over the cleared screen
            session.stop(status=status)
            self._last_recording = session.recording.last_folder or self._last_recording
            self.running_changed.emit(False)

    def toggle(self) -> None:
        self.stop() if self.running else self.start()

    def set_recording(self, on: bool) -> None:
        self.recording = on
        if self.session is not None:
            self.session.set_recording(on)
        self.recording_changed.emit(on)

    def last_report(self) -> Path | None:
        """report.html of the last recording that closed (written when it closed), if there is one."""
        folder = (self.session.recording.last_folder if self.session else None) or self._last_recording
        report = folder / "report.html" if folder else None
        return report if report and report.exists() else None

    @property
    def recording_folder(self) -> Path | None:
        return self.session.recording.folder if self.session else None

    def _on_state(self, state) -> None:
        if state.phase == "recording_failed":
            self.recording = False
            self.recording_changed.emit(False)
        elif state.phase in ("finished", "failed"):  # the session ended by itself
            self.running_changed.emit(False)
