"""The options several commands share (the fast path's, the explainer's, the app's), and the exit codes."""

from __future__ import annotations

import argparse
from pathlib import Path

from engines.errors import EmolensError

EXIT_ERROR = 2
EXIT_NO_FACE = 3


def add_fast_path_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("fast path")
    add_backend_option(g, default="auto")
    g.add_argument(
        "--threads", type=int, default=1, metavar="N", help="inference threads (default: 1, leaving cores free)"
    )
    g.add_argument(
        "--detect-every",
        type=int,
        default=None,
        metavar="N",
        help="run the face detector every N frames; in between, faces are followed by their face mesh, or by "
        "their motion with --no-mesh (default: 6 with the mesh, 3 without)",
    )
    g.add_argument(
        "--detector-size",
        type=detector_size,
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
        "--no-mesh",
        dest="mesh",
        action="store_false",
        help="skip the face mesh: no facial actions, and every detector box counts as a face (faster; for comparison)",
    )
    g.add_argument(
        "--no-reid",
        dest="reid",
        action="store_false",
        help="do not tell returning people from new ones: every face that leaves and comes back is counted as "
        "someone new (people = tracks); with it on, face descriptors stay in memory and are never written",
    )
    g.add_argument(
        "--min-face-seconds",
        type=float,
        default=0.3,
        metavar="SECONDS",
        help="how long a box whose face score is in doubt (0.5-0.95; faces read 1.0) must keep reading as a face "
        "before it is reported as a person (default: 0.3)",
    )
    g.add_argument(
        "--insightface-pack",
        type=Path,
        metavar="DIR",
        help="use the face detector of a local insightface model pack (e.g. buffalo_l) instead of the bundled "
        "RetinaFace",
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
        metavar="WHERE",
        help="where frames are resized, normalised and cropped: host (OpenCV) or device (torch, on the device the "
        "models run on, so a frame crosses to the GPU once) (default: auto: the device when the models run on a "
        "GPU, else the host)",
    )


def add_explainer_options(parser: argparse.ArgumentParser, switch: bool = True) -> None:
    g = parser.add_argument_group("explainer (slow path)")
    if switch:
        g.add_argument(
            "--explain",
            action="store_true",
            help="explain the windows the gate picks with the local language model; writes explanations.jsonl",
        )
    add_llm_option(g)
    g.add_argument(
        "--llm-threads",
        type=int,
        metavar="N",
        help="threads for the explainer (default: the cores the fast path leaves, at least 1)",
    )
    g.add_argument(
        "--gate",
        type=Path,
        metavar="FILE",
        help="gate settings written by `emolens fit-gate` (default: the built-in thresholds)",
    )


def add_backend_option(group, default: str | None, note: str = "") -> None:
    """--backend, as the fast path's commands and the window take it."""
    from engines.backends import BACKENDS

    names = ["auto", *BACKENDS]
    group.add_argument(
        "--backend",
        default=default,
        choices=names,
        metavar="NAME",
        help=f"inference runtime: {', '.join(names)}; auto picks the fastest that works here{note} (default: auto)",
    )


def add_llm_option(group, default_text: str = "") -> None:
    """--llm, as the explainer's commands and the window take it."""
    group.add_argument(
        "--llm",
        metavar="NAME|PATH",
        help="the explainer's language model: emolens-explainer (built by `emolens export-models` or "
        "`emolens train-explainer`), smollm2-135m, gemma3-270m, or a .gguf file of your own "
        f"(default: {default_text or 'emolens-explainer when the model folder has it, else smollm2-135m'})",
    )


def explain_options(args: argparse.Namespace):
    from engines.pipeline import ExplainOptions

    if args.llm_threads is not None and args.llm_threads < 1:
        raise EmolensError("--llm-threads must be >= 1")
    return ExplainOptions.from_file(args.gate, llm=args.llm, threads=args.llm_threads)


def detector_size(text: str) -> int | None:
    if text == "auto":
        return None
    if not text.isdigit() or int(text) < 64:
        raise argparse.ArgumentTypeError("give a size in pixels (64 or more) or 'auto'")
    return int(text)


def fast_options(args: argparse.Namespace):
    from engines.pipeline import FastPathOptions

    if (
        args.threads < 1
        or (args.detect_every is not None and args.detect_every < 1)
        or args.smoothing < 0
        or args.min_face_seconds < 0
    ):
        raise EmolensError("--threads and --detect-every must be >= 1, and --smoothing and --min-face-seconds >= 0")
    return FastPathOptions(
        backend=args.backend,
        threads=args.threads,
        detect_every=args.detect_every,
        detector_size=args.detector_size,
        smoothing_s=args.smoothing,
        insightface_pack=args.insightface_pack,
        model_dir=args.model_dir,
        preprocess=args.preprocess,
        mesh=args.mesh,
        reid=args.reid,
        min_face_s=args.min_face_seconds,
    )


def add_app_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        metavar="INPUT",
        help="a camera index (0, 1, ...; `emolens devices` lists them) or a video file (default: the last one "
        "used; camera 0 at first)",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="the settings file to read and save (default: your own, ~/.config/emolens/emolens.ini)",
    )
