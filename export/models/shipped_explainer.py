"""The explainer's LoRA adapter, shipped in the repository, merged into the packaged base at install.

`emolens train-explainer` takes about 26 minutes on a laptop-class CPU; its
result, the adapter (rank 8, 2 M weights, 3.7 MB as float16), is small enough to
ship. Merging it into the base GGUF and quantising takes seconds, so a fresh
install gets the trained explainer without training. The adapter's manifest names
the base it was trained on (sha256), the data and settings, and the evaluation
that was measured on it; a base that does not match is not merged into.

A GGUF the user trained here is never replaced; one built from an older shipped
adapter is rebuilt when the shipped adapter changes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engines.errors import ModelError
from engines.model_assets import file_problem, sha256_file
from engines.slow.llm_models import DEFAULT_LLM, TRAINED_LLM, resolve_llm, trained_path
from export.models.explainer_gguf import float32_array, write_merged_gguf

ASSETS = Path(__file__).parent / "assets"
SHIPPED_ADAPTER = ASSETS / f"{TRAINED_LLM}-lora.npz"
FORMAT = 1


def write_adapter(adapter: dict, path: Path, about: dict) -> dict:
    """The adapter as float16 arrays (npz) and its manifest (`path`.json) with size, sha256 and `about`."""
    arrays = {name: float32_array(w).astype(np.float16) for name, w in adapter["weights"].items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")  # numpy adds .npz to a name without it
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return write_adapter_manifest(path, adapter["scaling"], adapter["rank"], about)


def write_adapter_manifest(path: Path, scaling: float, rank: int, about: dict) -> dict:
    """(Re)writes the manifest of an adapter file already written, e.g. once its evaluation is known."""
    manifest = {
        "format": FORMAT,
        "file": path.name,
        "size": path.stat().st_size,
        "sha256": sha256_file(path),
        "scaling": float(scaling),
        "rank": int(rank),
        "dtype": "float16",
        **about,
    }
    path.with_name(path.name + ".json").write_text(json.dumps(manifest, indent=2))
    return manifest


def read_adapter(path: Path = SHIPPED_ADAPTER) -> tuple[dict, dict]:
    """(adapter, manifest), checked against the manifest's size and sha256."""
    manifest_path = path.with_name(path.name + ".json")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"adapter manifest {manifest_path} is missing or unreadable: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ModelError(f"{manifest_path} is format {manifest.get('format')}, not {FORMAT}: update emolens")
    problem = file_problem(path, manifest["size"], manifest["sha256"])
    if problem:
        raise ModelError(f"explainer adapter {path} {problem}; restore it (git checkout) or run train-explainer")
    with np.load(path) as data:
        weights = {name: data[name].astype(np.float32) for name in data.files}
    return {"weights": weights, "scaling": manifest["scaling"], "rank": manifest["rank"]}, manifest


def shipped_build_needed(model_dir: Path, adapter: Path = SHIPPED_ADAPTER) -> str | None:
    """Why the trained GGUF should be built from the shipped adapter now, or None (present, or user-trained)."""
    if not adapter.exists():
        return None
    target = trained_path(model_dir)
    if not target.exists():
        return f"no {target.name} yet"
    try:
        built = json.loads(target.with_name(target.name + ".json").read_text())
    except (OSError, ValueError):
        return f"{target.name} has no readable manifest"
    shipped = built.get("adapter", {})
    if not shipped.get("shipped"):
        return None  # trained here by the user: theirs to replace
    expected = json.loads(adapter.with_name(adapter.name + ".json").read_text())["sha256"]
    if shipped.get("sha256") != expected:
        return "the shipped adapter changed"
    if file_problem(target, built["size"], built["sha256"]):
        return f"{target.name} does not match its manifest"
    return None


def build_from_shipped(
    model_dir: Path, adapter: Path = SHIPPED_ADAPTER, progress: Callable[[str], None] = print
) -> dict | None:
    """Merges the shipped adapter into the packaged base when needed; returns the GGUF's manifest, or None
    when nothing was built. A base that is not the one the adapter was trained on is an error that says so."""
    why = shipped_build_needed(model_dir, adapter)
    if why is None:
        return None
    started = time.perf_counter()
    weights, about = read_adapter(adapter)
    base = resolve_llm(DEFAULT_LLM, model_dir)
    if base.sha256 != about["base"]["sha256"]:
        raise ModelError(
            f"the shipped explainer adapter was trained on {about['base']['name']} ({about['base']['sha256'][:12]}),"
            f" not on the installed {base.name} ({base.sha256[:12]}): reinstall {about['base']['source']}"
        )
    progress(f"explainer: {why}; merging the shipped adapter into {base.name} (a few seconds, once)")
    out = trained_path(model_dir)
    export = write_merged_gguf(base.path, weights, out, about["quantization"], progress=lambda line: None)
    source = f"shipped adapter {about['sha256'][:12]} merged into {base.name} ({base.sha256[:12]})"
    adapter_info = {"shipped": True, "sha256": about["sha256"], "file": str(adapter)}
    manifest = {
        **explainer_manifest(out, export["sha256"], base, about, adapter_info, source),
        # the file the metrics were measured on, to the byte (a different BLAS may round a last bit otherwise)
        "same_as_evaluated": export["sha256"] == about.get("evaluated_gguf_sha256"),
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.with_name(out.name + ".json").write_text(json.dumps(manifest, indent=2))
    same = "byte for byte" if manifest["same_as_evaluated"] else "not byte for byte"
    progress(f"explainer: wrote {out} ({export['size'] / 1e6:.0f} MB; {same} the file its figures were measured on)")
    return manifest


def explainer_manifest(out: Path, sha256: str, base, about: dict, adapter: dict, source: str) -> dict:
    """What `emolens-explainer.gguf.json` says, whether the GGUF was trained here or merged from the shipped
    adapter: `adapter.shipped` tells the two apart (a shipped one may be replaced, a trained one never)."""
    return {
        "name": TRAINED_LLM,
        "file": out.name,
        "size": out.stat().st_size,
        "sha256": sha256,
        "prompt": about["prompt"],
        "source": f"{source}, {about['quantization']}",
        "adapter": adapter,
        "base": base.summary(),
        "data": about["data"],
        "training": about["training"],
        "quantization": about["quantization"],
        "metrics": about["metrics"],
    }
