"""TensorRT: each exported ONNX model compiled into an engine for this GPU, cached, reloaded next time.

Written against TensorRT 10's Python API (named I/O tensors, `execute_async_v3`).
Device buffers come from PyTorch's CUDA allocator, which the GPU machines carry.
Engines are built in FP16 where the GPU has fast FP16, with one optimisation
profile per model: batch 1 (live) to 32 faces, and for the detector, inputs from
64 to 1024 px a side. Built engines live in the model folder's `engines/`, keyed
by GPU, TensorRT version, ONNX sha256, precision and profile (`EngineCache`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.backends.base import CompiledModel, InferenceBackend, TensorSpec
from engines.backends.engine_cache import EngineCache, EngineIdentity
from engines.backends.shape_profile import profile_shapes
from engines.errors import BackendError, ModelError
from engines.model_assets import default_model_dir, sha256_file

INSTALL_HINT = (
    "TensorRT is not installed: `pip install tensorrt` (NVIDIA serves its wheels from its own package index) on a "
    "machine with an NVIDIA GPU and driver"
)


def _import():
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendError(INSTALL_HINT) from exc
    try:
        import torch
    except ImportError as exc:
        raise BackendError("the TensorRT backend keeps its buffers in PyTorch's CUDA memory: install torch") from exc
    if not torch.cuda.is_available():
        raise BackendError("TensorRT is installed but no CUDA GPU is visible")
    return tensorrt, torch


class TensorRTModel(CompiledModel):
    def __init__(self, engine, trt, torch):
        self._trt, self._torch = trt, torch
        self.engine = engine
        self.context = engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self._inputs = [n for n in names if engine.get_tensor_mode(n) == mode]
        self._outputs = [n for n in names if engine.get_tensor_mode(n) != mode]
        self.inputs = tuple(TensorSpec(n, tuple(engine.get_tensor_shape(n)), "tensor(float)") for n in self._inputs)
        self.outputs = tuple(TensorSpec(n, tuple(engine.get_tensor_shape(n)), "tensor(float)") for n in self._outputs)
        self.device = f"TensorRT on {torch.cuda.get_device_name()}"

    device_type = "cuda"

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        with torch.cuda.stream(self.stream):
            inputs = {
                name: torch.from_numpy(np.ascontiguousarray(feeds[name], dtype=np.float32)).cuda(non_blocking=True)
                for name in self._inputs
            }
            return self._execute(inputs)

    def run_device(self, feeds: dict) -> list[np.ndarray]:
        """Inputs already on the GPU (cut there by `DeviceFrames`): their addresses go straight to the engine."""
        self.stream.wait_stream(self._torch.cuda.current_stream())
        with self._torch.cuda.stream(self.stream):
            return self._execute({name: feeds[name].contiguous() for name in self._inputs})

    def _execute(self, inputs: dict) -> list[np.ndarray]:
        torch = self._torch
        for name, x in inputs.items():
            self.context.set_input_shape(name, tuple(x.shape))
            self.context.set_tensor_address(name, x.data_ptr())
        outputs = []
        for name in self._outputs:
            y = torch.empty(tuple(self.context.get_tensor_shape(name)), dtype=torch.float32, device="cuda")
            outputs.append(y)
            self.context.set_tensor_address(name, y.data_ptr())
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise BackendError("TensorRT failed to run the engine")
        self.stream.synchronize()
        return [y.cpu().numpy() for y in outputs]


class TensorRTBackend(InferenceBackend):
    name = "tensorrt"

    def __init__(self, threads: int = 1, cache_root: Path | None = None, progress=print):
        self.threads = threads
        self.cache = EngineCache(cache_root or default_model_dir() / "engines")
        self.progress = progress
        self.loaded = {}  # model -> "loaded" from the engine cache, or "built (why)"

    def probe(self) -> str | None:
        try:
            _import()
        except BackendError as exc:
            return str(exc)
        return None

    def identity(self, path: Path, trt, torch, fp16: bool) -> EngineIdentity:
        import onnx

        shapes = []
        for i in onnx.load(str(path), load_external_data=False).graph.input:
            dims = tuple(d.dim_value or d.dim_param or None for d in i.type.tensor_type.shape.dim)
            shapes.append(f"{i.name}:{profile_shapes(dims)}")
        return EngineIdentity(
            gpu=torch.cuda.get_device_name(),
            runtime=f"tensorrt {trt.__version__}",
            onnx_sha256=sha256_file(path),
            precision="fp16" if fp16 else "fp32",
            profile=";".join(shapes),
        )

    def _build(self, path: Path, trt, fp16: bool) -> bytes:
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(path.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelError(f"TensorRT cannot parse {path}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
        if fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            profile.set_shape(tensor.name, *profile_shapes(tuple(tensor.shape)))
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ModelError(f"TensorRT could not build an engine from {path}")
        return bytes(serialized)

    def load(self, path: Path) -> TensorRTModel:
        trt, torch = _import()
        fp16 = bool(getattr(trt.Builder(trt.Logger(trt.Logger.ERROR)), "platform_has_fast_fp16", True))
        identity = self.identity(path, trt, torch, fp16)
        name = path.stem
        data, how = self.cache.load_or_build(name, identity, lambda: self._build(path, trt, fp16), self.progress)
        engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(data)
        if engine is None:  # a file the runtime refuses despite its checksum: build it once more
            self.cache.discard(name, identity)
            data, how = self.cache.load_or_build(name, identity, lambda: self._build(path, trt, fp16), self.progress)
            engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(data)
            if engine is None:
                raise ModelError(f"TensorRT cannot load the engine it built from {path}")
        self._loaded(path, how)
        return TensorRTModel(engine, trt, torch)

    def describe(self) -> dict:
        trt, torch = _import()
        return {**super().describe(), "tensorrt": trt.__version__, "gpu": torch.cuda.get_device_name()}
