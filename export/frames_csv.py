"""frames.csv: one row per frame and face, flushed at least every second so a killed run keeps its data."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engines.contracts import EMOTIONS, FacialActions, FrameResult, LandmarkCues
from engines.errors import EmolensError
from engines.slow.evidence import FaceSample
from export.frames_schema import ACTION_KINDS, COLUMNS
from export.line_file import LineFile

ACTION_COLUMNS = tuple(ACTION_KINDS)


class FramesCsvWriter:
    """Probabilities are the smoothed ones the label is taken from; boxes are in source pixels.

    Rows wait in memory until `flush()` (the recorder's flusher calls it every half second), and are written
    whole, so a killed run leaves a readable file.
    """

    def __init__(self, path: Path):
        self.path = path
        self._file = LineFile(path)
        self._file.append(",".join(COLUMNS))
        self._file.flush()  # a run killed before its first row still leaves a readable, empty table
        self.rows = 0

    def write(self, result: FrameResult) -> None:
        total_ms = f"{result.latency_ms.get('total', 0.0):.2f}"
        for face in result.faces:
            c = face.cues
            self._file.append(
                ",".join(
                    [
                        f"{result.t:.4f}",
                        str(result.index),
                        str(face.track_id),
                        _cell(face.person_id),
                        str(int(face.detected)),
                    ]
                    + [f"{face.det_score:.4f}"]
                    + [f"{v:.1f}" for v in face.box]
                    + [f"{p:.5f}" for p in face.probs]
                    + [face.label, str(int(face.uncertain)), f"{face.margin:.4f}", f"{face.entropy:.4f}"]
                    + [f"{c.mouth_width:.4f}", f"{c.mouth_drop:.4f}", f"{c.roll_deg:.2f}", f"{c.yaw:.4f}", total_ms]
                    + ["" if face.face_score is None else f"{face.face_score:.4f}"]
                    + _action_cells(face.actions)
                    + [face.action_label or "", str(int(face.disagrees))]
                )
            )
            self.rows += 1

    @property
    def rows_on_disk(self) -> int:
        return max(0, self._file.lines_on_disk - 1)  # the header is the first line

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)


def _action_cells(actions: FacialActions | None) -> list[str]:
    """Empty cells while there are none (no mesh, or the person's baseline still being learned)."""
    if actions is None:
        return [""] * len(ACTION_COLUMNS)
    cells = []
    for name in ACTION_COLUMNS:
        value = getattr(actions, name)
        cells.append("" if value is None else str(int(value)) if isinstance(value, bool) else f"{value:g}")
    return cells


def actions_from_row(row: dict[str, str]) -> FacialActions | None:
    """A row's facial actions, or None where its cells are empty (or the file predates them)."""
    if not row.get("inner_brow_raise"):
        return None
    values = {}
    for name, (kind, _) in ACTION_KINDS.items():
        cell = row.get(name, "")
        values[name] = None if cell == "" else cell == "1" if kind == "bool" else float(cell)
    return FacialActions(**values)


def read_frames_csv(path: Path) -> Iterator[tuple[float, list[FaceSample]]]:
    """Replays a recorded frames.csv as (time, faces) per frame, in the form the slow path takes live."""
    try:
        f = open(path, newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise EmolensError(f"cannot read {path}: {exc.strerror}") from exc
    with f:
        reader = csv.DictReader(f)
        later = {"latency_ms", "face_score", *ACTION_COLUMNS, "action_label", "disagrees", "person_id"}  # 1-3 lack
        missing = set(COLUMNS) - later - set(reader.fieldnames or ())
        if missing:
            raise EmolensError(f"{path} is not an emolens frames.csv (missing columns: {', '.join(sorted(missing))})")
        rows = list(reader)
        frame_t, faces = None, []
        for line, row in enumerate(rows, start=2):
            if row.get("person_id") == "":
                continue  # a face whose person was not known yet: live, the slow path did not see it either
            try:
                t = float(row["time_s"])
                sample = FaceSample(
                    t=t,
                    track_id=int(row["person_id"] if "person_id" in row else row["track_id"]),  # schema 4: person
                    probs=np.array([float(row[f"p_{e}"]) for e in EMOTIONS]),
                    uncertain=row["uncertain"] == "1",
                    margin=float(row["margin"]),
                    entropy=float(row["entropy"]),
                    cues=LandmarkCues(*(float(row[c]) for c in ("mouth_width", "mouth_drop", "roll_deg", "yaw"))),
                    actions=actions_from_row(row),
                    action_label=row.get("action_label") or None,
                    disagrees=row.get("disagrees") == "1",
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
