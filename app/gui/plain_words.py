"""Plain words for people who did not build emolens: why the gate asked, and a kiosk's one sentence.

The explanation panel is for an operator and shows the numbers; a kiosk's
banner is read by passers-by in a second, so it says what the face shows in
a short sentence built from the facts the explanation cited, with no times,
probabilities or trigger names, and no track number unless the operator asks.
"""

from __future__ import annotations

import re

from engines.contracts import Evidence, Explanation, Fact, Trigger

TRIGGER_WORDS = {
    Trigger.NEW_FACE: "new face",
    Trigger.AMBIGUOUS: "unclear",
    Trigger.CHANGE: "changed",
    Trigger.CONFLICT: "face and voice disagree",
    Trigger.STALE: "a while since the last",
}


def trigger_words(trigger: str) -> str:
    try:
        return TRIGGER_WORDS[Trigger(trigger)]
    except ValueError:
        return trigger


def _phrase(fact: Fact) -> str | None:
    """A fact as a few words a passer-by reads at a glance; None for facts that are only numbers."""
    text = fact.text
    if fact.cue == "mouth_width":
        return "a wider mouth than usual" if "wider" in text else "a narrower mouth than usual"
    if fact.cue == "mouth_drop":
        return "the mouth open more than usual" if "further below" in text else "the mouth more closed than usual"
    if fact.cue == "head_turn":
        return f"looking to the {'left' if 'left' in text else 'right'}"
    if fact.cue == "head_roll":
        return "the head tilted"
    if fact.cue == "change":
        before = re.match(r"changed from (\w+)", text)
        return f"{before[1]} a moment ago" if before else "a change of expression"
    if fact.cue == "trend":
        return "more and more so" if "rising" in text else "less and less so"
    if fact.cue == "voice":
        return "speaking" if "speech" in text else None
    if fact.cue == "conflict":
        return "the voice tells otherwise"
    return None


def kiosk_sentence(explanation: Explanation, evidence: Evidence, show_number: bool = False) -> str:
    """`Someone looks happy: a wider mouth than usual, looking to the left.` (at most two reasons)."""
    who = f"Face #{explanation.track_id}" if show_number else "Someone"
    if explanation.label == "uncertain":
        head = f"Hard to tell how {'face #' + str(explanation.track_id) if show_number else 'someone'} feels"
        head += f": {evidence.label} or {evidence.second_label}"
        return head + "."
    facts = {fact.cue: fact for fact in evidence.facts}
    cited = [facts[c] for c in explanation.cues if c in facts] or list(evidence.facts)
    reasons = [p for p in (_phrase(f) for f in cited) if p][:2]
    return f"{who} looks {explanation.label}" + (f": {', '.join(reasons)}" if reasons else "") + "."
