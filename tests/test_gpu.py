"""The GPU fast path: preprocessing on the device, I/O binding, the ONNX Runtime GPU providers, bench side by side.

The arithmetic of device preprocessing and the I/O-bound runs are checked here on
the CPU through torch (the same code, device "cpu"); the CUDA runs need a GPU and
skip with the reason elsewhere.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import GROUP_CLIP, PORTRAIT_CLIP, has_cuda, needs_cuda, needs_torch, run_emolens

from app.bench.fast_path import load_frames
from engines.backends.onnxruntime_backend import GPU_PROVIDERS, OnnxRuntimeBackend, gpu_providers
from engines.errors import BackendError
from engines.fast.pipeline import FastPath
from engines.model_assets import DETECTOR, EXPRESSION
from engines.pipeline.assembly import choose_preprocessing


def _onnxruntime_gpu() -> bool:
    return OnnxRuntimeBackend("gpu").probe() is None


@pytest.fixture(scope="module")
def group_frames():
    return load_frames(str(GROUP_CLIP), 60)


def _match(host_faces, device_faces) -> list[tuple]:
    """Each host face with the device face nearest to it (the two paths may order equal scores differently)."""
    assert len(host_faces) == len(device_faces)
    return [
        (a, min(device_faces, key=lambda b: np.abs(np.subtract(a.box, b.box)).sum()))  # noqa: B023
        for a in host_faces
    ]


def _compare_paths(detector, classifier, device_frames, frames) -> tuple[float, np.ndarray, float]:
    host = FastPath(detector, classifier, detect_every=1)
    device = FastPath(detector, classifier, detect_every=1, device_frames=device_frames)
    box_error, prob_error, labels_agree, n = 0.0, [], 0, 0
    for frame in frames:
        pairs = _match(host.process(frame).faces, device.process(frame).faces)
        for a, b in pairs:
            box_error = max(box_error, float(np.abs(np.subtract(a.box, b.box)).max()))
            prob_error.append(float(np.abs(a.raw_probs - b.raw_probs).max()))
            labels_agree += int(np.argmax(a.raw_probs) == np.argmax(b.raw_probs))
            n += 1
    assert n > 100  # the group clip has several faces in most frames
    return box_error, np.asarray(prob_error), labels_agree / n


def _check_same_faces(detector, classifier, device_frames, frames):
    box_error, prob_error, agree = _compare_paths(detector, classifier, device_frames, frames)
    # OpenCV rounds crops to uint8 with fixed-point weights; the device path matches it to a grey level
    assert box_error < 1.0, box_error
    assert np.median(prob_error) < 0.005 and prob_error.max() < 0.08, (np.median(prob_error), prob_error.max())
    assert agree >= 0.97, agree


@needs_torch
def test_preprocessing_on_the_device_finds_the_same_faces_and_expressions(detector, classifier, group_frames):
    from engines.fast.device_frames import DeviceFrames

    _check_same_faces(detector, classifier, DeviceFrames("cpu"), group_frames)


@needs_cuda
def test_preprocessing_on_a_cuda_gpu_finds_the_same_faces_and_expressions(detector, classifier, group_frames):
    from engines.fast.device_frames import DeviceFrames

    _check_same_faces(detector, classifier, DeviceFrames("cuda"), group_frames)


@needs_torch
def test_a_bound_device_tensor_gives_what_a_plain_run_gives(model_dir):
    import torch

    model = OnnxRuntimeBackend("cpu").load(model_dir / f"{EXPRESSION}.onnx")
    faces = np.random.default_rng(1).uniform(-1, 1, (5, 1, 64, 64)).astype(np.float32)
    plain = model.run({"input": faces})[0]
    bound = model.run_device({"input": torch.from_numpy(faces)})[0]
    assert bound.shape == (5, 7) and np.array_equal(bound, plain)
    # a non-contiguous view is made contiguous, not read with the wrong strides
    strided = torch.from_numpy(np.ascontiguousarray(faces.transpose(0, 1, 3, 2))).transpose(2, 3)
    assert np.array_equal(model.run_device({"input": strided})[0], plain)


def test_gpu_providers_put_tensorrt_first_with_an_engine_cache_and_the_shape_profile(tmp_path):
    inputs = {"input": ("batch", 3, "height", "width")}
    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    providers = gpu_providers(everything, tmp_path, inputs)
    assert [p if isinstance(p, str) else p[0] for p in providers] == everything
    trt = providers[0][1]
    assert trt["trt_engine_cache_enable"] and trt["trt_engine_cache_path"] == str(tmp_path) and trt["trt_fp16_enable"]
    assert trt["trt_profile_min_shapes"] == "input:1x3x64x64"
    assert trt["trt_profile_opt_shapes"] == "input:8x3x480x480"
    assert trt["trt_profile_max_shapes"] == "input:32x3x1024x1024"
    fixed = gpu_providers(everything, tmp_path, {"input": (1, 1, 64, 64)})[0][1]
    assert "trt_profile_min_shapes" not in fixed  # a fixed shape needs no profile
    cuda_only = gpu_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], tmp_path, inputs)
    assert [p if isinstance(p, str) else p[0] for p in cuda_only] == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_preprocessing_stays_on_the_host_unless_the_device_pays_or_is_asked_for():
    frames, why = choose_preprocessing("auto", "cpu")
    assert frames is None and why == "host (OpenCV): the models run on the CPU"
    assert choose_preprocessing("host", "cuda") == (None, "host (OpenCV), as asked")
    if not has_cuda():
        frames, why = choose_preprocessing("auto", "cuda")
        assert frames is None and why.startswith("host (OpenCV): ")
        with pytest.raises(BackendError, match="preprocessing on"):
            choose_preprocessing("device", "cuda")
    with pytest.raises(ValueError):
        choose_preprocessing("gpu", "cpu")


@pytest.mark.skipif(_onnxruntime_gpu(), reason="onnxruntime-gpu runs here")
def test_without_onnxruntime_gpu_the_cpu_runs_and_one_line_says_why(model_dir, tmp_path):
    out = tmp_path / "s"
    proc = run_emolens(
        "analyze", str(PORTRAIT_CLIP), "--out", str(out), "--backend", "onnxruntime-gpu", "--max-frames", "5"
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "onnxruntime-gpu" in line]
    assert len(lines) == 1 and "requested but cannot run here" in lines[0] and "using onnxruntime-cpu" in lines[0]
    backend = json.loads((out / "session.json").read_text())["backend"]
    assert backend["name"] == "onnxruntime-cpu" and backend["preprocess"] == "host (OpenCV): the models run on the CPU"


@pytest.mark.skipif(not _onnxruntime_gpu(), reason="needs onnxruntime-gpu and a CUDA GPU (neither is here)")
def test_onnxruntime_gpu_runs_the_fast_path_on_the_gpu(model_dir, detector, classifier, group_frames):
    from engines.pipeline import FastPathOptions
    from engines.pipeline.assembly import build_fast_path

    fast_path, info = build_fast_path(FastPathOptions(backend="onnxruntime-gpu", detect_every=1), progress=print)
    assert set(info["backend"]["models"]) == {DETECTOR, EXPRESSION}
    assert all(p in GPU_PROVIDERS for p in info["backend"]["models"].values())
    cpu = FastPath(detector, classifier, detect_every=1)
    for frame in group_frames:
        for a, b in _match(cpu.process(frame).faces, fast_path.process(frame).faces):
            assert np.abs(np.subtract(a.box, b.box)).max() < 2.0  # FP16 under TensorRT
            assert np.abs(a.raw_probs - b.raw_probs).max() < 0.1


@needs_torch
def test_bench_compares_variants_side_by_side_and_a_folder_end_to_end(model_dir, tmp_path):
    report_path = tmp_path / "bench.json"
    proc = run_emolens(
        "bench", str(PORTRAIT_CLIP), "--frames", "20", "--repeats", "2", "--compare", "onnxruntime-cpu+device",
        "--json", str(report_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    assert list(report["variants"]) == ["onnxruntime-cpu+host", "onnxruntime-cpu+device"]
    device = report["variants"]["onnxruntime-cpu+device"]
    assert device["preprocess"]["where"] == "device (cpu)" and device["per_stage_ms"]["upload"]["p50"] > 0
    assert report["speedup_vs_reference"]["onnxruntime-cpu+host"] == 1.0
    ratio = report["speedup_vs_reference"]["onnxruntime-cpu+device"]
    host_ms, device_ms = (report["variants"][v]["per_stage_ms"]["total"]["p50"] for v in report["variants"])
    assert ratio == pytest.approx(host_ms / device_ms, rel=1e-2) and "the reference's speed" in proc.stdout

    folder = tmp_path / "videos"
    (folder / "day2").mkdir(parents=True)
    (folder / "a.mp4").write_bytes(PORTRAIT_CLIP.read_bytes())
    (folder / "day2" / "b.mp4").write_bytes(GROUP_CLIP.read_bytes())
    (folder / "day2" / "cut.mp4").write_bytes(GROUP_CLIP.read_bytes()[:20000])
    (folder / "notes.txt").write_text("not a video")
    proc = run_emolens("bench", str(folder), "--frames-per-video", "30", "--json", str(report_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    assert report["videos"] == 3 and report["frames"] == 60
    assert [("error" in v) for v in report["per_video"]] == [False, False, True]
    assert report["throughput_fps"] > 0 and report["fast_path_ms"]["p99"] >= report["fast_path_ms"]["p50"] > 0
    assert "[3/3] cut.mp4: skipped" in proc.stderr and "throughput" in proc.stdout
    (folder / "empty").mkdir()
    empty = run_emolens("bench", str(folder / "empty"), "--json", str(report_path))
    assert empty.returncode != 0 and "no video files" in empty.stderr
