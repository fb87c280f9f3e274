"""ExplanationGate: decides per face and window whether the explainer is worth calling.

Reasoning seldom changes the label and costs a core for seconds, so the gate
calls it where the fast path is unsure, where face and voice disagree, where
the state changed, where a face has stayed in view a while and was never explained, or
where its explanation is stale, and never
beyond a budget. A state that was already explained and has not changed is not
explained again until it is stale: over-reasoning is a cost, not a virtue.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

from engines.contracts import Evidence, GateDecision, Trigger
from engines.settings_file import load_settings
from engines.slow.action_facts import DISAGREE_SHARE as DISAGREEMENT_SHARE

TRIGGERS = ("conflict", "ambiguous", "change", "new_face", "stale")  # in order of priority


@dataclass(frozen=True)
class GateSettings:
    max_margin: float = 0.15  # a window whose frames' mean top-2 margin (`frame_margin`) is below this is ambiguous
    min_entropy: float = 0.8  # ... or whose mean normalised entropy is above this
    min_uncertain_share: float = 0.5  # ... or where the fast path flagged this share of frames uncertain
    explain_changes: bool = True
    new_face_after_s: float = 3.0  # a face seen this long gets its first explanation; passers-by do not
    stale_s: float = 10.0  # explain again a face whose last explanation is this old
    max_per_minute: int = 12  # over all faces, on the session clock

    LIMITS: ClassVar[dict[str, tuple[float, float]]] = {
        "max_margin": (0.0, 1.0),
        "min_entropy": (0.0, 1.0),
        "min_uncertain_share": (0.0, 1.0),
        "new_face_after_s": (0.0, math.inf),
        "stale_s": (0.1, math.inf),
        "max_per_minute": (1, 10_000),
    }

    @classmethod
    def load(cls, path: Path) -> GateSettings:
        """A JSON file as written by `emolens fit-gate` (its "settings" key) or a bare settings object."""
        return load_settings(cls, path, "gate")

    def as_dict(self) -> dict:
        return asdict(self)


def is_ambiguous(evidence: Evidence, settings: GateSettings) -> bool:
    return (
        evidence.frame_margin < settings.max_margin
        or evidence.entropy > settings.min_entropy
        or evidence.uncertain_share >= settings.min_uncertain_share
        or evidence.action_disagreement >= DISAGREEMENT_SHARE  # the facial actions contradict the label
    )


@dataclass
class _Explained:
    t: float
    state: tuple


KNOWN_KEPT = 4096  # people's numbers kept after they are forgotten: a day of a busy kiosk


class ExplanationGate:
    """Pure bookkeeping on the session clock: the same windows give the same decisions, live or replayed."""

    def __init__(self, settings: GateSettings | None = None):
        self.settings = settings or GateSettings()
        self._calls: deque[float] = deque()
        self._last: dict[int, _Explained] = {}
        self._first_seen: dict[int, float] = {}
        self._known: dict[int, None] = {}  # people forgotten (gone long): one who comes back is not a new face

    def decide(self, evidence: Evidence) -> GateDecision:
        s = self.settings
        t = evidence.window[1]
        self._first_seen.setdefault(evidence.track_id, evidence.window[0])
        state = _state(evidence, s)
        last = self._last.get(evidence.track_id)
        since = t - (last.t if last else self._first_seen[evidence.track_id])  # since explained, or since seen

        trigger, why = None, "steady"
        if evidence.conflict:
            trigger, why = Trigger.CONFLICT, "face and voice disagree"
        elif is_ambiguous(evidence, s):
            trigger = Trigger.AMBIGUOUS
            why = (
                f"frame margin {evidence.frame_margin:.2f}, entropy {evidence.entropy:.2f}, "
                f"uncertain on {evidence.uncertain_share:.0%} of frames"
            )
        elif s.explain_changes and evidence.changed_from:
            trigger, why = Trigger.CHANGE, f"{evidence.changed_from} -> {evidence.label}"
        if trigger and trigger != Trigger.CONFLICT and last is not None and last.state == state and since < s.stale_s:
            reason = f"{trigger}, but this state was explained {since:.1f} s ago"
            return GateDecision(evidence.track_id, evidence.window, False, None, reason, already_explained=True)
        if trigger is None and last is None and since >= s.new_face_after_s and evidence.track_id not in self._known:
            trigger, why = Trigger.NEW_FACE, f"seen for {since:.1f} s and not explained yet"
        elif trigger is None and last is not None and since >= s.stale_s:
            trigger, why = Trigger.STALE, f"last explained {since:.1f} s ago"
        if trigger is None:
            return self._no(evidence, why)

        while self._calls and self._calls[0] <= t - 60.0:
            self._calls.popleft()
        if len(self._calls) >= s.max_per_minute:
            return self._no(evidence, f"{trigger}, but over budget ({s.max_per_minute} per minute)")
        self._calls.append(t)
        self._last[evidence.track_id] = _Explained(t, state)
        return GateDecision(evidence.track_id, evidence.window, True, trigger, why)

    def forget(self, track_ids: set[int], remember: bool = True) -> None:
        """Drops people who left long ago; `remember` keeps their numbers (the newest KNOWN_KEPT): a person who
        comes back (re-identification) is not a new face. Without it, a return is a new number anyway."""
        for tid in track_ids:
            self._last.pop(tid, None)
            self._first_seen.pop(tid, None)
            if remember:
                self._known[tid] = None
        while len(self._known) > KNOWN_KEPT:
            del self._known[next(iter(self._known))]

    def sizes(self) -> dict[str, int]:
        return {
            "calls": len(self._calls),
            "explained": len(self._last),
            "first_seen": len(self._first_seen),
            "known": len(self._known),
        }

    @staticmethod
    def _no(evidence: Evidence, reason: str) -> GateDecision:
        return GateDecision(evidence.track_id, evidence.window, False, None, reason)


def _state(evidence: Evidence, settings: GateSettings) -> tuple:
    """What an explanation describes: once explained, the same state is not explained again until stale."""
    ambiguous = is_ambiguous(evidence, settings)
    return (evidence.label, evidence.second_label if ambiguous else None, ambiguous, evidence.conflict)


def decision_record(decision: GateDecision, evidence: Evidence) -> dict:
    """events.jsonl: every gate decision with its trigger or the reason it declined."""
    return {
        "event": "gate",
        "track_id": decision.track_id,
        "window": list(decision.window),
        "invoke": decision.invoke,
        "trigger": decision.trigger,
        "reason": decision.reason,
        "label": evidence.label,
        "frame_margin": evidence.frame_margin,
        "entropy": evidence.entropy,
        "uncertain_share": evidence.uncertain_share,
    }
