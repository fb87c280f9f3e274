"""A second opinion from the facial actions: EMFACS-style expression prototypes.

The classifier (mini-Xception on FER2013) is one opinion; the actions are a second,
interpretable one. Each prototype is the set of action units that the emotion's
prototypical display shows (Friesen & Ekman's EMFACS-7, 1983, as tabulated by Lucey
et al. 2010, CK+, table 2): happy = cheek raise + lip-corner pull (AU6+12), sad =
inner brow raise + brow lowering + lip-corner depression (AU1+4+15), surprise = brow
raise + upper lid raise + jaw drop (AU1+2+5+26), fear = brows raised and drawn
together + lids raised and tightened + lip stretch + jaw drop (AU1+2+4+5+7+20+26),
angry = brow lowering + lid raise + lid tightening + lip press (AU4+5+7+24).
Disgust's units (nose wrinkle AU9, upper-lip raise AU10) are not measured: no
prototype for it, so the actions never claim or contradict disgust.

A prototype's score is the mean, over its units, of how far each moved toward its
"clearly moved" size (0 = at the baseline or the other way, 1 = at or beyond). The
actions read an emotion when its score is at least `clear`; they disagree with the
classifier when they read one emotion clearly and the classifier's own label scores
at most `contradicted` (a neutral label is contradicted by any clear reading).
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.contracts import FacialActions

# How far each action must move to count as clearly moved: displacements in % of the eye spacing (the
# synthetic warps and still faces put the mesh's noise near 0.5), eye opening in % of the usual.
CLEAR = {
    "inner_brow_raise": 3.0,
    "outer_brow_raise": 3.0,
    "brow_lowering": 2.5,
    "eye_opening": 15.0,
    "lid_tightening": 2.0,
    "cheek_raise": 2.0,
    "lip_corner_pull": 2.5,
    "lip_corner_depression": 2.0,
    "lip_stretch": 5.0,
    "jaw_drop": 6.0,
    "lip_press": 2.0,
}

PROTOTYPES: dict[str, tuple[str, ...]] = {
    "happy": ("cheek_raise", "lip_corner_pull"),
    "sad": ("inner_brow_raise", "brow_lowering", "lip_corner_depression"),
    "surprise": ("inner_brow_raise", "outer_brow_raise", "eye_opening", "jaw_drop"),
    "fear": (
        "inner_brow_raise",
        "outer_brow_raise",
        "brow_lowering",
        "eye_opening",
        "lid_tightening",
        "lip_stretch",
        "jaw_drop",
    ),
    "angry": ("brow_lowering", "eye_opening", "lid_tightening", "lip_press"),
}


def unit_values(actions: FacialActions) -> dict[str, float]:
    """Each unit's movement in its named direction (the two eyes averaged; lip-corner depression is the pull
    read downward)."""
    return {
        "inner_brow_raise": actions.inner_brow_raise,
        "outer_brow_raise": actions.outer_brow_raise,
        "brow_lowering": actions.brow_lowering,
        "eye_opening": (actions.eye_opening_right + actions.eye_opening_left) / 2,
        "lid_tightening": actions.lid_tightening,
        "cheek_raise": actions.cheek_raise,
        "lip_corner_pull": actions.lip_corner_pull,
        "lip_corner_depression": -actions.lip_corner_pull,
        "lip_stretch": actions.lip_stretch,
        "jaw_drop": actions.jaw_drop,
        "lip_press": actions.lip_press,
    }


def prototype_scores(actions: FacialActions) -> dict[str, float]:
    values = unit_values(actions)
    return {
        emotion: sum(min(max(values[u] / CLEAR[u], 0.0), 1.0) for u in units) / len(units)
        for emotion, units in PROTOTYPES.items()
    }


@dataclass(frozen=True)
class ActionOpinion:
    """What the actions read on one frame: the emotion they clearly show (None: none clearly), and whether that
    contradicts the classifier's label."""

    label: str | None
    score: float
    disagrees: bool


def action_opinion(
    actions: FacialActions, classifier_label: str, clear: float = 0.75, contradicted: float = 0.25
) -> ActionOpinion:
    scores = prototype_scores(actions)
    best = max(scores, key=scores.get)
    label = best if scores[best] >= clear else None
    if label is None or label == classifier_label or classifier_label == "disgust":
        return ActionOpinion(label, round(scores[best], 3), False)
    own = scores.get(classifier_label, 0.0)  # neutral has no prototype: any clear reading contradicts it
    return ActionOpinion(label, round(scores[best], 3), own <= contradicted)
