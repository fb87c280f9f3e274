"""`emolens bench`: the benchmarks (fast path, folder throughput, sound, explainer, window, soak), as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands.options import add_explainer_options, add_fast_path_options, explain_options, fast_options
from engines.errors import EmolensError


def run(args: argparse.Namespace) -> int:
    from app.bench.fast_path import bench, format_report, write_report

    args.input, *args.more = args.inputs
    if args.batch is not None:
        from app.bench.batch import bench_batch, format_batch_report
        from engines.pipeline import PipelineOptions

        workers = [int(n) for n in args.batch.split(",") if n.strip()]
        if not workers or min(workers) < 1:
            raise EmolensError("--batch takes worker counts, e.g. 1,2")
        report = bench_batch(args.inputs, PipelineOptions(fast=fast_options(args)), workers, args.ray)
        print(format_batch_report(report))
    elif args.soak is not None:
        from app.bench.soak import bench_soak, format_soak_report

        if args.more or args.soak <= 0:
            raise EmolensError("--soak takes the seconds to run (more than 0) and one clip")
        report = bench_soak(args.input, fast_options(args), explain_options(args), seconds=args.soak)
        print(format_soak_report(report))
    elif args.audio:
        from app.bench.sound import bench_audio, format_audio_report

        report = bench_audio(args.input, fast_options(args), max_frames=args.frames, repeats=args.repeats)
        print(format_audio_report(report))
    elif args.app:
        from app.bench.window import bench_app, format_app_report

        if args.more:
            raise EmolensError("--app benches one clip")
        report = bench_app(
            args.input, fast_options(args), explain_options(args), seconds=args.seconds, repeats=args.repeats
        )
        print(format_app_report(report))
    elif args.explain:
        from app.bench.explainer import bench_explain, format_explain_report

        report = bench_explain(
            [args.input, *args.more],
            fast_options(args),
            explain_options(args),
            max_frames=args.frames,
            repeats=args.repeats,
        )
        print(format_explain_report(report))
    elif Path(args.input).is_dir():
        from app.bench.fast_path import bench_folder, format_folder_report

        if args.more or args.compare:
            raise EmolensError("a folder is benched on one backend: drop the other inputs and --compare")
        try:
            report = bench_folder(Path(args.input), fast_options(args), max_frames=args.frames_per_video)
        except FileNotFoundError as exc:
            raise EmolensError(str(exc)) from exc
        print(format_folder_report(report))
    else:
        from app.bench.fast_path import parse_variant

        if args.more:
            raise EmolensError("several inputs are for --explain; bench the fast path on one clip at a time")
        base = fast_options(args)
        compare = [parse_variant(text, base) for text in args.compare]
        report = bench(args.input, base, max_frames=args.frames, repeats=args.repeats, compare=compare)
        print(format_report(report))
    write_report(report, args.json)
    print(f"wrote {args.json}")
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench",
        help="benchmarks: the fast path's per-stage ms and frames/s, a folder's throughput, sound, the explainer, "
        "the window, a soak run; JSON",
        description="Decode INPUT into memory, run the fast path over it several times, print "
        "the median run and write it as JSON. With --compare, other backends or preprocessing run in the same "
        "process, in turn. A folder is analysed end to end, every video, for throughput. --app, --audio, --soak "
        "and --explain bench the window, the voice cues, a long live session and the explainer instead.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a video or image file, or a folder of videos (throughput, end to end); several clips with --explain",
    )
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="BACKEND[+host|+device][+mesh|+no-mesh][+reid|+no-reid]",
        help="also run this variant in the same process on the same frames, side by side with ratios; repeat for "
        "more (e.g. --backend onnxruntime-gpu --compare onnxruntime-cpu --compare onnxruntime-gpu+host; "
        "--compare +no-mesh: the same without the face mesh; +no-reid: without telling returning people apart)",
    )
    p.add_argument(
        "--frames-per-video",
        type=int,
        default=None,
        metavar="N",
        help="with a folder: analyse at most N frames of each video (default: all)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=Path("bench.json"),
        metavar="PATH",
        help="where to write the report (default: bench.json)",
    )
    p.add_argument("--frames", type=int, default=600, metavar="N", help="use at most N frames (default: 600)")
    p.add_argument("--repeats", type=int, default=3, metavar="N", help="runs; the median is reported (default: 3)")
    p.add_argument(
        "--app",
        action="store_true",
        help="run the real window on INPUT looped: painted frame rate with the explainer off, gated and kept busy",
    )
    p.add_argument(
        "--audio",
        action="store_true",
        help="a clip with sound: the fast path's per-frame time without and with voice cues, side by side",
    )
    p.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="run the live session (explainer and recorder on) on INPUT looped for SECONDS, sampling memory, "
        "file descriptors, threads and every table and queue; prints their growth per hour",
    )
    p.add_argument(
        "--batch",
        metavar="N,N",
        help="run `emolens batch` over the INPUTs once per worker count (e.g. 1,2), side by side: frames/s, the "
        "ratio to the first, each worker's peak memory",
    )
    p.add_argument("--ray", metavar="ADDRESS", help="with --batch: also on this Ray cluster, with the most workers")
    p.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="with --app: seconds measured per run (default: 20)",
    )
    add_fast_path_options(p)
    add_explainer_options(p)
    p.set_defaults(func=run)
    return p
