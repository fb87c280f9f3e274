"""`emolens analyze`: a video, an image or a camera into a session folder with a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.commands.options import (
    EXIT_NO_FACE,
    add_explainer_options,
    add_fast_path_options,
    explain_options,
    fast_options,
)
from engines.errors import EmolensError


def run(args: argparse.Namespace) -> int:
    from app.analyze import NoFaceFound, analyze
    from engines.pipeline import AudioOptions, PipelineOptions
    from export.key_frames import KeyFrameOptions

    if args.max_frames is not None and args.max_frames < 1:
        raise EmolensError("--max-frames takes 1 or more")
    if args.key_frames is not None and args.key_frames <= 0:
        raise EmolensError("--key-frames takes the seconds between key frames, > 0")
    if args.blur_faces and args.key_frames is None:
        raise EmolensError("--blur-faces blurs saved key frames: add --key-frames")
    key_frames = KeyFrameOptions(every_s=args.key_frames, blur=args.blur_faces) if args.key_frames else None
    options = PipelineOptions(  # settings files are read and checked here, before any folder is made
        fast=fast_options(args),
        explain=explain_options(args) if args.explain else None,
        audio=AudioOptions.from_file(args.fusion, enabled=args.audio, device=args.mic) if args.audio else None,
    )
    try:
        summary = analyze(
            args.input,
            args.out,
            options,
            max_frames=args.max_frames,
            show_progress=not args.quiet,
            realtime=args.realtime,
            key_frames=key_frames,
            replace_session=args.replace,
        )
    except NoFaceFound as exc:
        print(f"emolens: {exc}", file=sys.stderr)
        return EXIT_NO_FACE
    folder = Path(summary["folder"])
    print(
        f"{summary['frames_processed']} frames, {_people(summary)}, {summary['rows']} rows -> {folder / 'frames.csv'}"
    )
    if "explainer" in summary:
        e = summary["explainer"]
        print(
            f"{e['explanations']} explanation(s) for the {e['invoked']} of {e['windows']} windows the gate chose "
            f"({e['from_model']} by the model, {e['from_template']} by the template) -> "
            f"{args.out / 'explanations.jsonl'}"
        )
    print(f"report: {folder / 'report.html'}")
    if summary["status"] == "stopped":
        print(f"emolens: stopped by {summary['stopped_by']}; the session folder was closed as stopped", file=sys.stderr)
        return summary["exit_code"]
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "analyze",
        help="analyze a video, an image or a camera into a session folder with a report",
        description="Run the fast path over INPUT and write a session folder: frames.csv and frames.parquet "
        "(per frame and face), events.jsonl, explanations.jsonl, session.json (models, backend, versions) "
        "and report.html. See docs/session-format.md.",
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        help="a video file, an image file, or a camera index (0, 1, ...; see `emolens devices`)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="session folder to write")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (useful with a camera)")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar and no count of the explainer's last answers (notices and errors still print)",
    )
    p.add_argument("--replace", action="store_true", help="replace an earlier session in the --out folder")
    p.add_argument(
        "--realtime",
        action="store_true",
        help="play a video at its own frame rate and drop the frames the fast path cannot keep up with, as a "
        "camera would (default: every frame, as fast as it goes)",
    )
    g = p.add_argument_group("images (none unless asked for: a session folder holds numbers only)")
    g.add_argument(
        "--key-frames",
        type=float,
        metavar="SECONDS",
        help="save each face's most expressive moment every SECONDS as a JPEG crop in keyframes/",
    )
    g.add_argument("--blur-faces", action="store_true", help="pixelate the face in every saved key frame")
    g = p.add_argument_group("voice")
    g.add_argument(
        "--audio",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="voice cues from the file's sound track, or from the microphone with a camera (default: on)",
    )
    g.add_argument(
        "--mic",
        metavar="DEVICE",
        help="microphone name or index, with a camera; `emolens devices` lists them (default: the system's)",
    )
    g.add_argument("--fusion", type=Path, metavar="FILE", help="face/voice fusion settings from `emolens fit-fusion`")
    add_fast_path_options(p)
    add_explainer_options(p)
    p.set_defaults(func=run)
    return p


def _people(summary: dict) -> str:
    """'6 people (10 tracks)': people as re-identification found them, and the sightings they were seen in."""
    people, tracks = summary.get("people", summary["tracks"]), summary["tracks"]
    words = f"{people} {'person' if people == 1 else 'people'}"
    return words if people == tracks else f"{words} ({tracks} tracks)"
