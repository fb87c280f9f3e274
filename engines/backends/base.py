"""The one interface every inference runtime implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

BackendName = Literal["tensorrt", "onnxruntime-gpu", "torch-cuda", "onnxruntime-cpu", "torch-cpu"]
NVIDIA_DEVICES = ("/dev/nvidiactl", "/proc/driver/nvidia/version", "/dev/dxg")  # Linux, containers, WSL2


def nvidia_driver_present() -> bool:
    """Whether an NVIDIA driver is on this machine at all: checked before a GPU runtime is imported, since
    importing torch only to learn there is no GPU costs seconds at every start."""
    return any(Path(p).exists() for p in NVIDIA_DEVICES)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str | None, ...]  # None or a name for dynamic axes
    dtype: str


class CompiledModel(ABC):
    """A model loaded and ready on one device. `run` is called from one thread at a time."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    device: str  # what actually runs it, e.g. "CPUExecutionProvider"
    device_type: str = "cpu"  # where its inputs can already lie: "cpu" or "cuda" (torch's device names)
    layout: str = "NCHW"  # how an image input is laid out; NHWC where the runtime takes it so (LiteRT)

    @abstractmethod
    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...

    def run_device(self, feeds: dict) -> list[np.ndarray]:
        """Like `run`, for inputs that are torch tensors already on `device_type`: no copy on the way in."""
        raise NotImplementedError(f"{type(self).__name__} takes host arrays only")


class InferenceBackend(ABC):
    """A runtime (ONNX Runtime on CPU or CUDA, TensorRT, ...) that turns model files into `CompiledModel`s.

    `loaded` is the one record every backend keeps of its models: what each really runs on, or how it was
    loaded (a provider, an engine built or read from the cache), for session.json.
    """

    name: BackendName
    loaded: dict[str, str]

    @abstractmethod
    def probe(self) -> str | None:
        """None if this backend can run here; otherwise the reason it cannot, in one line."""

    @abstractmethod
    def load(self, path: Path) -> CompiledModel: ...

    def _loaded(self, path: Path, how: str) -> None:
        if not hasattr(self, "loaded"):
            self.loaded = {}
        self.loaded[path.stem] = how

    def describe(self) -> dict:
        return {"name": self.name, "models": dict(getattr(self, "loaded", {}))}
