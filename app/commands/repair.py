"""`emolens repair`: finish a session folder that did not close."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from export.repair import repair_session

    r = repair_session(args.folder)
    cut = ", ".join(f"{name} ({n} bytes)" for name, n in r["cut_bytes"].items()) or "nothing"
    state = (
        "was closed already; rebuilt" if r["closed_already"] else f"was {r['status_before']!r}; closed as interrupted"
    )
    print(f"{args.folder}: {state}; {r['rows']} rows, {r['explanations']} explanations kept; cut half-written: {cut}")
    print(f"wrote {args.folder / 'frames.parquet'} and {args.folder / 'report.html'}")
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "repair",
        help="finish a session folder that did not close (killed, power cut, full disk)",
        description="Cut a last line left half-written, count what the logs hold, close session.json as "
        "interrupted, and build frames.parquet and report.html from what was flushed.",
    )
    p.add_argument("folder", type=Path, metavar="DIR", help="the session folder to finish (it is changed in place)")
    p.set_defaults(func=run)
    return p
