"""EngineCache: compiled engines on disk, keyed by everything that makes one engine valid.

A TensorRT engine is only good for the GPU model, the TensorRT version and the
exact ONNX file it was built from (and the precision and shape profile asked
for). The key hashes all of them; a sidecar JSON says what they were and the
engine's own sha256. A file that does not match (a new driver, a truncated
write, another GPU) is rebuilt, never loaded and never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class EngineIdentity:
    gpu: str  # the device's name, e.g. "NVIDIA H100 80GB HBM3"
    runtime: str  # e.g. "tensorrt 10.13.0"
    onnx_sha256: str
    precision: str  # fp16 | fp32
    profile: str  # the optimisation profile, e.g. "batch 1/8/32"

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:20]


class EngineCache:
    def __init__(self, root: Path):
        self.root = root

    def paths(self, name: str, identity: EngineIdentity) -> tuple[Path, Path]:
        stem = f"{name}-{identity.key}"
        return self.root / f"{stem}.engine", self.root / f"{stem}.json"

    def problem(self, name: str, identity: EngineIdentity) -> str | None:
        """Why the cached engine cannot be used, or None when it can."""
        engine, sidecar = self.paths(name, identity)
        if not engine.exists() or not sidecar.exists():
            return "not built yet"
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            return "its description is unreadable"
        if meta.get("identity") != asdict(identity):
            return "it was built for another GPU, runtime or model"
        data = engine.read_bytes()
        if len(data) != meta.get("size") or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return "the engine file is truncated or altered"
        return None

    def load_or_build(
        self,
        name: str,
        identity: EngineIdentity,
        build: Callable[[], bytes],
        progress: Callable[[str], None] = lambda line: None,
    ) -> tuple[bytes, str]:
        """The engine's bytes, and what happened: `loaded`, or `built (why)`."""
        engine, sidecar = self.paths(name, identity)
        problem = self.problem(name, identity)
        if problem is None:
            return engine.read_bytes(), "loaded"
        progress(f"building the {name} engine for {identity.gpu} ({problem}); this takes a minute, once")
        data = build()
        self.root.mkdir(parents=True, exist_ok=True)
        for path, content in (
            (engine, data),
            (
                sidecar,
                json.dumps(
                    {"identity": asdict(identity), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
                    indent=2,
                ).encode(),
            ),
        ):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(content)
            os.replace(tmp, path)
        return data, f"built ({problem})"

    def discard(self, name: str, identity: EngineIdentity) -> None:
        """Drops an engine the runtime refused to load, so that the next start builds it again."""
        for path in self.paths(name, identity):
            path.unlink(missing_ok=True)
