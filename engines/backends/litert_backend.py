"""LiteRT (TensorFlow Lite's runtime, with XNNPACK) for the models whose source is a TFLite file, on a CPU.

The face mesh and iris models are MediaPipe's TFLite files; the export chain
converts them to ONNX for every backend, and keeps the verified original beside
the ONNX copy. On a CPU, XNNPACK runs their depthwise convolutions about 2.8
times faster than ONNX Runtime runs the converted graph (0.8 against 2.3 ms a
face for the mesh, one thread), so the fast path runs the original there. It
takes the same NCHW input as the ONNX copy and returns the outputs in the
manifest's order. It takes its input as TFLite does, NHWC (`layout`), so the caller cuts its crops straight
into that layout rather than transposing them twice.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np

from engines.backends.base import CompiledModel, TensorSpec
from engines.errors import ModelError


@contextlib.contextmanager
def quiet_stderr():
    """File descriptor 2 sent to /dev/null while LiteRT starts: its C++ logger has no setting for its INFO line,
    which would otherwise be the first thing a user reads on every run."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class LiteRtModel(CompiledModel):
    device_type = "cpu"
    layout = "NHWC"

    def __init__(self, path: Path, threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError("ai-edge-litert is not installed: run ./install.sh (pip install ai-edge-litert)") from exc
        self.path = path
        with quiet_stderr():  # LiteRT writes "INFO: Created TensorFlow Lite XNNPACK delegate" there, every time
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self._interpreter.allocate_tensors()
        (detail,) = self._interpreter.get_input_details()
        self._input = detail["index"]
        _, h, w, c = (int(x) for x in detail["shape"])
        self._outputs = [d["index"] for d in self._interpreter.get_output_details()]
        self.inputs = (TensorSpec(detail["name"], (None, h, w, c), "float32"),)
        self.outputs = tuple(
            TensorSpec(d["name"], (None, int(np.prod(d["shape"][1:]))), "float32")
            for d in self._interpreter.get_output_details()
        )
        self.device = "LiteRT XNNPACK (CPU)"

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feeds.values()
        rows: list[list[np.ndarray]] = [[] for _ in self._outputs]
        for image in np.ascontiguousarray(batch, dtype=np.float32):
            self._interpreter.set_tensor(self._input, image[None])
            self._interpreter.invoke()
            for out, index in zip(rows, self._outputs, strict=True):
                out.append(self._interpreter.get_tensor(index).reshape(-1).copy())
        return [
            np.stack(out) if out else np.zeros((0, spec.shape[1]), np.float32)
            for out, spec in zip(rows, self.outputs, strict=True)
        ]
