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


def test_actions_that_contradict_the_label_are_stated_and_make_the_window_ambiguous():
    sad_but_smiling = _window("sad", SMILE, reading="happy", disagrees=True)
    fact = next(f for f in sad_but_smiling.facts if f.cue == "actions_disagree")
    assert fact.text == "the facial actions show happy, not sad, on 100% of the frames"
    assert sad_but_smiling.action_disagreement == 1.0
    assert is_ambiguous(sad_but_smiling, GateSettings()) and not is_ambiguous(_window("sad", STILL), GateSettings())
    p = f"{sad_but_smiling.confidence:.2f}"
    _answer(sad_but_smiling, f"Sad at {p}, but the facial actions show happy: the lip corners pulled up.")
    check_answer(json.dumps(template_answer(sad_but_smiling)), sad_but_smiling)
