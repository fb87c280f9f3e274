"""How an explanation looks in the session's logs."""

from __future__ import annotations

from dataclasses import asdict

from engines.contracts import Evidence, Explanation


def explanation_record(explanation: Explanation, evidence: Evidence) -> dict:
    """explanations.jsonl: the answer, how it was produced, and the evidence it was allowed to use."""
    record = asdict(explanation)
    record["window"] = list(explanation.window)
    record["cues"] = list(explanation.cues)
    record["agrees_with_fast_path"] = explanation.label == explanation.fast_label
    record["evidence"] = [{"cue": f.cue, "text": f.text, "numbers": list(f.numbers)} for f in evidence.facts]
    return record
