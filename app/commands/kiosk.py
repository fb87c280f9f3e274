"""`emolens kiosk`: full screen, unattended, behind a PIN."""

from __future__ import annotations

import argparse

from app.commands.options import add_app_options


def run(args: argparse.Namespace) -> int:
    from app.gui.launch import forget_kiosk_pin, run_kiosk, set_kiosk_pin

    if args.forget_pin:
        path = forget_kiosk_pin(args.settings)
        print(f"kiosk PIN removed from {path}; set a new one: emolens kiosk --set-pin")
        return 0
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
        "(numbers only, no images) go to a folder a day. Set the PIN first with --set-pin. Five wrong PINs lock "
        "every prompt for 30 s, then 1 min, 5 min, 15 min, 1 h, across restarts. SIGTERM or SIGINT (a service "
        "manager's stop) closes it without the PIN, its log closed as stopped.",
    )
    add_app_options(p)
    p.add_argument(
        "--set-pin",
        action="store_true",
        help="set the kiosk PIN and exit: the current PIN first when one is set, then the new one twice "
        "(stored hashed)",
    )
    p.add_argument(
        "--forget-pin",
        action="store_true",
        help="a forgotten PIN: remove it and its lockout from the settings file (only the account that owns "
        "the file can), then set a new one with --set-pin",
    )
    p.set_defaults(func=run)
    return p
