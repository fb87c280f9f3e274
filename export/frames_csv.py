"""frames.csv: one row per frame and face, flushed at least every second so a killed run keeps its data."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engines.contracts import EMOTIONS, FrameResult, LandmarkCues
from engines.errors import EmolensError
from engines.slow.evidence import FaceSample

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


def read_frames_csv(path: Path) -> Iterator[tuple[float, list[FaceSample]]]:
    """Replays a recorded frames.csv as (time, faces) per frame, in the form the slow path takes live."""
    try:
        f = open(path, newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise EmolensError(f"cannot read {path}: {exc.strerror}") from exc
    with f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise EmolensError(f"{path} is not an emolens frames.csv (missing columns: {', '.join(sorted(missing))})")
        rows = list(reader)
        frame_t, faces = None, []
        for line, row in enumerate(rows, start=2):
            try:
                t = float(row["time_s"])
                sample = FaceSample(
                    t=t,
                    track_id=int(row["track_id"]),
                    probs=np.array([float(row[f"p_{e}"]) for e in EMOTIONS]),
                    uncertain=row["uncertain"] == "1",
                    margin=float(row["margin"]),
                    entropy=float(row["entropy"]),
                    cues=LandmarkCues(*(float(row[c]) for c in ("mouth_width", "mouth_drop", "roll_deg", "yaw"))),
                )
            except (TypeError, ValueError) as exc:
                if line == len(rows) + 1:
                    break  # a last line cut short by a killed run: keep everything before it
                raise EmolensError(f"{path}, line {line}: unreadable row ({exc})") from exc
            if frame_t is not None and t != frame_t:
                yield frame_t, faces
                faces = []
            frame_t = t
            faces.append(sample)
        if faces:
            yield frame_t, faces
