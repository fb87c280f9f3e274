"""`emolens devices`: the cameras and microphones this machine really has, or why there are none."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from engines.errors import EmolensError


def run(args: argparse.Namespace) -> int:
    from capture.devices import find_cameras, find_microphones

    if args.wait <= 0:
        raise EmolensError("--wait takes the seconds to wait for a camera's first frame, more than 0")
    cameras, no_camera = find_cameras(read_timeout_s=args.wait)
    microphones, no_microphone = find_microphones()
    if args.json:
        report = {
            "cameras": {"devices": [asdict(c) for c in cameras], "why_none": no_camera},
            "microphones": {"devices": [asdict(m) for m in microphones], "why_none": no_microphone},
        }
        print(json.dumps(report, indent=2))
        return 0
    print("cameras (give the number: emolens --source N, emolens analyze N --out DIR):")
    for c in cameras:
        print(f"  {c.index}  {c.name} ({c.path})")
    if no_camera:
        print(f"  none: {no_camera}")
    print("microphones (give the number or the name, with a camera: emolens analyze N --out DIR --mic M):")
    for m in microphones:
        default = ", the default" if m.default else ""
        api = f", {m.host_api}" if m.host_api else ""
        print(f"  {m.index}  {m.name} ({m.channels} channel(s), {m.sample_rate:.0f} Hz{api}{default})")
    if no_microphone:
        print(f"  none: {no_microphone}")
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "devices",
        help="list the cameras and microphones emolens can use, or why there are none",
        description="List the cameras (V4L2 /dev/video* nodes that deliver a frame now) with the index --source "
        "takes, and the microphones (PortAudio's input devices) with the index or name --mic takes. When there "
        "is none, say why. Exits 0 either way.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead, for scripts")
    p.add_argument(
        "--wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for each camera's first frame (default: 5)",
    )
    p.set_defaults(func=run)
    return p
