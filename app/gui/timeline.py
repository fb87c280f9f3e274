"""TimelinePlot: the selected face's seven smoothed probabilities over the last minute, with explanation marks.

A line is only drawn between two moments the face was seen: where it was out of
view (longer than GAP_S), the curves break rather than join the gap straight.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.gui.palette import BACKGROUND, EMOTION_COLORS
from engines.contracts import EMOTIONS, FrameResult

GAP_S = 0.5  # a face unseen for longer than this was out of view (a paced camera delivers 10+ frames a second)


def broken_at_gaps(t: np.ndarray, values: np.ndarray, gap_s: float = GAP_S) -> tuple[np.ndarray, np.ndarray]:
    """The points with a NaN row put in each gap longer than `gap_s`, so a curve drawn with
    connect="finite" stops there."""
    gaps = np.flatnonzero(np.diff(t) > gap_s) + 1
    if not len(gaps):
        return t, values
    t = np.insert(t, gaps, np.nan)
    values = np.insert(values, gaps, np.nan, axis=0)
    return t, values


class TimelinePlot(QWidget):
    def __init__(self, span_s: float = 60.0, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background=BACKGROUND)
        self.legend = QLabel("  ".join(f'<span style="color:{EMOTION_COLORS[e]}">&#9644; {e}</span>' for e in EMOTIONS))
        self.title = QLabel("Timeline: no face selected")
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.legend)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.plot, 1)
        self.span_s = span_s
        self.selected: int | None = None
        self._history: dict[int, deque[tuple[float, np.ndarray]]] = {}
        self._marks: dict[int, list[float]] = {}
        self._mark_items: list[pg.InfiniteLine] = []
        self._dirty = False
        self._closed = False
        plot = self.plot.getPlotItem()
        plot.setLabel("bottom", "session time", units="s")
        plot.setLabel("left", "probability")
        plot.enableAutoRange(axis="y", enable=False)
        plot.setYRange(0, 1.02, padding=0)
        plot.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]])
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        self.curves = {
            e: plot.plot([], [], pen=pg.mkPen(EMOTION_COLORS[e], width=2), name=e, connect="finite") for e in EMOTIONS
        }

    def add(self, result: FrameResult) -> None:
        """Keeps every face's history (cheap), so choosing another face shows its past at once."""
        for face in result.faces:
            if face.person_id is None:
                continue
            track = self._history.setdefault(face.person_id, deque())
            track.append((result.t, face.probs))
            while track and result.t - track[0][0] > self.span_s:
                track.popleft()
        for person_id in [k for k, v in self._history.items() if v and result.t - v[-1][0] > self.span_s]:
            del self._history[person_id]
        self._dirty = True

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """The plot is hidden at once and deleted by Qt between events, view and scene together. Clearing
        pyqtgraph's scene here instead (its `close()`) left events already queued for its items (the hover of
        a window just shown, then closed by SIGTERM) aimed at deleted items: a segfault, 2 runs in 12; and a
        plot left to the window's own teardown drew a deleted axis once (a paint queued in between)."""
        self._closed = True
        for widget in (self.plot, self.plot.viewport()):  # no paint reaches it again, whatever is queued
            widget.setUpdatesEnabled(False)
        self.plot.hide()
        self.plot.deleteLater()
        super().closeEvent(event)

    def clear(self) -> None:
        """A new session: nothing of the last one stays (its track numbers mean other people now)."""
        self._history.clear()
        self._marks.clear()
        self.selected = -1  # so that select(None) below redraws
        self.select(None)
        if not self._closed:
            self.plot.setXRange(0, 10, padding=0.01)

    def mark(self, person_id: int, t: float) -> None:
        self._marks.setdefault(person_id, []).append(t)
        self._dirty = True

    def select(self, person_id: int | None) -> None:
        if person_id != self.selected:
            self.selected = person_id
            self.title.setText(
                f"Timeline: face #{person_id}" if person_id is not None else "Timeline: no face selected"
            )
            self._dirty = True
            self.refresh()

    def points(self) -> int:
        """Points drawn for the selected face."""
        return len(self._history.get(self.selected, ())) if self.selected is not None else 0

    def refresh(self) -> None:
        """Redraws when something changed; the window calls it on a timer, not per frame."""
        if not self._dirty or self._closed:
            return
        self._dirty = False
        history = self._history.get(self.selected) if self.selected is not None else None
        if not history:
            for curve in self.curves.values():
                curve.setData([], [])
            for item in self._mark_items:
                self.plot.removeItem(item)
            self._mark_items = []
            return
        t = np.fromiter((p[0] for p in history), float, len(history))
        drawn_t, probs = broken_at_gaps(t, np.stack([p[1] for p in history]))
        for i, emotion in enumerate(EMOTIONS):
            self.curves[emotion].setData(drawn_t, probs[:, i])
        for item in self._mark_items:
            self.plot.removeItem(item)
        self._mark_items = []
        for when in self._marks.get(self.selected, []):
            if t[0] <= when <= t[-1] + 1:
                line = pg.InfiniteLine(
                    when, angle=90, pen=pg.mkPen("#ffffff", width=1, style=pg.QtCore.Qt.PenStyle.DotLine)
                )
                self.plot.addItem(line)
                self._mark_items.append(line)
        self.plot.setXRange(max(t[-1] - self.span_s, t[0]), t[-1], padding=0.01)
