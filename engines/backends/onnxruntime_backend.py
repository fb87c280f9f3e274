"""ONNX Runtime, on the CPU or on CUDA.

Which provider really runs a session is read from `session.get_providers()` after
creation: `get_available_providers()` lists CUDA on machines with no GPU, and a
failed CUDA load only logs a warning and falls back to the CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.backends.base import CompiledModel, InferenceBackend, TensorSpec
from engines.errors import BackendError, ModelError

INSTALL_HINT = {
    "cpu": "pip install onnxruntime (./install.sh does)",
    "gpu": "pip install --force-reinstall --no-deps onnxruntime-gpu (./install.sh --gpu does)",
}
PROVIDERS = {"cpu": ["CPUExecutionProvider"], "gpu": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def _import_ort(device: str):
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(f"ONNX Runtime is not installed: {INSTALL_HINT[device]}") from exc
    return onnxruntime


class OnnxRuntimeModel(CompiledModel):
    def __init__(self, session):
        self.session = session
        self.inputs = tuple(TensorSpec(i.name, tuple(i.shape), i.type) for i in session.get_inputs())
        self.outputs = tuple(TensorSpec(o.name, tuple(o.shape), o.type) for o in session.get_outputs())
        self.device = session.get_providers()[0]
        self._output_names = [o.name for o in self.outputs]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(self._output_names, feeds)


class OnnxRuntimeBackend(InferenceBackend):
    def __init__(self, device: str = "cpu", threads: int = 1):
        if device not in PROVIDERS:
            raise ValueError(f"device must be one of {sorted(PROVIDERS)}")
        self.device = device
        self.threads = threads
        self.name = f"onnxruntime-{device}"

    def _options(self):
        ort = _import_ort(self.device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # provider fallbacks are reported by us, once
        return ort, options

    def _session(self, model: bytes | str):
        ort, options = self._options()
        session = ort.InferenceSession(model, options, providers=PROVIDERS[self.device])
        if self.device == "gpu" and session.get_providers()[0] != "CUDAExecutionProvider":
            raise BackendError("onnxruntime-gpu: the CUDA provider did not load (no GPU, or CUDA libraries missing)")
        return session

    def probe(self) -> str | None:
        try:
            ort = _import_ort(self.device)
        except BackendError as exc:
            return str(exc)
        if self.device == "gpu":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                return "onnxruntime-gpu is not installed (this ONNX Runtime build has no CUDA provider)"
            try:
                self._session(_identity_model())
            except BackendError as exc:
                return str(exc)
            except Exception as exc:  # the runtime's own failures, reported in one line
                return f"onnxruntime-gpu failed to start: {exc}"
        return None

    def load(self, path: Path) -> OnnxRuntimeModel:
        try:
            return OnnxRuntimeModel(self._session(str(path)))
        except BackendError:
            raise
        except Exception as exc:  # ONNX Runtime raises its own exception types for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"ONNX Runtime cannot load {path}: {first}") from exc

    def describe(self) -> dict:
        ort = _import_ort(self.device)
        return {"name": self.name, "onnxruntime": ort.__version__, "intra_op_threads": self.threads}


def _identity_model() -> bytes:
    """A one-node model, enough to see which provider a session really gets."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()
