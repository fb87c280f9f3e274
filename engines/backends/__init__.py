"""Inference backends as plug-ins: chosen by name, or `auto` picks the fastest that works here.

Each plug-in imports its runtime only when chosen, so a missing runtime costs an
install hint, not an ImportError at start-up. A backend asked for by name that
cannot start here gives way to the next one down the table, and the reason says
so in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engines.backends.base import CompiledModel, InferenceBackend, TensorSpec
from engines.errors import BackendError


def _onnxruntime(device: str) -> Callable[[int], InferenceBackend]:
    def make(threads: int) -> InferenceBackend:
        from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(device, threads)

    return make


def _torch(device: str) -> Callable[[int], InferenceBackend]:
    def make(threads: int) -> InferenceBackend:
        from engines.backends.torch_backend import TorchBackend

        return TorchBackend(device, threads)

    return make


def _tensorrt(threads: int) -> InferenceBackend:
    from engines.backends.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(threads)


# Fastest first: the order `auto` tries them in.
BACKENDS: dict[str, Callable[[int], InferenceBackend]] = {
    "tensorrt": _tensorrt,
    "onnxruntime-gpu": _onnxruntime("gpu"),
    "torch-cuda": _torch("cuda"),  # PyTorch's wheels carry their own CUDA: works where onnxruntime-gpu's does not load
    "onnxruntime-cpu": _onnxruntime("cpu"),
    "torch-cpu": _torch("cpu"),  # the same graph runner on the CPU: a check of torch-cuda anywhere, not a speed-up
}


@dataclass(frozen=True)
class BackendChoice:
    backend: InferenceBackend
    reason: str  # why this one: for session.json and the status bar


def choose_backend(name: str = "auto", threads: int = 1) -> BackendChoice:
    order = list(BACKENDS)
    if name != "auto":
        if name not in BACKENDS:
            raise BackendError(f"unknown backend {name!r}; choose one of: auto, {', '.join(BACKENDS)}")
        backend = BACKENDS[name](threads)
        problem = backend.probe()
        if problem is None:
            return BackendChoice(backend, f"{name} requested")
        for fallback in order[order.index(name) + 1 :]:  # the next one down that works, said in one line
            backend = BACKENDS[fallback](threads)
            if backend.probe() is None:
                return BackendChoice(backend, f"{name} requested but cannot run here ({problem}); using {fallback}")
        raise BackendError(problem)
    skipped = []
    for candidate, make in BACKENDS.items():
        backend = make(threads)
        problem = backend.probe()
        if problem is None:
            why = f"auto: {candidate} is the fastest backend that works here"
            return BackendChoice(backend, why + (f" (skipped {'; '.join(skipped)})" if skipped else ""))
        skipped.append(f"{candidate}: {problem}")
    raise BackendError("no inference backend works here: " + "; ".join(skipped))


__all__ = ["BACKENDS", "BackendChoice", "CompiledModel", "InferenceBackend", "TensorSpec", "choose_backend"]
