"""The template explanation: the facts themselves, joined into one sentence.

It is the fallback whenever the model is off, fails, or answers something the
evidence does not hold, so it must always pass the grounding check itself.
"""

from __future__ import annotations

from engines.contracts import Evidence


def template_answer(evidence: Evidence) -> dict:
    label_fact, *rest = evidence.facts
    _, p1, p2 = label_fact.numbers
    head = f"{evidence.label.capitalize()} at {p1}, next {evidence.second_label} at {p2}"
    parts = [head] + [fact.text for fact in rest]
    cues = [fact.cue for fact in rest] or [label_fact.cue]
    return {
        "label": evidence.label,
        "confidence": float(p1),
        "cues": cues,
        "explanation": "; ".join(parts) + ".",
    }
