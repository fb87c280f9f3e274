"""Voice activity: silero's VAD, from the ONNX model the `silero-vad` package ships, on the CPU.

`emolens export-models` verifies the packaged file (size, sha256) and takes its
16 kHz network out as a model of its own (export/models/vad_16k.py); sessions
load that one, checked against its manifest.

The model reads 32 ms (512 samples at 16 kHz) at a time, with the previous
64 samples as context and a recurrent state; it answers the probability that
the chunk is speech.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from engines.errors import ModelError
from engines.model_assets import file_problem

RATE = 16000
CHUNK = 512
CONTEXT = 64
PACKAGE = "silero-vad==6.2.3"
FILE = "data/silero_vad.onnx"
SIZE = 2327524
SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
INSTALL_HINT = f"install it with `.venv/bin/pip install --no-deps {PACKAGE}` (or run ./install.sh)"


def packaged_vad_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the voice-activity model is not installed: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / FILE
    problem = file_problem(path, SIZE, SHA256)
    if problem:
        raise ModelError(f"the voice-activity model {path} {problem}: reinstall it ({INSTALL_HINT})")
    return path


class SileroVad:
    """The 16 kHz network `emolens export-models` takes out of the packaged model (verified by its manifest)."""

    def __init__(self, model_dir: Path | None = None):
        import onnxruntime as ort

        from engines.model_assets import VAD, load_asset

        self.asset = load_asset(VAD, model_dir)
        self.path = self.asset.path
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def __call__(self, chunk: np.ndarray) -> float:
        """Speech probability of one 512-sample chunk (float32, -1..1)."""
        x = np.concatenate([self._context, chunk.astype(np.float32, copy=False)])[None, :]
        prob, self._state = self._session.run(None, {"input": x, "state": self._state})
        self._context = chunk[-CONTEXT:].astype(np.float32, copy=True)
        return float(prob[0, 0])

    def describe(self) -> dict:
        return {**self.asset.summary(), "package": PACKAGE}
