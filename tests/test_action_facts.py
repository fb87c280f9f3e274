"""Facial actions as evidence: a window whose actions moved states them with their sizes, the words for them
are allowed exactly then, and actions that contradict the label make the window ambiguous for the gate."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from engines.contracts import EMOTIONS, FacialActions, LandmarkCues
from engines.slow.evidence import EvidenceBuilder, FaceSample
from engines.slow.gate import GateSettings, is_ambiguous
from engines.slow.grounding import Ungrounded, check_answer
from engines.slow.template import template_answer

STILL = FacialActions(
    **{name: 0.0 for name in ("inner_brow_raise", "outer_brow_raise", "brow_lowering", "eye_opening_right")},
    eye_opening_left=0.0, lid_tightening=0.0, cheek_raise=0.0, lip_corner_pull=0.0, lip_stretch=0.0,
    lips_parted=0.0, jaw_drop=0.0, lip_press=0.0, blink=False, blink_rate=None, head_yaw_deg=0.0,
    head_pitch_deg=0.0, head_roll_deg=0.0, gaze_x=0.0, gaze_y=0.0,
)  # fmt: skip
SMILE = replace(STILL, lip_corner_pull=4.0, cheek_raise=3.0)


def _window(label: str, actions: FacialActions, reading: str | None = None, disagrees: bool = False):
    probs = np.full(len(EMOTIONS), 0.05)
    probs[EMOTIONS.index(label)] = 0.7
    probs /= probs.sum()
    builder = EvidenceBuilder()
    for i in range(20):
        t = 2.0 + i / 30
        sample = FaceSample(t, 1, probs, False, 0.6, 0.3, LandmarkCues(0.6, 0.5, 0.0, 0.0), actions, reading, disagrees)
        builder.add(t, [sample])
    (evidence,) = builder.flush()
    return evidence


def _answer(evidence, text: str) -> dict:
    raw = json.dumps(
        {"label": evidence.label, "confidence": evidence.confidence, "cues": [evidence.facts[0].cue],
         "explanation": text}
    )  # fmt: skip
    return check_answer(raw, evidence)


def test_a_smile_is_stated_with_its_size_and_may_be_cited_and_a_still_face_may_not_be():
    smiling = _window("happy", SMILE, reading="happy")
    cues = smiling.cue_ids
    assert "action_lip_corner_pull" in cues and "action_cheek_raise" in cues and "actions_agree" in cues
    pull = next(f for f in smiling.facts if f.cue == "action_lip_corner_pull")
    assert pull.text == "the lip corners pulled up by 4.0%"
    assert template_answer(smiling)["explanation"]  # the fallback passes its own check
    check_answer(json.dumps(template_answer(smiling)), smiling)
    p = f"{smiling.confidence:.2f}"
    _answer(smiling, f"Happy at {p}: the lip corners pulled up by 4.0% and the cheeks rose.")
    with pytest.raises(Ungrounded):  # the number after "lip corners" must be the lip corners' own
        _answer(smiling, f"Happy at {p}: the lip corners pulled up by 3.0%, as usual.")
    with pytest.raises(Ungrounded):  # no brow fact: brows stay unmeasured words
        _answer(smiling, f"Happy at {p}: the brows rose and the lip corners pulled up.")

    still = _window("happy", STILL)
    assert not any(c.startswith("action") for c in still.cue_ids)
    with pytest.raises(Ungrounded):
        _answer(still, f"Happy at {still.confidence:.2f}: the cheeks rose.")

    # the grammar makes the model cite a moved action first, and only where one moved
    from engines.slow.prompt import build_grammar

    first = next(line for line in build_grammar(smiling).splitlines() if line.startswith("first ::="))
    assert 'action_lip_corner_pull\\""' in first and 'action_cheek_raise\\""' in first and "agree" not in first
    assert next(line for line in build_grammar(still).splitlines() if line.startswith("first ::=")) == "first ::= cue"


def test_an_actions_verb_names_its_own_size_and_same_sized_facts_are_no_repetition():
    """ "the outer brows rose by 3.7%" beside a probability trend: "rose" is the brows' verb there, not the trend's
    (the binding check once read 3.7% as the trend's and refused the model's sentence and the template)."""
    moving = replace(STILL, outer_brow_raise=3.7, brow_lowering=4.8, lip_press=4.8)
    evidence = _window("angry", moving)
    trend = next((f for f in evidence.facts if f.cue == "trend"), None)
    assert trend is None  # a steady window; the trend's words are tested on a built one below
    check_answer(json.dumps(template_answer(evidence)), evidence)
    p = f"{evidence.confidence:.2f}"
    _answer(evidence, f"Angry at {p}: the outer brows rose by 3.7% and the lips pressed together by 4.8%.")
    with pytest.raises(Ungrounded):
        _answer(evidence, f"Angry at {p}: the outer brows rose by 4.8%.")


def test_actions_that_contradict_the_label_are_stated_and_make_the_window_ambiguous():
    sad_but_smiling = _window("sad", SMILE, reading="happy", disagrees=True)
    fact = next(f for f in sad_but_smiling.facts if f.cue == "actions_disagree")
    assert fact.text == "the facial actions show happy, not sad, on 100% of the frames"
    assert sad_but_smiling.action_disagreement == 1.0
    assert is_ambiguous(sad_but_smiling, GateSettings()) and not is_ambiguous(_window("sad", STILL), GateSettings())
    p = f"{sad_but_smiling.confidence:.2f}"
    _answer(sad_but_smiling, f"Sad at {p}, but the facial actions show happy: the lip corners pulled up.")
    check_answer(json.dumps(template_answer(sad_but_smiling)), sad_but_smiling)


def test_explanations_of_the_expression_clip_cite_the_actions_that_moved_and_bind_every_number(tmp_path, model_dir):
    """`emolens analyze --explain` on the clip whose faces move (held out of the explainer's training): every
    explanation written, the model's and the template's, states only what its evidence holds and binds each
    number to its own fact; where an action clearly moved, most explanations cite one."""
    from conftest import EXPRESSIONS_CLIP, run_emolens

    from engines.slow.action_facts import cites_an_action, moved_actions
    from engines.slow.evidence import written_probabilities
    from engines.slow.grounding import check_sentence
    from export.explanation_records import evidence_from_record

    # the gate as `bench --app` keeps the explainer busy: each face explained again every second, so the windows
    # where an action moved are explained too (the default gate reasons only where the fast path is unsure)
    gate = tmp_path / "gate.json"
    gate.write_text(json.dumps({"stale_s": 1.0, "max_per_minute": 120}))
    out = tmp_path / "session"
    r = run_emolens("analyze", str(EXPRESSIONS_CLIP), "--out", str(out), "--explain", "--gate", str(gate), "--quiet")
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in (out / "explanations.jsonl").read_text().splitlines()]
    moved = []
    for rec in records:
        evidence = evidence_from_record(rec)
        check_sentence(rec["text"], evidence)  # lexical and bound
        answer = {k: rec[k] for k in ("label", "confidence", "cues")} | {"explanation": rec["text"]}
        check_answer(json.dumps(answer), evidence)
        p1, p2 = written_probabilities(evidence)
        assert rec["measured"]["margin"] == pytest.approx(float(p1) - float(p2), abs=0.01)
        if moved_actions(evidence):
            moved.append(rec)
    cited = [rec for rec in moved if cites_an_action(rec["cues"])]
    by_model = [rec for rec in moved if rec["source"] == "llm"]
    print(
        f"\nexpressions.mp4: {len(records)} explanations, {len(moved)} of windows where an action moved; "
        f"{len(cited)} of those cite an action ({sum(r['source'] == 'llm' for r in cited)} by the model); "
        + "; ".join(f"{r['window'][0]:.0f}-{r['window'][1]:.0f} s: {r['text']}" for r in moved[:4])
    )
    assert len(moved) >= 2 and by_model
    assert len(cited) > len(moved) / 2
