"""`emolens fit-fusion`: the face/voice fusion's calibration, fitted on recorded sessions."""

from __future__ import annotations

import argparse
from pathlib import Path

from engines.errors import EmolensError


def run(args: argparse.Namespace) -> int:
    import json

    from engines.fusion import fit_fusion
    from export.session_reader import read_session

    if not 0 < args.target < 1:
        raise EmolensError("--target is a share of windows, between 0 and 1")
    records = []
    for folder in args.sessions:
        records += [e for e in read_session(folder).events if e.get("event") == "fusion"]
    fit = fit_fusion(records, args.target, tuple(str(f) for f in args.sessions))
    args.out.write_text(json.dumps(fit, indent=2))
    s = fit["settings"]
    print(
        f"{fit['windows_with_speech']} windows with speech: loudness {s['loudness_db'][0]} dBFS "
        f"(spread {s['loudness_db'][1]}), pitch {s['pitch_hz'][0]} Hz ({s['pitch_hz'][1]}), conflict above "
        f"{s['conflict_threshold']} ({fit['conflicts']} flagged) -> {args.out}"
    )
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "fit-fusion",
        help="fit the face/voice fusion's calibration and conflict threshold on recorded sessions",
        description="Read the `fusion` events of session folders recorded with sound, take each voice feature's "
        "median and robust spread over the windows with speech as the calibration of ordinary speech, and set "
        "the conflict threshold so that at most --target of those windows conflict. Use with --fusion FILE.",
    )
    p.add_argument("sessions", nargs="+", type=Path, metavar="DIR", help="session folders with sound")
    p.add_argument(
        "--target",
        type=float,
        default=0.05,
        metavar="SHARE",
        help="the share of speech windows that may be flagged as conflicting, between 0 and 1 (default: 0.05)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("fusion.json"),
        metavar="PATH",
        help="where to write the fusion settings (default: fusion.json)",
    )
    p.set_defaults(func=run)
    return p
