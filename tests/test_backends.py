"""Backend selection: auto picks what really runs here, and says why."""

from __future__ import annotations

import pytest

from engines.backends import choose_backend
from engines.errors import BackendError, ModelError
from engines.model_assets import EXPRESSION


def _cuda_works() -> bool:
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend("gpu").probe() is None


def test_auto_picks_a_backend_that_really_runs_and_explains_the_choice(model_dir):
    choice = choose_backend("auto", threads=1)
    model = choice.backend.load(model_dir / f"{EXPRESSION}.onnx")
    assert choice.reason.startswith("auto:")
    if _cuda_works():
        assert choice.backend.name == "onnxruntime-gpu" and model.device == "CUDAExecutionProvider"
    else:
        assert choice.backend.name == "onnxruntime-cpu" and model.device == "CPUExecutionProvider"
        assert "skipped tensorrt: " in choice.reason and "; onnxruntime-gpu: " in choice.reason
    assert [s.name for s in model.inputs] == ["input"] and model.inputs[0].shape[1:] == (1, 64, 64)


def test_gpu_backend_on_a_machine_without_cuda_falls_back_and_says_so():
    if _cuda_works():
        pytest.skip("CUDA works here")
    choice = choose_backend("onnxruntime-gpu")
    assert choice.backend.name == "onnxruntime-cpu"
    assert (
        choice.reason.startswith("onnxruntime-gpu requested but cannot run here (")
        and "using onnxruntime-cpu" in choice.reason
    )


def test_unknown_backend_lists_the_choices():
    with pytest.raises(BackendError, match="auto, tensorrt, onnxruntime-gpu, torch-cuda, onnxruntime-cpu, torch-cpu"):
        choose_backend("tensorflow")


def test_a_file_that_is_not_onnx_is_a_model_error(tmp_path):
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        OnnxRuntimeBackend("cpu").load(bad)


def test_insightface_pack_without_a_detector_is_refused(tmp_path):
    from engines.fast.face_detector import InsightFacePackDetector

    (tmp_path / "w600k_r50.onnx").write_bytes(b"recognition only")
    with pytest.raises(ModelError, match="no face detection model"):
        InsightFacePackDetector(tmp_path)
