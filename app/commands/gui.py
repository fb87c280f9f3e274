"""`emolens gui` (and plain `emolens`): the desktop window."""

from __future__ import annotations

import argparse

from app.commands.options import add_app_options, add_backend_option, add_llm_option

KEYS = (
    "keys: Space starts and stops the session, R records, Ctrl+R opens the last recording's report, "
    "F full screen (F again to leave), Ctrl+, settings; click a face to select it."
)


def run(args: argparse.Namespace) -> int:
    from app.gui.launch import run_app

    return run_app(
        args.source,
        args.settings,
        start=args.start,
        explain=args.explain,
        backend=args.backend,
        llm=args.llm,
        fullscreen=args.fullscreen,
    )


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "gui",
        help="the desktop app (also what `emolens` alone opens)",
        description="Open the window: live video with face boxes and labels, emotion bars, a timeline, "
        "explanations. `emolens OPTIONS` (no command) is `emolens gui OPTIONS`.",
        epilog=KEYS,
    )
    add_app_options(p)
    p.add_argument("--start", action="store_true", help="start the session at once, as Space would")
    p.add_argument("--fullscreen", action="store_true", help="open full screen (F toggles it)")
    p.add_argument(
        "--explain",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="explanations by the local language model on or off (default: as in the settings; on at first)",
    )
    add_llm_option(p, default_text="as in the settings; emolens-explainer when the model folder has it")
    add_backend_option(p, default=None, note="; for this run, not saved in the settings")
    p.set_defaults(func=run)
    return p
