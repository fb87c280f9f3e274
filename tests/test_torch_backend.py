"""The torch backend: the exported ONNX files run op by op in PyTorch, checked against ONNX Runtime.

On the CPU (torch's CPU build, from the dev extra) the graph runner is checked
everywhere; on a CUDA GPU the same models run captured as CUDA graphs, and that
test skips with the reason elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GROUP_CLIP, has_cuda, needs_cuda, needs_torch

from app.bench.fast_path import load_frames
from engines.backends import choose_backend
from engines.errors import ModelError
from engines.fast.expression import ExpressionClassifier
from engines.fast.face_detector import RetinaFaceDetector
from engines.fast.pipeline import FastPath
from engines.model_assets import DETECTOR, EXPRESSION, load_asset

pytestmark = needs_torch


@pytest.fixture(scope="module")
def group_frames():
    return load_frames(str(GROUP_CLIP), 40)


def _fast_path(model_dir, backend, device_frames=None) -> FastPath:
    detector_asset, expression_asset = load_asset(DETECTOR, model_dir), load_asset(EXPRESSION, model_dir)
    return FastPath(
        RetinaFaceDetector(backend.load(detector_asset.path), detector_asset),
        ExpressionClassifier(backend.load(expression_asset.path), expression_asset),
        detect_every=1,
        device_frames=device_frames,
    )


def _compare_with_onnxruntime(model_dir, backend, frames, device_frames=None) -> tuple[float, float, float]:
    """Worst box difference (px), worst probability difference and label agreement over every face of `frames`."""
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

    reference = _fast_path(model_dir, OnnxRuntimeBackend("cpu"))
    candidate = _fast_path(model_dir, backend, device_frames)
    box, prob, agree, n = 0.0, 0.0, 0, 0
    for frame in frames:
        expected, got = reference.process(frame).faces, candidate.process(frame).faces
        assert len(expected) == len(got)
        for a in expected:
            b = min(got, key=lambda f: np.abs(np.subtract(a.box, f.box)).sum())  # noqa: B023
            box = max(box, float(np.abs(np.subtract(a.box, b.box)).max()))
            prob = max(prob, float(np.abs(a.raw_probs - b.raw_probs).max()))
            agree += int(np.argmax(a.raw_probs) == np.argmax(b.raw_probs))
            n += 1
    assert n > 60  # several faces on most frames of the group clip
    return box, prob, agree / n


def test_the_graph_runner_gives_what_onnxruntime_gives(model_dir):
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend
    from engines.backends.torch_backend import TorchBackend

    rng = np.random.default_rng(3)
    reference, torch_cpu = OnnxRuntimeBackend("cpu"), TorchBackend("cpu")
    # an odd detector size exercises the FPN's size arithmetic (Shape, Slice, Concat, nearest Resize)
    cases = [(DETECTOR, (2, 3, 333, 517), 60.0), (EXPRESSION, (5, 1, 64, 64), 1.0)]
    for name, shape, scale in cases:
        ort_model, torch_model = reference.load(model_dir / f"{name}.onnx"), torch_cpu.load(model_dir / f"{name}.onnx")
        assert [i.name for i in torch_model.inputs] == [i.name for i in ort_model.inputs]
        assert [o.name for o in torch_model.outputs] == [o.name for o in ort_model.outputs]
        x = (rng.uniform(-1, 1, shape) * scale).astype(np.float32)
        feed = {ort_model.inputs[0].name: x}
        for expected, got in zip(ort_model.run(feed), torch_model.run(feed), strict=True):
            assert got.shape == expected.shape and got.dtype == np.float32
            assert np.abs(got - expected).max() < 1e-4 * max(1.0, float(np.abs(expected).max()))


def test_the_torch_backend_runs_the_fast_path_like_onnxruntime(model_dir, group_frames):
    from engines.backends.torch_backend import TorchBackend
    from engines.fast.device_frames import DeviceFrames

    box, prob, agree = _compare_with_onnxruntime(model_dir, TorchBackend("cpu"), group_frames)
    # boxes to 1e-4 px; a landmark that far off can still move a crop's pixel by one grey level
    assert box < 0.01 and prob < 0.01 and agree == 1.0, (box, prob, agree)
    # device preprocessing hands torch tensors straight to the torch model (run_device)
    box, prob, agree = _compare_with_onnxruntime(model_dir, TorchBackend("cpu"), group_frames, DeviceFrames("cpu"))
    assert box < 1.0 and prob < 0.08 and agree >= 0.97, (box, prob, agree)


def test_a_model_the_torch_backend_cannot_run_is_refused_by_name(tmp_path):
    from onnx import TensorProto, helper, save

    from engines.backends.torch_backend import TorchBackend

    graph = helper.make_graph(
        [helper.make_node("Einsum", ["x", "x"], ["y"], equation="ij,ij->i")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "einsum.onnx")
    with pytest.raises(ModelError, match=r"einsum.onnx uses ONNX ops the torch backend does not run \(Einsum\).*"
                       "onnxruntime"):  # fmt: skip
        TorchBackend("cpu").load(tmp_path / "einsum.onnx")
    (tmp_path / "cut.onnx").write_bytes((tmp_path / "einsum.onnx").read_bytes()[:25])
    with pytest.raises(ModelError, match="cut.onnx.*export-models"):
        TorchBackend("cpu").load(tmp_path / "cut.onnx")


@pytest.mark.skipif(has_cuda(), reason="a CUDA GPU is here")
def test_torch_cuda_without_a_gpu_gives_way_in_one_line():
    choice = choose_backend("torch-cuda")
    assert choice.backend.name == "onnxruntime-cpu"
    from engines.backends.base import nvidia_driver_present

    why = (
        "PyTorch is installed but sees no CUDA GPU (a CPU build of torch, or no driver)"
        if nvidia_driver_present()
        else "no NVIDIA GPU driver on this machine"
    )
    assert choice.reason == f"torch-cuda requested but cannot run here ({why}); using onnxruntime-cpu"


@needs_cuda
def test_torch_cuda_runs_the_fast_path_on_the_gpu_from_cuda_graphs(model_dir, group_frames):
    from engines.backends.torch_backend import TorchBackend
    from engines.fast.device_frames import DeviceFrames

    backend = TorchBackend("cuda")
    model = backend.load(model_dir / f"{EXPRESSION}.onnx")
    rng = np.random.default_rng(5)
    first, second = (rng.uniform(-1, 1, (3, 1, 64, 64)).astype(np.float32) for _ in range(2))
    a, b = model.run({"input": first})[0], model.run({"input": second})[0]  # the second replays the first's graph
    assert not np.allclose(a, b) and np.allclose(model.run({"input": first})[0], a, atol=1e-6)
    eager = TorchBackend("cuda", cuda_graphs=False).load(model_dir / f"{EXPRESSION}.onnx")
    assert np.allclose(eager.run({"input": second})[0], b, atol=1e-5)
    # TF32 convolutions on the GPU: a little looser than the CPU's agreement
    box, prob, agree = _compare_with_onnxruntime(model_dir, backend, group_frames)
    assert box < 1.0 and prob < 0.02 and agree >= 0.98, (box, prob, agree)
    box, prob, agree = _compare_with_onnxruntime(model_dir, backend, group_frames, DeviceFrames("cuda"))
    assert box < 1.0 and prob < 0.08 and agree >= 0.97, (box, prob, agree)
    assert "uncaptured_shapes" not in backend.describe(), backend.describe()
