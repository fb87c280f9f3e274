"""emolens' own explainer: the training data never states what its evidence lacks, the merged GGUF loads and
answers under the grammar, and without a trained file the packaged base is used and said once."""

from __future__ import annotations

import json
import re
from collections import Counter

import gguf
import numpy as np
import pytest
from conftest import GROUP_CLIP, run_emolens

from engines.contracts import EMOTIONS
from engines.errors import ModelError
from engines.slow.evidence import written_probabilities
from engines.slow.grounding import Ungrounded, check_answer, evidence_quantities
from engines.slow.llm_models import DEFAULT_LLM, TRAINED_LLM, resolve_llm, trained_path
from training.explainer_data import CLIP_SPLITS, build_examples, sampled_track

torch = pytest.importorskip("torch", reason="training needs torch, transformers and peft: ./install.sh --train")


@pytest.fixture(scope="module")
def examples(model_dir):
    return build_examples(sampled_tracks=80, seed=3, progress=lambda line: None)


def test_no_target_states_a_fact_missing_from_its_evidence(examples):
    for e in examples:
        answer = check_answer(e.target, e.evidence)  # numbers, cue words, emotions, grading: all in the evidence
        assert answer["label"] == e.evidence.label and set(answer["cues"]) <= set(e.evidence.cue_ids)
        assert e.prompt.endswith(e.evidence.facts[-1].text + "\nJSON: ")
        # the layout the grammar allows: the label's probability as the evidence wrote it, and no digit in the
        # sentence but the evidence's own quantities as written
        assert f'"confidence": {written_probabilities(e.evidence)[0]},' in e.target
        text = answer["explanation"]
        assert text[0].isupper() and text.endswith(".") and len(text) <= 160 and '"' not in text
        for written in sorted({q.written for q in evidence_quantities(e.evidence)}, key=len, reverse=True):
            text = text.replace(written, "")
        assert not re.search(r"\d", text), (answer["explanation"], e.evidence.facts)


def test_the_check_the_targets_pass_is_not_vacuous(examples):
    e = next(x for x in examples if "0.99" not in written_probabilities(x.evidence) and len(set(
        written_probabilities(x.evidence))) == 2)  # fmt: skip
    answer = json.loads(e.target)
    p1, p2 = written_probabilities(e.evidence)
    for wrong in (
        answer["explanation"][:-1] + ", at 0.99.",  # a number the evidence lacks
        answer["explanation"][:-1] + ", the brows raised.",  # a cue emolens does not measure
        f"{e.evidence.label.capitalize()} at {p2}, ahead of {e.evidence.second_label}.",  # the runner-up's number
    ):
        with pytest.raises(Ungrounded):
            check_answer(json.dumps({**answer, "explanation": wrong}), e.evidence)


def test_the_data_covers_every_case_and_splits_by_source(examples):
    cues = Counter(c for e in examples for c in e.evidence.cue_ids)
    for cue in ("label", "uncertain", "change", "trend", "mouth_width", "mouth_drop", "head_roll", "head_turn",
                "key_frames", "voice", "conflict", "blink_rate", "actions_agree", "actions_disagree",
                "action_cheek_raise", "action_lip_corner_pull", "action_inner_brow_raise", "action_jaw_drop",
                "action_eye_opening"):  # fmt: skip
        assert cues[cue] >= 5, (cue, cues)
    # the targets teach the model to say why: where an action moved, it is cited (conflict, uncertainty and the
    # actions' disagreement may take the two places first)
    moved = [e for e in examples if any(c.startswith("action_") for c in e.evidence.cue_ids)]
    cited = [e for e in moved if any(c.startswith("action_") for c in json.loads(e.target)["cues"])]
    assert len(cited) >= 0.8 * len(moved) > 50, (len(cited), len(moved))
    cited = Counter(c for e in examples for c in json.loads(e.target)["cues"])
    assert set(cited) >= set(cues) - {"label"}, cited
    assert set(Counter(e.evidence.label for e in examples)) == set(EMOTIONS)
    splits: dict[str, set] = {}
    for e in examples:
        splits.setdefault(e.source, set()).add(e.split)
    assert all(len(s) == 1 for s in splits.values()), "a source feeds more than one split"
    for clip, split in CLIP_SPLITS.items():
        assert splits[clip] == {split}
    assert {next(iter(s)) for s in splits.values()} == {"train", "validation", "test"}
    phrasings = {json.loads(e.target)["explanation"].split(" at ")[0] for e in examples}
    assert len(phrasings) > 20  # varied wording, not one template


def _adapter(seed: int = 0) -> dict:
    """Adapter weights laid out as peft names them, for two projections of one layer."""
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for module, shape in (("self_attn.v_proj", (192, 576)), ("mlp.down_proj", (576, 1536))):
        prefix = f"base_model.model.model.layers.4.{module}"
        weights[f"{prefix}.lora_A.default.weight"] = torch.randn(8, shape[1], generator=g) * 0.05
        weights[f"{prefix}.lora_B.default.weight"] = torch.randn(shape[0], 8, generator=g) * 0.05
    return {"weights": weights, "scaling": 2.0, "rank": 8}


