"""`emolens export DIR --format csv|parquet|jsonl`: the per-frame table in the format a user's tools read."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from engines.errors import EmolensError
from export.frames_parquet import read_frames_table, write_frames_parquet
from export.line_file import readable_lines

FORMATS = ("csv", "parquet", "jsonl")


def export_frames(folder: Path, fmt: str, out: Path | None = None) -> tuple[Path, int]:
    """Writes the session's frames table as `fmt` (default: DIR/frames.<fmt>); returns the path and its rows."""
    if fmt not in FORMATS:
        raise EmolensError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    source = folder / "frames.csv"
    if not source.exists():
        raise EmolensError(f"{folder} has no frames.csv: not an emolens session folder")
    out = out or folder / f"frames.{fmt}"
    if out.is_dir():
        out = out / f"frames.{fmt}"
    if not out.parent.is_dir():
        raise EmolensError(
            f"cannot write {out}: the folder {out.parent} does not exist (make it, or give another --out)"
        )
    if fmt == "parquet":
        return out, write_frames_parquet(source, out)
    table = read_frames_table(source)  # checks every row, and leaves out a line a kill cut short
    tmp = out.with_name(out.name + ".tmp")
    if fmt == "csv":
        if out.resolve() != source.resolve():
            lines, _cut = readable_lines(source)
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            os.replace(tmp, out)
        return out, table.num_rows
    with open(tmp, "w", encoding="utf-8") as f:
        for row in table.to_pylist():
            f.write(json.dumps({k: _json_value(v) for k, v in row.items()}) + "\n")
    os.replace(tmp, out)
    return out, table.num_rows


def _json_value(v):
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    return v
