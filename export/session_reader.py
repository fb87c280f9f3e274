"""Reads a session folder back, whole or cut short: what the report, `repair` and `export` start from.

Only complete lines count: a last line cut short by a kill or a full disk is
left out and noted, never an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.errors import EmolensError
from export.frames_schema import COLUMNS
from export.line_file import ends_cut_short, readable_lines


@dataclass
class SessionLog:
    folder: Path
    info: dict
    frames: dict[str, np.ndarray]  # column -> values, one entry per frame and face
    events: list[dict]
    explanations: list[dict]
    cut_short: list[str] = field(default_factory=list)  # files whose last line was incomplete

    @property
    def rows(self) -> int:
        return len(self.frames["time_s"]) if self.frames else 0

    @property
    def track_ids(self) -> list[int]:
        return sorted({int(t) for t in self.frames["track_id"]}) if self.rows else []

    def track(self, track_id: int) -> dict[str, np.ndarray]:
        keep = self.frames["track_id"] == track_id
        return {k: v[keep] for k, v in self.frames.items()}

    def _person_column(self) -> np.ndarray:
        """Each row's person as floats (NaN: not identified); a session from before people (schema 3 and
        earlier, no person_id at all) counts its tracks as people, as it did then."""
        persons = np.asarray(self.frames["person_id"], dtype=np.float64)
        if np.isnan(persons).all():
            return np.asarray(self.frames["track_id"], dtype=np.float64)
        return persons

    @property
    def person_ids(self) -> list[int]:
        if not self.rows:
            return []
        persons = self._person_column()
        return sorted({int(p) for p in persons[~np.isnan(persons)]})

    def person(self, person_id: int) -> dict[str, np.ndarray]:
        keep = self._person_column() == person_id
        return {k: v[keep] for k, v in self.frames.items()}

    @property
    def unidentified_rows(self) -> int:
        """Rows of faces whose track ended before the session could tell who they were."""
        return int(np.isnan(self._person_column()).sum()) if self.rows else 0


def read_session(folder: Path) -> SessionLog:
    if not folder.is_dir():
        raise EmolensError(f"{folder} is not a folder; give the session folder `emolens analyze --out` or Record wrote")
    info_path = folder / "session.json"
    if not info_path.exists():
        if (folder / "events.jsonl").exists() or (folder / "frames.csv").exists():
            raise EmolensError(f"{folder} has no session.json; `emolens repair {folder}` rebuilds it from the logs")
        raise EmolensError(f"{folder} has no session.json: it is not an emolens session folder")
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as exc:
        raise EmolensError(f"{info_path} is unreadable ({exc}); `emolens repair {folder}` rebuilds it") from exc
    cut: list[str] = []
    events = _jsonl(folder / "events.jsonl", cut)
    explanations = _jsonl(folder / "explanations.jsonl", cut)
    frames = _frames(folder / "frames.csv", cut)
    return SessionLog(folder, info, frames, events, explanations, cut)


def _jsonl(path: Path, cut: list[str]) -> list[dict]:
    if not path.exists():
        return []
    lines, partial = readable_lines(path)
    if partial:
        cut.append(path.name)
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            raise EmolensError(f"{path}, line {number}: not JSON ({exc})") from exc
    return records


def _frames(path: Path, cut: list[str]) -> dict[str, np.ndarray]:
    from export.frames_parquet import _pyarrow, frames_chunks, frames_schema

    pa = _pyarrow()

    if not path.exists() or path.stat().st_size == 0:
        return {}
    if ends_cut_short(path):
        cut.append(path.name)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in COLUMNS}

    def keep(chunk) -> None:  # of each block, only the columns the report reads
        for name in COLUMNS:
            column = chunk.column(name)
            if pa.types.is_string(column.type):  # a label a row: a few strings shared, not a new one each row
                encoded = column.combine_chunks().dictionary_encode()
                words = np.array(encoded.dictionary.to_pylist(), dtype=object)
                parts[name].append(words[encoded.indices.to_numpy(zero_copy_only=False)])
            else:
                parts[name].append(column.to_numpy(zero_copy_only=False))

    for chunk in frames_chunks(path):
        keep(chunk)
    if not parts[COLUMNS[0]]:
        keep(frames_schema().empty_table())
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}
