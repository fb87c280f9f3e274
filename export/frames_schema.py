"""The per-frame, per-face table (frames.csv / frames.parquet): every column, its type and its unit, in one place.

session.json carries this table's version and units; docs/session-format.md
describes each column, and a test checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from engines.contracts import EMOTIONS, FacialActions

# 2: latency_ms added; the Parquet copy. 3: the face score and facial actions. 4: person_id
FRAMES_SCHEMA_VERSION = 4


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # float | int | bool | str
    unit: str  # "" where the value has none (an index, a label)


_P = [Column(f"p_{e}", "float", "probability") for e in EMOTIONS]
_SPACING = "% of eye spacing"
# The facial actions' columns (empty while a person's baseline is learned, or without the mesh).
ACTION_KINDS: dict[str, tuple[str, str]] = {
    "inner_brow_raise": ("float", _SPACING),
    "outer_brow_raise": ("float", _SPACING),
    "brow_lowering": ("float", _SPACING),
    "eye_opening_right": ("float", "% of usual"),
    "eye_opening_left": ("float", "% of usual"),
    "lid_tightening": ("float", _SPACING),
    "cheek_raise": ("float", _SPACING),
    "lip_corner_pull": ("float", _SPACING),
    "lip_stretch": ("float", _SPACING),
    "lips_parted": ("float", _SPACING),
    "jaw_drop": ("float", _SPACING),
    "lip_press": ("float", _SPACING),
    "blink": ("bool", ""),
    "blink_rate": ("float", "per minute"),
    "head_yaw_deg": ("float", "deg"),
    "head_pitch_deg": ("float", "deg"),
    "head_roll_deg": ("float", "deg"),
    "gaze_x": ("float", "-1 to 1"),
    "gaze_y": ("float", "-1 to 1"),
}

FRAME_COLUMNS: tuple[Column, ...] = (
    Column("time_s", "float", "s"),
    Column("frame", "int", ""),
    Column("track_id", "int", ""),
    Column("person_id", "int", ""),
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
    Column("face_score", "float", "0-1"),
    *(Column(f.name, *ACTION_KINDS[f.name]) for f in fields(FacialActions)),
    Column("action_label", "str", ""),
    Column("disagrees", "bool", ""),
)

COLUMNS: tuple[str, ...] = tuple(c.name for c in FRAME_COLUMNS)


def schema_summary() -> dict:
    """What session.json says about the table: its version and each column's unit."""
    return {"version": FRAMES_SCHEMA_VERSION, "units": {c.name: c.unit for c in FRAME_COLUMNS if c.unit}}
