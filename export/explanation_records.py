"""How an explanation looks in the session's logs, and the evidence read back from it."""

from __future__ import annotations

from dataclasses import asdict

from engines.contracts import Evidence, Explanation, Fact, Quantity


def explanation_record(explanation: Explanation, evidence: Evidence) -> dict:
    """explanations.jsonl: the answer, how it was produced, and the evidence it was allowed to use (each fact with
    its bound quantities, and the window's measures behind them), enough to check the answer again later."""
    record = asdict(explanation)
    record["window"] = list(explanation.window)
    record["cues"] = list(explanation.cues)
    record["agrees_with_fast_path"] = explanation.label == explanation.fast_label
    record["evidence"] = [
        {
            "cue": f.cue,
            "text": f.text,
            "numbers": list(f.numbers),
            "quantities": [_quantity(q) for q in f.quantities],
            "words": list(f.words),
        }
        for f in evidence.facts
    ]
    record["measured"] = {
        "label": evidence.label,
        "confidence": evidence.confidence,
        "second_label": evidence.second_label,
        "second_confidence": evidence.second_confidence,
        "margin": evidence.margin,
        "frame_margin": evidence.frame_margin,
        "entropy": evidence.entropy,
        "uncertain_share": evidence.uncertain_share,
        "changed_from": evidence.changed_from,
        "key_frames": list(evidence.key_frames),
        "conflict": evidence.conflict,
        "action_disagreement": evidence.action_disagreement,
    }
    return record


def _quantity(q: Quantity) -> dict:
    return {"subject": q.subject, "value": q.value, "unit": q.unit, "words": list(q.names)}


def evidence_from_record(record: dict) -> Evidence:
    """The evidence an explanations.jsonl record was given, as the grounding check reads it (not the voice cues
    themselves: the voice fact carries their figures)."""
    m = record["measured"]
    facts = tuple(
        Fact(
            f["cue"],
            f["text"],
            tuple(Quantity(q["subject"], q["value"], q["unit"], tuple(q["words"])) for q in f["quantities"]),
            tuple(f["words"]),
        )
        for f in record["evidence"]
    )
    return Evidence(
        track_id=record["track_id"],
        window=tuple(record["window"]),
        label=m["label"],
        confidence=m["confidence"],
        second_label=m["second_label"],
        second_confidence=m["second_confidence"],
        frame_margin=m["frame_margin"],
        entropy=m["entropy"],
        uncertain_share=m["uncertain_share"],
        changed_from=m["changed_from"],
        key_frames=tuple(m["key_frames"]),
        facts=facts,
        conflict=m["conflict"],
        action_disagreement=m.get("action_disagreement", 0.0),  # records written before the facial actions
    )
