"""How an explanation and a gate decision look in the session's logs."""

from __future__ import annotations

from dataclasses import asdict

from engines.contracts import Evidence, Explanation, GateDecision


def explanation_record(explanation: Explanation, evidence: Evidence) -> dict:
    """explanations.jsonl: the answer, how it was produced, and the evidence it was allowed to use."""
    record = asdict(explanation)
    record["window"] = list(explanation.window)
    record["cues"] = list(explanation.cues)
    record["agrees_with_fast_path"] = explanation.label == explanation.fast_label
    record["evidence"] = [{"cue": f.cue, "text": f.text, "numbers": list(f.numbers)} for f in evidence.facts]
    return record


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
        "margin": evidence.margin,
        "entropy": evidence.entropy,
        "uncertain_share": evidence.uncertain_share,
    }
