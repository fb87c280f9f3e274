"""`emolens export`: a session's frames table as CSV, Parquet or JSON Lines."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from export.formats import export_frames

    path, rows = export_frames(args.folder, args.format, args.out)
    print(f"{rows} rows -> {path}")
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export",
        help="write a session's per-frame table as CSV, Parquet or JSON Lines",
        description="Write the frames table (one row per frame and face; columns in docs/session-format.md) "
        "in the format your tools read.",
    )
    p.add_argument("folder", type=Path, metavar="DIR", help="a session folder (analyze --out, or a recording)")
    p.add_argument(
        "--format",
        required=True,
        choices=["csv", "parquet", "jsonl"],
        metavar="FORMAT",
        help="csv, parquet or jsonl (JSON Lines: one object per row)",
    )
    p.add_argument("--out", type=Path, metavar="PATH", help="file or folder to write (default: DIR/frames.FORMAT)")
    p.set_defaults(func=run)
    return p
