"""SessionBridge: the live session's callbacks turned into Qt signals for the window's thread.

Frames use a slot of one, as the capture does: when the window is slower than
the fast path, it paints the newest result and never works through a backlog
of queued signals. Each session gets its own feed (`begin`): what a stopped
session said last, still queued when the next one starts (a source switched),
is dropped on arrival, so the screen never mixes two sessions.
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
    _arrived = pyqtSignal(int, str, object)  # from a session's threads: its feed's number, what, the payload

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest: tuple[Frame, FrameResult] | None = None
        self.generation = 0
        self._frames_open = False
        self.results_received = 0
        self.results_skipped = 0  # newer results arrived before the window painted these
        self._arrived.connect(self._deliver)  # queued: the bridge lives on the window's thread

    def begin(self) -> SessionFeed:
        """The listener for a new session; from now on, only it reaches the window."""
        with self._lock:
            self.generation += 1
            self._latest = None
            self._frames_open = True
            return SessionFeed(self, self.generation)

    def end(self) -> None:
        """The user stopped the session: no frame or rate of it is shown from now on (its last states and
        explanations still arrive)."""
        with self._lock:
            self._frames_open = False
            self._latest = None

    def latest(self) -> tuple[Frame, FrameResult] | None:
        with self._lock:
            latest, self._latest = self._latest, None
            return latest

    def take(self, selected: int | None) -> tuple[Frame, FrameResult, int | None] | None:
        """The newest frame and result, and the face to show in detail: `selected` while it is in view,
        else the lowest person number present."""
        latest = self.latest()
        if latest is None:
            return None
        frame, result = latest
        ids = [f.person_id for f in result.faces if f.person_id is not None]
        return frame, result, (selected if selected in ids or not ids else min(ids))

    def _result(self, generation: int, frame: Frame, result: FrameResult) -> None:
        with self._lock:
            if generation != self.generation or not self._frames_open:
                return
            pending = self._latest is not None
            self.results_skipped += pending
            self.results_received += 1
            self._latest = (frame, result)
        if not pending:
            self._arrived.emit(generation, "frame", None)

    def _deliver(self, generation: int, kind: str, payload) -> None:
        if generation != self.generation:  # a stopped session's last words
            return
        if kind in ("frame", "stats") and not self._frames_open:
            return  # after Stop: no picture, and no rates for a session that no longer runs
        if kind == "frame":
            self.frame_ready.emit()
        elif kind == "token":
            self.token.emit(*payload)
        else:
            getattr(self, kind).emit(payload)


class SessionFeed:
    """One session's SessionListener, called on the session's threads; it stamps what it hands over."""

    def __init__(self, bridge: SessionBridge, generation: int):
        self._bridge = bridge
        self._generation = generation

    def on_result(self, frame: Frame, result: FrameResult) -> None:
        self._bridge._result(self._generation, frame, result)

    def on_state(self, state: SessionState) -> None:
        self._bridge._arrived.emit(self._generation, "state_changed", state)

    def on_info(self, info: SessionDescription) -> None:
        self._bridge._arrived.emit(self._generation, "info_ready", info)

    def on_explanation(self, item: Explained) -> None:
        self._bridge._arrived.emit(self._generation, "explained", item)

    def on_token(self, evidence: Evidence, piece: str) -> None:
        self._bridge._arrived.emit(self._generation, "token", (evidence.track_id, evidence.window, piece))

    def on_stats(self, stats: SessionStats) -> None:
        self._bridge._arrived.emit(self._generation, "stats", stats)
