"""`emolens fit-gate`: the explanation gate's thresholds, fitted on recorded sessions."""

from __future__ import annotations

import argparse
from pathlib import Path

from engines.errors import EmolensError


def run(args: argparse.Namespace) -> int:
    import json

    from engines.slow.gate_fit import fit_gate, windows_of
    from export.frames_csv import read_frames_csv

    if not 0 < args.target <= 1:
        raise EmolensError("--target is a share of windows, between 0 and 1")
    sessions = [windows_of(read_frames_csv(path)) for path in args.frames]
    fit = fit_gate(sessions, args.target)
    fit["sessions"] = [str(p) for p in args.frames]
    args.out.write_text(json.dumps(fit, indent=2))
    r = fit["result"]
    verdict = "met" if fit["met"] else "NOT met: no setting explains every uncertain window within it"
    print(
        f"target {args.target:.0%} {verdict}: invokes on {r['invoked']} of {r['windows']} windows ({r['ratio']:.0%}), "
        f"explains {r['coverage']:.0%} of {r['must_explain']} uncertain window(s) -> {args.out}"
    )
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "fit-gate",
        help="fit the explanation gate's thresholds on recorded sessions",
        description="Replay recorded frames.csv files through the gate over a grid of thresholds and keep "
        "the settings that explain every window the fast path flagged uncertain while invoking the "
        "explainer on at most --target of all windows. Use the result with --gate FILE.",
    )
    p.add_argument("frames", nargs="+", type=Path, metavar="CSV", help="frames.csv files of recorded sessions")
    p.add_argument(
        "--target",
        type=float,
        default=0.25,
        metavar="SHARE",
        help="the largest share of windows the explainer may be invoked on, between 0 and 1 (default: 0.25)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("gate.json"),
        metavar="PATH",
        help="where to write the gate settings (default: gate.json)",
    )
    p.set_defaults(func=run)
    return p
