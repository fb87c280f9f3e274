"""The per-frame, per-face table (frames.csv / frames.parquet): every column, its type and its unit, in one place.

session.json carries this table's version and units; docs/session-format.md
describes each column, and a test checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.contracts import EMOTIONS

FRAMES_SCHEMA_VERSION = 2  # 2: latency_ms added; the Parquet copy


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # float | int | bool | str
    unit: str  # "" where the value has none (an index, a label)


_P = [Column(f"p_{e}", "float", "probability") for e in EMOTIONS]

FRAME_COLUMNS: tuple[Column, ...] = (
    Column("time_s", "float", "s"),
    Column("frame", "int", ""),
    Column("track_id", "int", ""),
    Column("detected", "bool", ""),
    Column("det_score", "float", "0-1"),
    Column("box_x1", "float", "px"),
    Column("box_y1", "float", "px"),
    Column("box_x2", "float", "px"),
    Column("box_y2", "float", "px"),
    *_P,
    Column("label", "str", ""),
    Column("uncertain", "bool", ""),
    Column("margin", "float", "probability"),
    Column("entropy", "float", "0-1"),
    Column("mouth_width", "float", "inter-ocular distances"),
    Column("mouth_drop", "float", "inter-ocular distances"),
    Column("roll_deg", "float", "deg"),
    Column("yaw", "float", "inter-ocular distances"),
    Column("latency_ms", "float", "ms"),
)

COLUMNS: tuple[str, ...] = tuple(c.name for c in FRAME_COLUMNS)


def schema_summary() -> dict:
    """What session.json says about the table: its version and each column's unit."""
    return {"version": FRAMES_SCHEMA_VERSION, "units": {c.name: c.unit for c in FRAME_COLUMNS if c.unit}}
