"""`emolens explain`: explain a recorded session offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands.options import add_explainer_options, explain_options


def run(args: argparse.Namespace) -> int:
    from app.explain import explain_recorded

    out = args.out or args.frames.parent
    summary = explain_recorded(args.frames, out, explain_options(args))
    print(
        f"{summary['invoked']} of {summary['windows']} windows explained "
        f"({summary['from_model']} by the model) -> {summary['path']}"
    )
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "explain",
        help="explain a recorded session (frames.csv) offline",
        description="Replay a session's frames.csv through the gate and explain the windows it picks, "
        "as `analyze --explain` would have; writes explanations.jsonl and explain-events.jsonl.",
    )
    p.add_argument("--frames", type=Path, required=True, metavar="CSV", help="a frames.csv written by emolens")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write; a folder that already has an explanations.jsonl is refused (default: the CSV's folder)",
    )
    add_explainer_options(p, switch=False)
    p.set_defaults(func=run)
    return p
