"""LiveRates: the status bar's figures over the last second of a live session."""

from __future__ import annotations

import statistics
import time
from collections import deque

from engines.contracts import FrameResult, SessionStats


class LiveRates:
    """Frames captured and processed per second, and each fast-path stage's median ms, over the last second;
    `tick` answers twice a second."""

    def __init__(self, every_s: float = 0.5, span_s: float = 1.0):
        self.every_s = every_s
        self.span_s = span_s
        self.window: deque[tuple[float, dict[str, float]]] = deque()
        self._due = 0.0
        self._captured_at_last = 0

    def tick(self, result: FrameResult, processed: int, dropped: int, live: bool, **more) -> SessionStats | None:
        """The stats when due (`more`: the explainer's state and the recording folder), else None."""
        now = time.monotonic()
        self.window.append((now, result.latency_ms))
        while self.window and now - self.window[0][0] > self.span_s:
            self.window.popleft()
        if now < self._due:
            return None
        self._due = now + self.every_s
        span = max(now - self.window[0][0], 1e-3) if len(self.window) > 1 else 1.0
        processed_fps = (len(self.window) - 1) / span if len(self.window) > 1 else 0.0
        captured = processed + dropped
        capture_fps = processed_fps
        if live and self._captured_at_last:
            capture_fps = (captured - self._captured_at_last) / self.every_s
        self._captured_at_last = captured
        # a stage that runs on some frames only (the detector) is summarised over the frames it ran on
        latency = {
            k: round(statistics.median([lat[k] for _, lat in self.window if lat.get(k, 0.0) > 0] or [0.0]), 2)
            for k in self.window[-1][1]
        }
        return SessionStats(
            capture_fps=round(capture_fps, 1),
            processed_fps=round(processed_fps, 1),
            dropped=dropped,
            latency_ms=latency,
            faces=len(result.faces),
            **more,
        )
