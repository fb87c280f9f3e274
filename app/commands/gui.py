"""`emolens gui` (and plain `emolens`): the desktop window."""

from __future__ import annotations

import argparse

from app.commands.options import add_app_options


def run(args: argparse.Namespace) -> int:
    from app.gui.launch import run_app

    explain = None if args.explain is None else args.explain
    return run_app(args.source, args.settings, start=args.start, explain=explain)


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "gui",
        help="the desktop app (also what `emolens` alone opens)",
        description="Open the window: live video with face boxes and labels, emotion bars, a timeline, "
        "explanations. Space starts and stops, R records, F goes full screen.",
    )
    add_app_options(p)
    p.add_argument("--start", action="store_true", help="start the session at once")
    p.add_argument(
        "--explain",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="explanations by the local model on or off (default: as in the settings, on)",
    )
    p.set_defaults(func=run)
    return p
