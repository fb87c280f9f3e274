"""ONNX Runtime, on the CPU or on an NVIDIA GPU (its TensorRT provider where present, then CUDA).

Which provider really runs a session is read from `session.get_providers()` after
creation: `get_available_providers()` lists CUDA on machines with no GPU, and a
failed CUDA or TensorRT load only logs a warning and falls back.

On the GPU, inputs and outputs go through I/O binding: a tensor already on the
device (cut there by `DeviceFrames`) is bound by its address and read in place;
a host array is copied once, and only the small outputs come back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.backends.base import CompiledModel, InferenceBackend, TensorSpec
from engines.backends.shape_profile import ort_profile_options
from engines.errors import BackendError, ModelError
from engines.model_assets import default_model_dir

INSTALL_HINT = {
    "cpu": "pip install onnxruntime (./install.sh does)",
    "gpu": "pip install --force-reinstall --no-deps onnxruntime-gpu (./install.sh --gpu does)",
}
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def _import_ort(device: str):
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(f"ONNX Runtime is not installed: {INSTALL_HINT[device]}") from exc
    return onnxruntime


def gpu_providers(available: list[str], cache_dir: Path, inputs: dict[str, tuple], device_id: int = 0) -> list:
    """The provider list for a GPU session, fastest first, each with its options.

    TensorRT (when this ONNX Runtime build has it) compiles the model in FP16 and keeps
    its engines and timing cache in `cache_dir`: ONNX Runtime names each engine by the
    model's hash, the GPU's compute capability and the TensorRT version, so a changed
    model or GPU gets a new engine and the next start loads instead of building.
    """
    providers: list = []
    if "TensorrtExecutionProvider" in available:
        providers.append(
            (
                "TensorrtExecutionProvider",
                {
                    "device_id": device_id,
                    "trt_fp16_enable": True,
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(cache_dir),
                    "trt_timing_cache_enable": True,
                    "trt_timing_cache_path": str(cache_dir),
                    **ort_profile_options(inputs),
                },
            )
        )
    providers.append(
        (
            "CUDAExecutionProvider",
            {"device_id": device_id, "cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": True},
        )
    )
    providers.append("CPUExecutionProvider")
    return providers


class OnnxRuntimeModel(CompiledModel):
    def __init__(self, session, device_type: str = "cpu", device_id: int = 0):
        self.session = session
        self.inputs = tuple(TensorSpec(i.name, tuple(i.shape), i.type) for i in session.get_inputs())
        self.outputs = tuple(TensorSpec(o.name, tuple(o.shape), o.type) for o in session.get_outputs())
        self.device = session.get_providers()[0]
        self.device_type = device_type  # where its tensors live: "cpu" or "cuda"
        self.device_id = device_id
        self._output_names = [o.name for o in self.outputs]
        self._binding = session.io_binding()

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.device_type == "cpu":
            return self.session.run(self._output_names, feeds)
        self._binding.clear_binding_inputs()
        for name, array in feeds.items():
            self._binding.bind_cpu_input(name, np.ascontiguousarray(array))  # one copy to the GPU, in the run
        return self._run_bound()

    def run_device(self, feeds: dict) -> list[np.ndarray]:
        """Inputs that are torch tensors (float32): read in place when they lie on this model's device, else moved
        there once (preprocessing on a GPU feeding a CPU model, to check one against the other)."""
        self._binding.clear_binding_inputs()
        feeds = {name: self._here(tensor) for name, tensor in feeds.items()}  # kept alive through the run
        for name, tensor in feeds.items():
            self._binding.bind_input(
                name=name,
                device_type=self.device_type,
                device_id=self.device_id if self.device_type != "cpu" else 0,
                element_type=np.float32,
                shape=tuple(tensor.shape),
                buffer_ptr=tensor.data_ptr(),
            )
        if self.device_type == "cuda":  # ONNX Runtime reads on its own stream: torch's writes must be done
            import torch

            torch.cuda.current_stream().synchronize()
        return self._run_bound()

    def _here(self, tensor):
        if tensor.device.type != self.device_type:
            tensor = tensor.to("cpu" if self.device_type == "cpu" else f"cuda:{self.device_id}")
        return tensor.contiguous()

    def _run_bound(self) -> list[np.ndarray]:
        self._binding.clear_binding_outputs()
        for name in self._output_names:
            self._binding.bind_output(name, "cpu")  # the outputs are a few KB: they come back in the same run
        self.session.run_with_iobinding(self._binding)
        return self._binding.copy_outputs_to_cpu()


class OnnxRuntimeBackend(InferenceBackend):
    def __init__(self, device: str = "cpu", threads: int = 1, cache_dir: Path | None = None, device_id: int = 0):
        if device not in INSTALL_HINT:
            raise ValueError(f"device must be one of {sorted(INSTALL_HINT)}")
        self.device = device
        self.threads = threads
        self.device_id = device_id
        self.cache_dir = cache_dir or default_model_dir() / "engines" / "onnxruntime-tensorrt"
        self.name = f"onnxruntime-{device}"  # type: ignore[assignment]
        self.loaded = {}  # model -> the provider that really runs it

    def _options(self):
        ort = _import_ort(self.device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # provider fallbacks are reported by us, once
        return ort, options

    def _session(self, model: bytes | str, inputs: dict[str, tuple]):
        ort, options = self._options()
        if self.device == "cpu":
            return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        providers = gpu_providers(ort.get_available_providers(), self.cache_dir, inputs, self.device_id)
        session = ort.InferenceSession(model, options, providers=providers)
        if session.get_providers()[0] not in GPU_PROVIDERS:
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
                self._session(_identity_model(), {"x": (1,)})
            except BackendError as exc:
                return str(exc)
            except Exception as exc:  # the runtime's own failures, reported in one line
                return f"onnxruntime-gpu failed to start: {exc}"
        return None

    def load(self, path: Path) -> OnnxRuntimeModel:
        try:
            # the declared shapes are for the GPU providers' profiles; reading them imports onnx (0.9 s)
            session = self._session(str(path), {} if self.device == "cpu" else _onnx_inputs(path))
        except BackendError:
            raise
        except Exception as exc:  # ONNX Runtime raises its own exception types for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"ONNX Runtime cannot load {path}: {first}") from exc
        model = OnnxRuntimeModel(session, "cpu" if self.device == "cpu" else "cuda", self.device_id)
        self._loaded(path, model.device)
        return model

    def describe(self) -> dict:
        ort = _import_ort(self.device)
        info = {**super().describe(), "onnxruntime": ort.__version__, "intra_op_threads": self.threads}
        if self.device == "gpu":
            info["engine_cache"] = str(self.cache_dir)
        return info


def _onnx_inputs(path: Path) -> dict[str, tuple]:
    """Input shapes as the file declares them (names for dynamic axes), for the TensorRT provider's profile.
    A file ONNX cannot parse gives none; ONNX Runtime then reports what is wrong with it."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # the session's own error, raised next, names the problem better
        return {}
    initializers = {i.name for i in graph.initializer}
    return {
        i.name: tuple(d.dim_value or d.dim_param or None for d in i.type.tensor_type.shape.dim)
        for i in graph.input
        if i.name not in initializers
    }


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
