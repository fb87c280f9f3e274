"""frames.csv: one row per frame and face, flushed at least every second so a killed run keeps its data."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from engines.contracts import EMOTIONS, FrameResult

COLUMNS = (
    ["time_s", "frame", "track_id", "detected", "det_score", "box_x1", "box_y1", "box_x2", "box_y2"]
    + [f"p_{e}" for e in EMOTIONS]
    + ["label", "uncertain", "margin", "entropy", "mouth_width", "mouth_drop", "roll_deg", "yaw"]
)


class FramesCsvWriter:
    """Probabilities are the smoothed ones the label is taken from; boxes are in source pixels."""

    def __init__(self, path: Path, flush_interval_s: float = 1.0):
        self.path = path
        self._file = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._csv = csv.writer(self._file)
        self._csv.writerow(COLUMNS)
        self.flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()
        self.rows = 0

    def write(self, result: FrameResult) -> None:
        for face in result.faces:
            c = face.cues
            self._csv.writerow(
                [f"{result.t:.4f}", result.index, face.track_id, int(face.detected), f"{face.det_score:.4f}"]
                + [f"{v:.1f}" for v in face.box]
                + [f"{p:.5f}" for p in face.probs]
                + [
                    face.label,
                    int(face.uncertain),
                    f"{face.margin:.4f}",
                    f"{face.entropy:.4f}",
                    f"{c.mouth_width:.4f}",
                    f"{c.mouth_drop:.4f}",
                    f"{c.roll_deg:.2f}",
                    f"{c.yaw:.4f}",
                ]
            )
            self.rows += 1
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self._file.flush()
            self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()
