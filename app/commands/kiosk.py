"""`emolens kiosk`: full screen, unattended, behind a PIN."""

from __future__ import annotations

import argparse

from app.commands.options import add_app_options


def run(args: argparse.Namespace) -> int:
    from app.gui.launch import run_kiosk, set_kiosk_pin

    if args.set_pin:
        path = set_kiosk_pin(args.settings)
        print(f"kiosk PIN set (stored hashed in {path})")
        return 0
    return run_kiosk(args.source, args.settings)


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "kiosk",
        help="full-screen unattended mode; exit and settings need the PIN",
        description="Full screen with no window controls; the session starts by itself and recovers when "
        "the camera goes and comes back. Esc asks for the PIN to exit, Ctrl+, for the settings. Logs "
        "(numbers only, no images) go to a folder a day. Set the PIN first with --set-pin.",
    )
    add_app_options(p)
    p.add_argument("--set-pin", action="store_true", help="set the kiosk PIN (asked twice, stored hashed) and exit")
    p.set_defaults(func=run)
    return p
