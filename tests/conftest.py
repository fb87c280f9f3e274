"""Shared fixtures: the real models, exported once per test session into a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Qt draws into memory in tests: the real widgets, no screen needed (set before pytest-qt makes the app)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATA = Path(__file__).parent / "data"
GROUP_CLIP = DATA / "group_pan.mp4"
PORTRAIT_CLIP = DATA / "portrait_zoom.mp4"
EMOLENS = Path(sys.executable).parent / "emolens"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    from export.models.chain import export_models

    folder = tmp_path_factory.mktemp("models")
    export_models(folder, progress=lambda line: None)
    os.environ["EMOLENS_MODEL_DIR"] = str(folder)  # for build_fast_path's default and for subprocesses
    return folder


@pytest.fixture(scope="session")
def backend():
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend("cpu", threads=1)


@pytest.fixture(scope="session")
def detector(model_dir, backend):
    from engines.fast.face_detector import RetinaFaceDetector
    from engines.model_assets import DETECTOR, load_asset

    asset = load_asset(DETECTOR, model_dir)
    return RetinaFaceDetector(backend.load(asset.path), asset)  # the app's default size: auto


@pytest.fixture(scope="session")
def classifier(model_dir, backend):
    from engines.fast.expression import ExpressionClassifier
    from engines.model_assets import EXPRESSION, load_asset

    asset = load_asset(EXPRESSION, model_dir)
    return ExpressionClassifier(backend.load(asset.path), asset)


def run_emolens(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([str(EMOLENS), *args], capture_output=True, text=True, env=env, timeout=300)
