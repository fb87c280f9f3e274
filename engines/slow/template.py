"""The template explanation: the facts themselves, joined into one sentence.

It is the fallback whenever the model is off, fails, or answers something the
evidence does not hold, so it must always pass the grounding check itself.
"""

from __future__ import annotations

import re

from engines.contracts import Evidence, Fact
from engines.slow.evidence import written_probabilities


def template_answer(evidence: Evidence) -> dict:
    label_fact, *rest = evidence.facts
    p1, p2 = written_probabilities(evidence)
    head = f"{evidence.label.capitalize()} at {p1}, next {evidence.second_label} at {p2}"
    said: set[str] = set()
    parts = [head] + [_stated(fact, evidence, said) for fact in rest]
    cues = [fact.cue for fact in rest] or [label_fact.cue]
    return {
        "label": evidence.label,
        "confidence": float(p1),
        "cues": cues,
        "explanation": "; ".join(parts) + ".",
    }


def _stated(fact: Fact, evidence: Evidence, said: set[str]) -> str:
    """A conflict's description repeats the voice fact's figures in brackets; said once is enough. An action
    moved the way one before it did is said without the verb again ("the inner brows rose by 6.3%; the outer
    brows by 4.4%"): repeated, the phrase reads as a sentence that repeats itself, and the check refuses it."""
    if fact.cue == "conflict" and "voice" in evidence.cue_ids:
        return re.sub(r" \([^)]*\)", "", fact.text)
    if fact.cue.startswith("action_"):
        (size,) = fact.quantities
        moved = fact.text.rsplit(" by ", 1)[0]
        verb = moved.split(size.subject, 1)[-1].strip()
        if verb in said:
            return f"the {size.subject} by {size.written}"
        said.add(verb)
    return fact.text
