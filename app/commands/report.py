"""`emolens report`: a session folder's report.html (and a PDF)."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from export.report import write_report

    path = write_report(args.folder, args.out)
    print(f"report: {path}")
    if args.pdf:
        from export.report_pdf import write_report_pdf

        print(f"PDF: {write_report_pdf(args.folder, path.with_suffix('.pdf'))}")
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report",
        help="write report.html for a session folder",
        description="Write one self-contained HTML page (no script, nothing loaded from anywhere): per-person "
        "timelines, time under each label, a valence-like line, uncertain stretches, explanations, key frames "
        "if saved, speed and dropped frames, and the models and backend used.",
    )
    p.add_argument("folder", type=Path, metavar="DIR", help="a session folder (analyze --out, or a recording)")
    p.add_argument("--out", type=Path, metavar="PATH", help="where to write (default: DIR/report.html)")
    p.add_argument("--pdf", action="store_true", help="also write it as a PDF (A4) beside the HTML")
    p.set_defaults(func=run)
    return p
