"""Builds a ready FastPath from user options: models exported and verified, a backend chosen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from engines.backends import choose_backend
from engines.fast.expression import ExpressionClassifier
from engines.fast.face_detector import FaceDetector, InsightFacePackDetector, RetinaFaceDetector
from engines.fast.pipeline import FastPath
from engines.fast.smoothing import ExpressionSmoother
from engines.model_assets import DETECTOR, EXPRESSION, default_model_dir, is_exported, load_asset


@dataclass(frozen=True)
class FastPathOptions:
    backend: str = "auto"
    threads: int = 1
    detect_every: int = 3
    detector_size: int | None = None  # None: auto, from the frame size
    smoothing_s: float = 0.5
    insightface_pack: Path | None = None
    model_dir: Path | None = None

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def build_fast_path(options: FastPathOptions, progress: Callable[[str], None] = print) -> tuple[FastPath, dict]:
    """Returns the fast path and what session.json records about it (backend, reason, models)."""
    model_dir = options.model_dir or default_model_dir()
    if not (is_exported(model_dir, DETECTOR) and is_exported(model_dir, EXPRESSION)):
        from export.models.chain import export_models

        progress(f"first run: building the models into {model_dir} (a few seconds, once)")
        export_models(model_dir, progress=lambda line: progress(f"  {line}"))
    choice = choose_backend(options.backend, options.threads)
    backend = choice.backend
    expression_asset = load_asset(EXPRESSION, model_dir)
    classifier = ExpressionClassifier(backend.load(expression_asset.path), expression_asset)
    detector: FaceDetector
    if options.insightface_pack:
        detector = InsightFacePackDetector(options.insightface_pack, input_size=options.detector_size or 640)
    else:
        asset = load_asset(DETECTOR, model_dir)
        detector = RetinaFaceDetector(backend.load(asset.path), asset, input_size=options.detector_size)
    fast_path = FastPath(
        detector,
        classifier,
        detect_every=options.detect_every,
        smoother=ExpressionSmoother(time_constant_s=options.smoothing_s),
    )
    info = {
        "backend": {**backend.describe(), "reason": choice.reason},
        "fast_path": fast_path.describe(),
        "settings": options.as_dict(),
    }
    return fast_path, info
