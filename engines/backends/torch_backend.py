"""PyTorch: the exported ONNX models run by `OnnxTorchGraph` on a CUDA GPU (or, to check it, on the CPU).

For GPU machines where TensorRT and onnxruntime-gpu cannot be had or do not load:
PyTorch's wheels bring their own CUDA libraries. The models are small, so on a
GPU the cost is launching a few hundred kernels one by one; each input shape is
therefore captured once as a CUDA graph and replayed, one launch per run. A
shape that cannot be captured runs op by op, and `describe()` says so.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from engines.backends.base import CompiledModel, InferenceBackend, TensorSpec, nvidia_driver_present
from engines.errors import BackendError, ModelError

INSTALL_HINT = {
    "cuda": "PyTorch is not installed: ./install.sh --gpu (pip install torch) on a machine with an NVIDIA GPU",
    "cpu": "PyTorch is not installed: pip install torch (./install.sh installs it with the dev extra)",
}
MAX_GRAPHS = 16  # input shapes kept captured per model (faces per frame vary; the detector's size rarely does)


def _import_torch(device: str):
    if device == "cuda" and not nvidia_driver_present():
        raise BackendError("no NVIDIA GPU driver on this machine")
    try:
        import torch
    except ImportError as exc:
        raise BackendError(INSTALL_HINT[device]) from exc
    if device == "cuda" and not torch.cuda.is_available():
        raise BackendError("PyTorch is installed but sees no CUDA GPU (a CPU build of torch, or no driver)")
    return torch


def _spec(value_info) -> TensorSpec:
    dims = tuple(d.dim_value or d.dim_param or None for d in value_info.type.tensor_type.shape.dim)
    return TensorSpec(value_info.name, dims, "tensor(float)")


class _CapturedRun:
    """One input shape's run recorded as a CUDA graph: inputs copied into fixed buffers, then one replay."""

    def __init__(self, torch, graph, inputs: dict):
        self.torch = torch
        self.inputs = {name: x.clone() for name, x in inputs.items()}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the capture: cuDNN picks its kernels, the allocator settles
            for _ in range(2):
                graph.run(self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = graph.run(self.inputs)

    def __call__(self, inputs: dict) -> list:
        for name, x in inputs.items():
            self.inputs[name].copy_(x, non_blocking=True)
        self.graph.replay()
        return self.outputs


class TorchModel(CompiledModel):
    def __init__(self, path: Path, torch, device: str, cuda_graphs: bool = True):
        import onnx

        from engines.backends.onnx_torch import OnnxTorchGraph

        self.torch = torch
        self.graph = OnnxTorchGraph(path, device)
        declared = onnx.load(str(path), load_external_data=False).graph
        by_name = {i.name: i for i in declared.input}
        self.inputs = tuple(_spec(by_name[name]) for name in self.graph.input_names)
        self.outputs = tuple(_spec(o) for o in declared.output)
        self.device_type = device
        self.device = f"PyTorch {torch.__version__} on " + (
            torch.cuda.get_device_name() if device == "cuda" else "the CPU"
        )
        self.cuda_graphs = cuda_graphs and device == "cuda"
        self._captured: OrderedDict[tuple, _CapturedRun | None] = OrderedDict()
        self.uncaptured: list[str] = []  # shapes that run op by op, and why: for describe()

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self.torch
        names = self.graph.input_names
        tensors = {name: torch.from_numpy(np.ascontiguousarray(feeds[name], dtype=np.float32)) for name in names}
        if self.device_type == "cuda":
            tensors = {name: x.pin_memory().to("cuda", non_blocking=True) for name, x in tensors.items()}
        return self._execute(tensors)

    def run_device(self, feeds: dict) -> list[np.ndarray]:
        """Torch tensors: read where they lie when that is this model's device, else moved there once."""
        return self._execute({name: feeds[name].to(self.device_type).float() for name in self.graph.input_names})

    def _execute(self, tensors: dict) -> list[np.ndarray]:
        with self.torch.inference_mode():
            outputs = self._replay(tensors) if self.cuda_graphs else self.graph.run(tensors)
            return [y.float().cpu().numpy() for y in outputs]

    def _replay(self, tensors: dict) -> list:
        key = tuple((name, tuple(x.shape)) for name, x in tensors.items())
        if key not in self._captured:
            try:
                self._captured[key] = _CapturedRun(self.torch, self.graph, tensors)
            except RuntimeError as exc:  # an op that cannot be captured: this shape runs op by op
                self._captured[key] = None
                self.uncaptured.append(f"{key}: {str(exc).splitlines()[0]}")
            while len(self._captured) > MAX_GRAPHS:
                self._captured.popitem(last=False)
        self._captured.move_to_end(key)
        captured = self._captured[key]
        return captured(tensors) if captured is not None else self.graph.run(tensors)


class TorchBackend(InferenceBackend):
    def __init__(self, device: str = "cuda", threads: int = 1, cuda_graphs: bool = True):
        if device not in INSTALL_HINT:
            raise ValueError(f"device must be one of {sorted(INSTALL_HINT)}")
        self.device = device
        self.threads = threads
        self.cuda_graphs = cuda_graphs
        self.name = f"torch-{device}"  # type: ignore[assignment]
        self.loaded = {}
        self.models: dict[str, TorchModel] = {}

    def probe(self) -> str | None:
        try:
            _import_torch(self.device)
        except BackendError as exc:
            return str(exc)
        return None

    def load(self, path: Path) -> TorchModel:
        torch = _import_torch(self.device)
        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        try:
            model = TorchModel(path, torch, self.device, self.cuda_graphs)
        except (BackendError, ModelError):
            raise
        except Exception as exc:
            raise ModelError(f"PyTorch cannot run {path}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc
        self.models[path.stem] = model
        self._loaded(path, model.device)
        return model

    def describe(self) -> dict:
        torch = _import_torch(self.device)
        info = {**super().describe(), "torch": torch.__version__, "cuda_graphs": self.cuda_graphs}
        if self.device == "cuda":
            info["gpu"] = torch.cuda.get_device_name()
            info["cuda"] = torch.version.cuda
        else:
            info["intra_op_threads"] = self.threads
        uncaptured = {name: m.uncaptured for name, m in self.models.items() if m.uncaptured}
        if uncaptured:
            info["uncaptured_shapes"] = uncaptured
        return info
