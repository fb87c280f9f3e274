"""Grounded targets in varied words: each window's facts, phrased several ways, never a fact it does not hold.

The template explainer states every fact in the prompt's own words; a student
trained on that alone would learn to copy. Here each fact has several phrasings,
one or two facts are chosen to cite, and the sentence is built only from them and
the label, so every claim is one of the window's facts. Each target is checked
by the same grounding check and laid out as the grammar writes it.
"""

from __future__ import annotations

import json
import random

from engines.contracts import Evidence, Fact
from engines.slow.evidence import written_probabilities
from engines.slow.grounding import Ungrounded, check_answer

MAX_CHARS = 150  # under the grammar's 160


def _label_clause(ev: Evidence, rng: random.Random, uncertain: bool) -> str:
    p1, p2 = written_probabilities(ev)
    label, second = ev.label, ev.second_label
    if uncertain:
        options = [
            f"Unclear: {label} at {p1} is close to {second} at {p2}",
            f"Mixed: {label} ({p1}) against {second} ({p2})",
            f"Uncertain between {label} at {p1} and {second} at {p2}",
        ]
    else:
        options = [
            f"{label.capitalize()} at {p1}",
            f"{label.capitalize()} ({p1}), ahead of {second} at {p2}",
            f"The face reads {label} at {p1}",
            f"Mostly {label}, probability {p1}",
            f"{label.capitalize()} at {p1}, next {second} at {p2}",
        ]
        if ev.confidence >= 0.6:
            options += [f"Clearly {label} at {p1}", f"A strong {label} reading ({p1})"]
        else:
            options += [f"Somewhat {label} at {p1}", f"A mild {label} reading ({p1}) over {second} ({p2})"]
    return rng.choice(options)


def _fact_clause(fact: Fact, ev: Evidence, rng: random.Random) -> str | None:
    n = fact.numbers
    text = fact.text
    if fact.cue == "trend":
        rising = "rising" in text
        a, b = n
        options = (
            [f"rising from {a} to {b}", f"up from {a} to {b}", f"{ev.label} rose from {a} to {b}"]
            if rising
            else [f"falling from {a} to {b}", f"down from {a} to {b}", f"{ev.label} fell from {a} to {b}"]
        )
    elif fact.cue == "change":
        previous = ev.changed_from
        options = [f"changed from {previous}", f"now {ev.label} after {previous}", f"a shift from {previous}"]
    elif fact.cue == "mouth_width":
        (pct,) = n
        if "wider" in text:
            options = [f"the mouth {pct}% wider than usual", f"a smile, the mouth {pct}% wider", f"mouth {pct}% wider"]
        else:
            options = [f"the mouth {pct}% narrower than usual", f"mouth {pct}% narrower than its usual"]
    elif fact.cue == "mouth_drop":
        (pct,) = n
        where = "further below" if "further below" in text else "closer to"
        options = [f"the mouth line {pct}% {where} the nose", f"mouth line {pct}% {where} the nose than usual"]
    elif fact.cue == "head_roll":
        (deg,) = n
        options = [f"the head tilted {deg} degrees", f"a head tilt of {deg} degrees", f"tilted {deg} degrees"]
    elif fact.cue == "head_turn":
        side = "right" if text.endswith("right") else "left"
        options = [f"the head turned to the {side}", f"turned to the {side}", f"looking away to the {side}"]
    elif fact.cue == "key_frames":
        times = [f"{t} s" for t in n]
        options = [f"strongest at {times[0]}", f"most expressive at {' and '.join(times)}", f"peaking at {times[-1]}"]
    elif fact.cue == "uncertain":
        (margin,) = n
        options = [f"a margin of only {margin}", f"margin {margin} between the two"]
    elif fact.cue == "voice":
        options = _voice_clauses(fact)
    elif fact.cue == "conflict":
        options = ["the face and voice disagree", "the voice does not match the face", "voice and face conflict"]
    elif fact.cue.startswith("action_"):
        options = _action_clauses(fact)
    elif fact.cue == "blink_rate":
        (rate,) = n
        options = [f"blinking {rate} times per minute", f"a blink rate of {rate} times per minute"]
    elif fact.cue == "actions_agree":
        options = [f"the facial actions also show {ev.label}", "the facial actions agree"]
    elif fact.cue == "actions_disagree":
        reading = fact.text.split(" show ", 1)[1].split(",", 1)[0]
        (pct,) = n
        options = [
            f"but the facial actions show {reading}",
            f"though the facial actions show {reading} on {pct}% of the frames",
            f"the facial actions disagree: they show {reading}",
        ]
    else:
        return None
    return rng.choice(options)


