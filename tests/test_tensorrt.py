"""The TensorRT backend: its engine cache, keys and fallback everywhere; the engines themselves where TensorRT is."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from conftest import PORTRAIT_CLIP, run_emolens

from engines.backends import choose_backend
from engines.backends.engine_cache import EngineCache, EngineIdentity
from engines.backends.shape_profile import profile_shapes
from engines.backends.tensorrt_backend import TensorRTBackend
from engines.model_assets import EXPRESSION

IDENTITY = EngineIdentity("NVIDIA H100 80GB HBM3", "tensorrt 10.13.0", "ab" * 32, "fp16", "input:batch 1/8/32")


class CountingBuilder:
    """Stands in for TensorRT's builder (absent here): returns distinct bytes each time, and counts calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return f"engine #{self.calls}".encode() * 100


def test_an_engine_is_built_once_then_loaded_and_rebuilt_when_any_key_changes(tmp_path):
    cache, build = EngineCache(tmp_path), CountingBuilder()
    data, how = cache.load_or_build("fer", IDENTITY, build)
    assert how == "built (not built yet)" and build.calls == 1
    again, how = cache.load_or_build("fer", IDENTITY, build)
    assert how == "loaded" and again == data and build.calls == 1
    for changed in (
        {"gpu": "NVIDIA H200"},
        {"runtime": "tensorrt 10.14.1"},
        {"onnx_sha256": "cd" * 32},
        {"precision": "fp32"},
        {"profile": "input:batch 1/4/16"},
    ):
        other = EngineIdentity(**{**IDENTITY.__dict__, **changed})
        assert other.key != IDENTITY.key
        _, how = cache.load_or_build("fer", other, build)
        assert how.startswith("built"), changed
    assert build.calls == 6
    assert cache.load_or_build("fer", IDENTITY, build)[1] == "loaded"  # each keeps its own file


def test_a_truncated_or_foreign_engine_is_rebuilt_not_loaded(tmp_path):
    cache, build = EngineCache(tmp_path), CountingBuilder()
    cache.load_or_build("fer", IDENTITY, build)
    engine, sidecar = cache.paths("fer", IDENTITY)
    engine.write_bytes(engine.read_bytes()[:50])  # a write cut short
    data, how = cache.load_or_build("fer", IDENTITY, build)
    assert how == "built (the engine file is truncated or altered)" and data == b"engine #2" * 100
    meta = json.loads(sidecar.read_text())
    meta["identity"]["gpu"] = "another GPU"
    sidecar.write_text(json.dumps(meta))
    assert cache.load_or_build("fer", IDENTITY, build)[1] == "built (it was built for another GPU, runtime or model)"
    sidecar.write_text("{not json")
    assert cache.load_or_build("fer", IDENTITY, build)[1] == "built (its description is unreadable)"
    cache.discard("fer", IDENTITY)
    assert not engine.exists() and not sidecar.exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_profiles_cover_live_batches_and_detector_sizes():
    assert profile_shapes(("batch", 1, 64, 64)) == ((1, 1, 64, 64), (8, 1, 64, 64), (32, 1, 64, 64))
    assert profile_shapes(("batch_size", 3, "height", "width")) == (
        (1, 3, 64, 64),
        (8, 3, 480, 480),
        (32, 3, 1024, 1024),
    )


def test_without_tensorrt_the_backend_says_why_and_the_next_one_runs(model_dir, tmp_path):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    assert "TensorRT is not installed" in TensorRTBackend(cache_root=tmp_path).probe()
    choice = choose_backend("tensorrt")
    assert choice.reason.startswith("tensorrt requested but cannot run here (TensorRT is not installed")
    auto = choose_backend("auto")
    assert auto.backend.name != "tensorrt" and "skipped tensorrt: TensorRT is not installed" in auto.reason
    out = tmp_path / "s"
    proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--backend", "tensorrt", "--max-frames", "5")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "tensorrt" in line]
    assert len(lines) == 1 and "requested but cannot run here" in lines[0]
    session = json.loads((out / "session.json").read_text())
    assert session["backend"]["reason"].startswith("tensorrt requested but cannot run here")


def _tensorrt_runs() -> bool:
    return TensorRTBackend().probe() is None


@pytest.mark.skipif(not _tensorrt_runs(), reason="needs TensorRT and a CUDA GPU (neither is here)")
def test_tensorrt_engine_matches_onnx_runtime_and_is_reloaded(model_dir, tmp_path):
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

    path = model_dir / f"{EXPRESSION}.onnx"
    faces = np.random.default_rng(0).uniform(-1, 1, (4, 1, 64, 64)).astype(np.float32)
    reference = OnnxRuntimeBackend("cpu").load(path).run({"input": faces})[0]
    backend = TensorRTBackend(cache_root=tmp_path)
    model = backend.load(path)
    got = model.run({"input": faces})[0]
    assert backend.loaded[EXPRESSION].startswith("built")
    assert np.abs(got - reference).max() < 2e-2  # FP16
    import torch

    on_gpu = model.run_device({"input": torch.from_numpy(faces).cuda()})[0]  # no host copy on the way in
    assert np.array_equal(on_gpu, got)
    again = TensorRTBackend(cache_root=tmp_path)
    again.load(path)
    assert again.loaded[EXPRESSION] == "loaded"
