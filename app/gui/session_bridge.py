"""SessionBridge: the live session's callbacks turned into Qt signals for the window's thread.

Frames use a slot of one, as the capture does: when the window is slower than
the fast path, it paints the newest result and never works through a backlog
of queued signals.
"""

from __future__ import annotations

import threading

from PyQt6.QtCore import QObject, pyqtSignal

from engines.contracts import Evidence, Explained, Frame, FrameResult, SessionDescription, SessionState, SessionStats


class SessionBridge(QObject):
    frame_ready = pyqtSignal()  # take the newest with `latest()`
    state_changed = pyqtSignal(object)  # SessionState
    info_ready = pyqtSignal(object)  # SessionDescription
    explained = pyqtSignal(object)  # Explained
    token = pyqtSignal(int, object, str)  # track id, window, piece
    stats = pyqtSignal(object)  # SessionStats

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest: tuple[Frame, FrameResult] | None = None
        self.results_received = 0
        self.results_skipped = 0  # newer results arrived before the window painted these

    def latest(self) -> tuple[Frame, FrameResult] | None:
        with self._lock:
            latest, self._latest = self._latest, None
            return latest

    def take(self, selected: int | None) -> tuple[Frame, FrameResult, int | None] | None:
        """The newest frame and result, and the face to show in detail: `selected` while it is in view,
        else the lowest track ID present."""
        latest = self.latest()
        if latest is None:
            return None
        frame, result = latest
        ids = [f.track_id for f in result.faces]
        return frame, result, (selected if selected in ids or not ids else min(ids))

    # SessionListener, called on the session's threads
    def on_result(self, frame: Frame, result: FrameResult) -> None:
        with self._lock:
            pending = self._latest is not None
            self.results_skipped += pending
            self.results_received += 1
            self._latest = (frame, result)
        if not pending:
            self.frame_ready.emit()

    def on_state(self, state: SessionState) -> None:
        self.state_changed.emit(state)

    def on_info(self, info: SessionDescription) -> None:
        self.info_ready.emit(info)

    def on_explanation(self, item: Explained) -> None:
        self.explained.emit(item)

    def on_token(self, evidence: Evidence, piece: str) -> None:
        self.token.emit(evidence.track_id, evidence.window, piece)

    def on_stats(self, stats: SessionStats) -> None:
        self.stats.emit(stats)