def _action_clauses(fact: Fact) -> list[str]:
    """ "the cheeks rose by 2.6%": the fact's own words, with or without its size."""
    moved, size = fact.text.rsplit(" by ", 1)
    return [fact.text, moved, f"{moved} ({size})"]


def _voice_clauses(fact: Fact) -> list[str]:
    said = {q.subject: q.written for q in fact.quantities}
    head = "speaking" if fact.text.startswith("voice: speaking") else "no speech"
    loud = said["loudness"]
    out = [f"{head}, loudness {loud}", f"the voice at {loud}"]
    if "pitch" in said:
        out.append(f"{head} at {loud}, pitch {said['pitch']}")
    if "speaking rate" in said:
        out.append(f"speaking at {said['speaking rate']}")
    return out


def _cite(ev: Evidence, rng: random.Random) -> list[Fact]:
    """One or two facts to cite: conflict, uncertainty and the actions' disagreement first when present, as a
    reader would want; then the facial actions that moved, which say why the face reads as it does."""
    rest = [f for f in ev.facts[1:]]
    if not rest:
        return []
    must = [f for f in rest if f.cue in ("conflict", "uncertain", "actions_disagree")]
    moved = [f for f in rest if f.cue.startswith("action_") and f not in must]
    rng.shuffle(moved)
    agree = [f for f in rest if f.cue == "actions_agree"]
    others = [f for f in rest if f not in must and f not in moved and f not in agree]
    rng.shuffle(others)
    others = moved[:1] + agree + moved[1:] + others  # "the lip corners pulled up, and the actions also show happy"
    count = rng.choice((1, 2, 2)) if len(rest) > 1 else 1
    picked = (must + others)[: max(count, len(must[:2]))]
    if moved and not any(f in moved for f in picked):
        picked = picked[:2] + moved[:1]  # what the face did is why it reads so: never left out for two others
    return picked


def target_answer(ev: Evidence, rng: random.Random) -> tuple[dict, str]:
    """The answer and its text exactly as the grammar lays it out (the label fact's own number strings)."""
    p1, _ = written_probabilities(ev)
    for _ in range(20):
        cited = _cite(ev, rng)
        uncertain = any(f.cue == "uncertain" for f in cited)
        clauses = [c for f in cited if (c := _fact_clause(f, ev, rng))]
        head = _label_clause(ev, rng, uncertain)
        if clauses:
            joiner = rng.choice((", ", " with ", ": ", "; "))
            sentence = head + joiner + " and ".join(clauses) + "."
        else:
            sentence = head + "."
        text = layout(ev, [f.cue for f in cited] or ["label"], sentence)
        if len(sentence) > MAX_CHARS:
            continue
        try:
            return check_answer(text, ev), text
        except Ungrounded:
            continue  # a combination the check refuses (a repeated phrase, a word it reads as a claim): redraw
    text = layout(ev, [f.cue for f in ev.facts[1:2]] or ["label"], f"{ev.label.capitalize()} at {p1}.")
    return check_answer(text, ev), text


def layout(ev: Evidence, cues: list[str], sentence: str) -> str:
    """The answer as the grammar writes it: key order, spacing, and the label's probability as the evidence
    wrote it ("0.80", not 0.8)."""
    return (
        f'{{"label": {json.dumps(ev.label)}, "confidence": {written_probabilities(ev)[0]}, '
        f'"cues": [{", ".join(json.dumps(c) for c in cues)}], "explanation": {json.dumps(sentence)}}}'
    )
