"""The template explanation: the facts themselves, joined into one sentence.

It is the fallback whenever the model is off, fails, or answers something the
evidence does not hold, so it must always pass the grounding check itself.
"""

from __future__ import annotations

import re

from engines.contracts import Evidence
from engines.slow.evidence import written_probabilities


def template_answer(evidence: Evidence) -> dict:
    label_fact, *rest = evidence.facts
    p1, p2 = written_probabilities(evidence)
    head = f"{evidence.label.capitalize()} at {p1}, next {evidence.second_label} at {p2}"
    parts = [head] + [_stated(fact.cue, fact.text, evidence) for fact in rest]
    cues = [fact.cue for fact in rest] or [label_fact.cue]
    return {
        "label": evidence.label,
        "confidence": float(p1),
        "cues": cues,
        "explanation": "; ".join(parts) + ".",
    }


def _stated(cue: str, text: str, evidence: Evidence) -> str:
    """A conflict's description repeats the voice fact's figures in brackets; said once is enough."""
    if cue == "conflict" and "voice" in evidence.cue_ids:
        return re.sub(r" \([^)]*\)", "", text)
    return text