def _tensor(reader, name: str) -> np.ndarray:
    return next(gguf.quants.dequantize(t.data, t.tensor_type) for t in reader.tensors if t.name == name)


def test_the_merged_gguf_carries_the_adapter_loads_and_answers_under_the_grammar(tmp_path, model_dir):
    from engines.slow.explainer import Explainer
    from engines.slow.llm_models import GgufModel
    from export.models.explainer_gguf import write_merged_gguf

    base = resolve_llm(DEFAULT_LLM)
    adapter = _adapter()
    out = tmp_path / "explainer.gguf"
    info = write_merged_gguf(base.path, adapter, out, "q8_0", progress=lambda line: None)
    assert info["merged_tensors"] == 2 and out.stat().st_size == info["size"]
    assert not list(tmp_path.glob("*.tmp"))
    before, after = gguf.GGUFReader(str(base.path)), gguf.GGUFReader(str(out))
    w = adapter["weights"]
    p = "base_model.model.model.layers.4.self_attn.v_proj"
    delta = (2.0 * (w[f"{p}.lora_B.default.weight"] @ w[f"{p}.lora_A.default.weight"])).numpy()
    got = _tensor(after, "blk.4.attn_v.weight") - _tensor(before, "blk.4.attn_v.weight")
    assert np.linalg.norm(got - delta) / np.linalg.norm(delta) < 0.15  # Q8_0 rounding of base plus delta
    untouched = _tensor(after, "blk.4.attn_q.weight") - _tensor(before, "blk.4.attn_q.weight")
    assert np.abs(untouched).max() < 0.02
    assert after.fields["tokenizer.chat_template"].contents() == before.fields["tokenizer.chat_template"].contents()

    windows = [ev for seed in range(3) for ev in sampled_track(seed)][:4]
    explainer = Explainer(GgufModel("t", out, info["sha256"], info["size"], "test"), threads=2)
    for ev in windows:
        x = explainer.explain(ev, "test")
        assert x.tokens > 0 and x.first_token_ms is not None
        if x.source == "llm":
            continue  # a complete answer that passed the check
        said = x.rejected.split(" | model said: ", 1)[1]
        # an untrained adapter may run out of tokens, but what it writes is the grammar's layout and labels
        written = re.match(r'\{"label": "(\w+)", "confidence": (\d\.\d\d), "cues": \["', said)
        assert written and written.group(1) in (ev.label, ev.second_label), said


def test_without_a_trained_model_the_base_is_used_and_said_once(tmp_path, model_dir):
    lines: list[str] = []
    empty = tmp_path / "models"
    first = resolve_llm(None, empty, progress=lines.append)
    again = resolve_llm(None, empty, progress=lines.append)
    assert first.name == again.name == DEFAULT_LLM and first.prompt == "few-shot"
    assert len(lines) == 1 and "no trained model" in lines[0] and "emolens train-explainer" in lines[0]
    assert "emolens export-models" in lines[0]
    with pytest.raises(ModelError, match="train-explainer"):
        resolve_llm(TRAINED_LLM, empty)

    # a model folder with the face models but no explainer GGUF (one that export-models did not complete)
    empty.mkdir()
    for path in model_dir.glob("*"):
        if path.suffix in (".onnx", ".tflite", ".dat", ".json") and not path.name.startswith(TRAINED_LLM):
            (empty / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "session"
    proc = run_emolens(
        "analyze", str(GROUP_CLIP), "--out", str(out), "--explain", "--quiet", "--max-frames", "45",
        env_extra={"EMOLENS_MODEL_DIR": str(empty)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not trained_path(empty).exists()  # a session does not build models behind the user's back
    assert proc.stderr.count("no trained model") == 1, proc.stderr
    model = json.loads((out / "session.json").read_text())["explainer"]["model"]
    assert model["name"] == DEFAULT_LLM and "no trained model" in model["note"]


def test_a_trained_model_is_preferred_and_checked(tmp_path, model_dir):
    from export.models.explainer_gguf import write_merged_gguf

    folder = tmp_path / "models"
    path = trained_path(folder)
    info = write_merged_gguf(resolve_llm(DEFAULT_LLM).path, _adapter(1), path, "q8_0", progress=lambda line: None)
    manifest = {"size": info["size"], "sha256": info["sha256"], "prompt": "facts-only", "source": "test training"}
    path.with_name(path.name + ".json").write_text(json.dumps(manifest))
    lines: list[str] = []
    model = resolve_llm(None, folder, progress=lines.append)
    assert (model.name, model.path, model.prompt, lines) == (TRAINED_LLM, path, "facts-only", [])
    with open(path, "r+b") as f:  # a copy cut short
        f.truncate(info["size"] - 4096)
    with pytest.raises(ModelError, match="emolens train-explainer` rebuilds it"):
        resolve_llm(None, folder)
