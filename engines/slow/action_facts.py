"""Facts about a face's facial actions over one window, for the explainer to cite.

An action is stated when its mean over the window's measured frames moved at
least its "clearly moved" size (engines/fast/action_prototypes.CLEAR, set above
what a face that does not move reads), with its size in percent (of the eye
spacing; the eyes' opening in percent of their usual, docs/facial-actions.md).
Each fact declares the words a sentence may use for it ("brow", "cheek", "lip
corner"...): words that were banned while emolens could not measure them are
allowed exactly when the window holds such a fact.
The actions' own reading (EMFACS prototypes) is stated when it agrees with the
label on most frames, and when it contradicts the label on many.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from engines.contracts import Evidence, FacialActions, Fact, Quantity
from engines.fast.action_prototypes import CLEAR, unit_values

# unit -> (how the fact says it moved, the subject's name, the words that name it in a sentence)
PHRASES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "inner_brow_raise": ("the inner brows rose", "inner brows", ("inner brow", "brow")),
    "outer_brow_raise": ("the outer brows rose", "outer brows", ("outer brow", "brow")),
    "brow_lowering": ("the brows lowered and drew together", "brows", ("brow", "frown", "furrow")),
    "eye_opening": ("the eyes opened wider", "eye opening", ("eye", "wide")),
    "lid_tightening": ("the lower lids rose", "lower lids", ("lid", "eye", "narrow")),
    "cheek_raise": ("the cheeks rose", "cheeks", ("cheek",)),
    "lip_corner_pull": ("the lip corners pulled up", "lip corners", ("lip corner", "lip", "corner", "smil")),
    "lip_corner_depression": ("the lip corners pulled down", "lip corners", ("lip corner", "lip", "corner")),
    "lip_stretch": ("the lips stretched wider", "lip stretch", ("lip", "stretch", "wider")),
    "jaw_drop": ("the jaw dropped", "jaw", ("jaw", "mouth open", "open mouth")),
    "lip_press": ("the lips pressed together", "lips", ("lip", "press")),
}
AGREE_SHARE = 0.5  # the actions read the label on at least this share of the measured frames: stated
DISAGREE_SHARE = 0.3  # they contradict it on at least this share: stated, and the window is ambiguous


@dataclass(frozen=True)
class ActionFrame:
    """What the actions say on one frame of a window."""

    t: float
    actions: FacialActions | None
    reading: str | None  # the emotion the actions clearly show
    disagrees: bool


def _num(value: float) -> str:
    return f"{value:.1f}"


def moved_facts(frames: list[ActionFrame]) -> list[Fact]:
    measured = [f for f in frames if f.actions is not None]
    if len(measured) < 3:
        return []
    values = [unit_values(f.actions) for f in measured]
    facts = []
    for unit, (moved, subject, words) in PHRASES.items():
        series = np.array([v[unit] for v in values])
        mean = float(series.mean())
        if mean < CLEAR[unit]:
            continue
        size = _num(mean)
        # the fact's own phrasing may be repeated: its verbs ("rose") would otherwise read as a trend's, and name
        # its size too ("the outer brows rose by 3.7%" is the brows' 3.7%, not the trend's "rose")
        rest = [w for w in moved.split() if w not in ("the", "and")]
        # rose, lowered, opened, pulled, stretched, dropped...: the first word that is not the subject's ("eyes")
        verb = next(w for w in rest if not any(w.startswith(part) for part in subject.split()))
        facts.append(
            Fact(
                f"action_{unit}",
                f"{moved} by {size}%",
                (Quantity(subject, size, "%", (*words, verb)),),
                words + tuple(rest),
            )
        )
    return facts


def blink_fact(frames: list[ActionFrame]) -> Fact | None:
    rates = [f.actions.blink_rate for f in frames if f.actions is not None and f.actions.blink_rate is not None]
    if not rates:
        return None
    rate = f"{rates[-1]:.0f}"
    return Fact(
        "blink_rate",
        f"blinking {rate} times per minute",
        (Quantity("blink rate", rate, "times per minute", ("blink",)),),
        words=("blink",),
    )


def reading_facts(frames: list[ActionFrame], label: str) -> tuple[list[Fact], float]:
    """The actions' agreement or disagreement with `label`, and the share of measured frames that disagree."""
    measured = [f for f in frames if f.actions is not None]
    if not measured:
        return [], 0.0
    disagree = sum(f.disagrees for f in measured) / len(measured)
    agree = sum(f.reading == label for f in measured) / len(measured)
    if disagree >= DISAGREE_SHARE:
        reading = Counter(f.reading for f in measured if f.disagrees).most_common(1)[0][0]
        pct = f"{100 * disagree:.0f}"
        return [
            Fact(
                "actions_disagree",
                f"the facial actions show {reading}, not {label}, on {pct}% of the frames",
                (Quantity("disagreeing frames", pct, "%", ("frames",)),),
                words=("actions show", "disagree", "contradict"),
            )
        ], disagree
    if agree >= AGREE_SHARE:
        return [Fact("actions_agree", f"the facial actions also show {label}", words=("actions",))], disagree
    return [], disagree


def moved_actions(evidence: Evidence) -> bool:
    """Whether a window holds a facial action that clearly moved (a fact an explanation should cite)."""
    return any(f.cue.startswith("action_") for f in evidence.facts)


def cites_an_action(cues: tuple[str, ...] | list[str]) -> bool:
    return any(c.startswith("action_") for c in cues)
