"""`emolens batch`: many videos into one session folder each and one dataset, on worker processes."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from app.commands.options import add_explainer_options, add_fast_path_options, explain_options, fast_options

EXIT_SOME_FAILED = 1


def run(args: argparse.Namespace) -> int:
    from app.batch.inputs import expand_inputs
    from app.batch.runner import BatchRun
    from engines.errors import EmolensError
    from engines.pipeline import AudioOptions, PipelineOptions
    from export.counted_words import counted

    if args.workers is None:
        cores = os.cpu_count() or 1
        args.workers = max(1, cores // 2) if args.explain else cores
    if args.workers < 1:
        raise EmolensError("--workers takes 1 or more")
    options = PipelineOptions(
        fast=fast_options(args),
        explain=explain_options(args) if args.explain else None,
        audio=AudioOptions.from_file(args.fusion, enabled=True) if args.audio else None,
    )
    repeated: list[Path] = []
    unreadable: list[str] = []
    inputs = expand_inputs(args.inputs, repeated, unreadable)
    if repeated:
        print(
            f"emolens: {counted(len(repeated), 'input')} named more than once (by another path or a link), analysed "
            f"once: {_some([str(p) for p in repeated])}",
            file=sys.stderr,
        )
    if unreadable:
        print(
            f"emolens: {counted(len(unreadable), 'folder')} could not be searched, so their videos are not among "
            f"the inputs: {_some(unreadable)}",
            file=sys.stderr,
        )
    run = BatchRun(args.out, inputs, options, args.workers, not args.quiet, ray_address=args.ray)
    info = run.run()
    for s in (signal.SIGTERM, signal.SIGINT):  # all is written: a late signal would only turn its exit status false
        signal.signal(s, signal.SIG_IGN)
    if run.removed_parts or run.removed_other:
        kept = [s for s in run.removed_parts if (run.root / "sessions" / s).is_dir()]
        taken = [counted(len(run.removed_parts), "session")] if run.removed_parts else []
        taken += [counted(len(run.removed_other), "other entry", "other entries")] if run.removed_other else []
        print(
            f"emolens: took {' and '.join(taken)} out of the dataset, not among these inputs "
            f"({_some(run.removed_parts + run.removed_other)})"
            + (f"; {'their folders stay' if len(kept) > 1 else 'its folder stays'} in {run.root / 'sessions'}"
               if kept else ""),
            file=sys.stderr,
        )  # fmt: skip
    counts, rows = info["counts"], info["dataset"]["rows"]
    others = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status != "complete")
    has_parts = any((run.root / "dataset").glob("session=*/*.parquet"))
    no_dataset = "no complete session, so no dataset"
    dataset = f"{counted(rows, 'row')} in {info['dataset']['path']}" if has_parts else no_dataset
    print(
        f"{counts.get('complete', 0)} of {info['inputs']} complete ({info['skipped']} done by an earlier run)"
        + (f", {others}" if others else "")
        + "; "
        + dataset
    )
    for s in info["sessions"]:
        if s["status"] != "complete" or s.get("reason"):  # a complete one may be short of frames, or of faces
            print(f"  {s['status']}: {s['input']}: {s.get('reason', '')}", file=sys.stderr)
    print(f"summary: {run.root / 'index.html'}, {run.root / 'batch.json'}")
    if "stopped_by" in info:
        print(f"emolens: stopped by {info['stopped_by']}; run the same command again to finish", file=sys.stderr)
        return 128 + signal.Signals[info["stopped_by"]].value
    return 0 if info["status"] == "complete" else EXIT_SOME_FAILED


def _some(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("give a folder for the batch (it is made if missing)")
    return Path(text)


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "batch",
        help="analyze many videos (folders, globs, list files) on worker processes into one dataset",
        description="Run `analyze` on every input, N at a time on worker processes that load the models once, "
        "into DIR/sessions/<id>/ (one session folder each), and gather every session's frames into one "
        "partitioned Parquet dataset, DIR/dataset/, that pandas, polars and DuckDB read as one table; "
        "DIR/batch.json and DIR/index.html summarise. Running the same command again skips the sessions that "
        "completed (checked against their rows, their input's size and time, and the settings and models) and does "
        "the others again; the "
        "dataset holds the sessions of the inputs given, no others. Exit status: 0 all complete, 1 some failed "
        "(listed with their reasons), 2 a usage error, 130 or 143 stopped by Ctrl-C or SIGTERM (run the same "
        "command again to finish).",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a video file, a folder (its videos, recursively), a glob ('talks/*.mp4', quoted) or a list file "
        "(.txt or .list: one input a line, a video, folder, glob or another list)",
    )
    p.add_argument("--out", type=_folder, required=True, metavar="DIR", help="the batch folder (made if missing)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes, each one core: one inference thread, its faces described on it (default: the "
        f"cores, here {os.cpu_count() or 1}; with --explain, whose explainer takes a core of its own, half of them)",
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the inputs on a Ray cluster (auto: the cluster this machine is part of, or HOST:PORT of its "
        "head), --workers actors with warm models; every node needs emolens with the same model files, and DIR "
        "must be a path every node can write (a shared filesystem). Needs pip install 'emolens[cluster]'",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--audio",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="voice cues from each file's sound track (default: on)",
    )
    p.add_argument("--fusion", type=Path, metavar="FILE", help="face/voice fusion settings from `emolens fit-fusion`")
    add_fast_path_options(p)
    add_explainer_options(p)
    p.set_defaults(func=run)
    return p
