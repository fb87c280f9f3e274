"""The shipped explainer adapter: merged into the packaged base at install, rebuilt when it changes, never over
a model the user trained, refused when it or its base is not what its manifest says."""

from __future__ import annotations

import json
import shutil

import pytest

from engines.errors import ModelError
from engines.slow.llm_models import TRAINED_LLM, resolve_llm, trained_path
from export.models.shipped_explainer import (
    SHIPPED_ADAPTER,
    build_from_shipped,
    read_adapter,
    shipped_build_needed,
    write_adapter_manifest,
)


def _about() -> dict:
    return json.loads(SHIPPED_ADAPTER.with_name(SHIPPED_ADAPTER.name + ".json").read_text())


def test_the_shipped_adapter_is_the_trained_one_and_says_what_it_was_measured_at():
    adapter, about = read_adapter()
    assert about["base"]["name"] == "smollm2-135m" and about["prompt"] == "facts-only"
    assert adapter["rank"] == 8 and len(adapter["weights"]) == 2 * 5 * 30  # A and B, 5 projections, 30 layers
    trained = about["metrics"]["trained"]
    # the figures measured on held-out windows when it was trained (README: emolens' own explainer)
    assert trained["grounded_rate"] >= 0.95 and trained["json_valid_rate"] == 1.0
    assert trained["grounded_rate"] > about["metrics"]["base"]["grounded_rate"]


def test_export_models_builds_the_trained_explainer_once_from_the_shipped_adapter(model_dir):
    # the session's model folder went through export_models, as ./install.sh does
    path = trained_path(model_dir)
    built = json.loads(path.with_name(path.name + ".json").read_text())
    assert built["adapter"] == {"shipped": True, "sha256": _about()["sha256"], "file": str(SHIPPED_ADAPTER)}
    assert built["metrics"] == _about()["metrics"] and built["source"].startswith("shipped adapter ")
    assert isinstance(built["same_as_evaluated"], bool)  # True here; another BLAS may round a last bit
    lines: list[str] = []
    model = resolve_llm(None, model_dir, progress=lines.append)
    assert (model.name, model.prompt, lines) == (TRAINED_LLM, "facts-only", [])
    assert shipped_build_needed(model_dir) is None
    assert build_from_shipped(model_dir, progress=lines.append) is None and lines == []


def test_a_changed_adapter_is_due_a_rebuild_but_a_model_the_user_trained_is_kept(tmp_path, model_dir):
    folder = tmp_path / "models"
    folder.mkdir()
    for name in (f"{TRAINED_LLM}.gguf", f"{TRAINED_LLM}.gguf.json"):
        shutil.copy(model_dir / name, folder / name)
    adapter = tmp_path / SHIPPED_ADAPTER.name
    shutil.copy(SHIPPED_ADAPTER, adapter)
    about = _about()
    write_adapter_manifest(adapter, about["scaling"], about["rank"], {k: about[k] for k in ("prompt", "base")})
    assert shipped_build_needed(folder, adapter) is None  # the same bytes: nothing to do
    with open(adapter, "ab") as f:  # a new adapter (here: the same one with a byte more, and its new manifest)
        f.write(b"\0")
    write_adapter_manifest(adapter, about["scaling"], about["rank"], {k: about[k] for k in ("prompt", "base")})
    assert shipped_build_needed(folder, adapter) == "the shipped adapter changed"

    manifest_path = folder / f"{TRAINED_LLM}.gguf.json"
    user = json.loads(manifest_path.read_text())
    user["adapter"]["shipped"] = False  # as `emolens train-explainer` writes it
    manifest_path.write_text(json.dumps(user))
    assert shipped_build_needed(folder, adapter) is None
    (folder / f"{TRAINED_LLM}.gguf").unlink()
    assert shipped_build_needed(folder, adapter) == f"no {TRAINED_LLM}.gguf yet"


def test_a_damaged_adapter_or_another_base_is_refused_with_the_fix(tmp_path, model_dir):
    adapter = tmp_path / SHIPPED_ADAPTER.name
    shutil.copy(SHIPPED_ADAPTER, adapter)
    shutil.copy(SHIPPED_ADAPTER.with_name(SHIPPED_ADAPTER.name + ".json"), tmp_path / (adapter.name + ".json"))
    about = _about()
    with open(adapter, "r+b") as f:
        f.truncate(about["size"] // 2)
    with pytest.raises(ModelError, match="git checkout"):
        read_adapter(adapter)

    shutil.copy(SHIPPED_ADAPTER, adapter)
    foreign = {**about, "base": {**about["base"], "sha256": "0" * 64}}
    (tmp_path / (adapter.name + ".json")).write_text(json.dumps(foreign))
    with pytest.raises(ModelError, match="was trained on smollm2-135m .000000000000., not on the installed"):
        build_from_shipped(tmp_path / "models", adapter, progress=lambda line: None)
    assert not trained_path(tmp_path / "models").exists()
