"""The grounding check: an explanation may state only what its evidence holds.

The grammar already limits the label and cue ids; this check reads the free
sentence too. Every number must be one the evidence states, every emotion named
must be one the evidence names, every cue the sentence talks about (a smile, a
tilt, the voice) must be a fact of the window, and cues emolens cannot measure
(brows, eyes) may not appear at all. An answer that fails is not shown: the
template stands in and the reason is logged.
"""

from __future__ import annotations

import json
import re

from engines.contracts import Evidence

# Words that claim a cue; an explanation may use them only when the window holds that cue.
CUE_WORDS: dict[str, tuple[str, ...]] = {
    "mouth_width": ("smil", "wider", "widen", "narrow", "grin"),
    "mouth_drop": ("mouth line", "nose"),
    "head_roll": ("tilt",),
    "head_turn": ("turned to", "turning", "looks away", "looking away"),
    "voice": ("voice", "speak", "spoke", "loud", "pitch", "tone", "dbfs", " hz"),
    "conflict": ("disagree", "conflict"),
    "trend": ("rising", "falling", "rose", "fell", "grew from", "dropped from", "increas", "decreas"),
    "change": ("changed", "turned from", "shift", "switch"),
}
# Either mouth cue licenses the word "mouth".
SHARED_WORDS: dict[str, tuple[str, ...]] = {"mouth": ("mouth_width", "mouth_drop")}
# What no cue measures with five landmarks; an explanation that names them invents them.
UNMEASURED = ("brow", "eye", "frown", "tear", "cheek", "lip", "teeth", "jaw", "gaze", "blink", "wrinkl", "posture")
# Words that grade the label; they must agree with its probability and the uncertain flag.
WEAK_WORDS = ("slight", "somewhat", "a little", "faint", "barely", "mild")
STRONG_WORDS = ("clear", "strong", "very", "intense", "definite")
UNSURE_WORDS = ("unclear", "unsure", "uncertain", "ambiguous", "mixed")
EMOTION_WORDS = {
    "angry": ("angry", "anger"),
    "disgust": ("disgust",),
    "fear": ("fear", "afraid", "scared"),
    "happy": ("happy", "happiness", "joy"),
    "sad": ("sad",),
    "surprise": ("surpris",),
    "neutral": ("neutral",),
}
# A number and the unit written right after it: "1.73 s" is a time, "1.73" alone is not.
QUANTITY = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)(%| s\b| degrees?\b| dBFS\b| Hz\b| syllables/s\b)?")


class Ungrounded(ValueError):
    """The model's answer states something its evidence does not hold, or is not a complete answer."""


def _mentions(text: str, stem: str) -> bool:
    return re.search(r"(?<![a-z])" + re.escape(stem), text) is not None


def quantities(text: str) -> list[tuple[str, str]]:
    """(number, unit) pairs as written; unit "" for a bare number such as a probability."""
    units = {"degree": "degrees"}
    out = []
    for number, unit in QUANTITY.findall(text):
        unit = unit.strip()
        out.append((number, units.get(unit, unit)))
    return out


def fact_quantities(evidence: Evidence) -> list[tuple[str, str]]:
    """The quotable quantities: each declared number of a fact, with the unit its text gives it."""
    out = []
    for fact in evidence.facts:
        written = dict((n, u) for n, u in quantities(fact.text))
        out += [(n, written.get(n, "")) for n in fact.numbers]
    return out


def evidence_labels(evidence: Evidence) -> set[str]:
    named = {evidence.label, evidence.second_label}
    if evidence.changed_from:
        named.add(evidence.changed_from)
    return named


def check_answer(raw: str, evidence: Evidence) -> dict:
    """Parses and checks the model's JSON; returns it cleaned, or raises Ungrounded saying what is wrong."""
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise Ungrounded(f"not complete JSON ({exc.__class__.__name__}; the token budget may have cut it)") from exc
    if not isinstance(answer, dict) or set(answer) != {"label", "confidence", "cues", "explanation"}:
        raise Ungrounded("not an object with exactly label, confidence, cues, explanation")
    label, confidence, cues, text = answer["label"], answer["confidence"], answer["cues"], answer["explanation"]
    if label not in (evidence.label, evidence.second_label):
        raise Ungrounded(f"label {label!r} is neither of the window's top two")
    expected = evidence.confidence if label == evidence.label else evidence.second_confidence
    if not isinstance(confidence, int | float) or abs(confidence - expected) > 0.1:
        raise Ungrounded(f"confidence {confidence} is not the evidence's {expected:.2f} for {label}")
    if not isinstance(cues, list) or not cues or not all(isinstance(c, str) for c in cues):
        raise Ungrounded("cues is not a non-empty list of cue ids")
    unknown = [c for c in cues if c not in evidence.cue_ids]
    if unknown:
        raise Ungrounded(f"cites cues the evidence does not hold: {unknown}")
    check_sentence(text, evidence)
    return {"label": label, "confidence": float(confidence), "cues": list(dict.fromkeys(cues)), "explanation": text}


def check_sentence(text: str, evidence: Evidence) -> None:
    if not isinstance(text, str) or len(text.split()) < 3:
        raise Ungrounded("no explanation sentence")
    lower = " " + text.lower()
    allowed = {(float(n), u) for n, u in fact_quantities(evidence)}
    for number, unit in quantities(text):
        if not any(abs(float(number) - n) < 0.006 and unit == u for n, u in allowed):
            written = f"{number} {unit}".strip() if unit != "%" else f"{number}%"
            raise Ungrounded(f"states {written}, which is not a quantity in the evidence")
    for stem in UNMEASURED:
        if _mentions(lower, stem):
            raise Ungrounded(f"talks about '{stem}', which emolens does not measure")
    held = set(evidence.cue_ids)
    for cue, words in CUE_WORDS.items():
        for word in words:
            if cue not in held and _mentions(lower, word.strip()):
                raise Ungrounded(f"talks about '{word.strip()}' ({cue}) but the window has no {cue} fact")
    for word, cues in SHARED_WORDS.items():
        if _mentions(lower, word) and not held.intersection(cues):
            raise Ungrounded(f"talks about the {word} but the window has no {' or '.join(cues)} fact")
    if any(_mentions(lower, w) for w in WEAK_WORDS) and evidence.confidence >= 0.6:
        raise Ungrounded(f"calls a {evidence.confidence:.2f} probability weak")
    if any(_mentions(lower, w) for w in STRONG_WORDS) and evidence.confidence < 0.6:
        raise Ungrounded(f"calls a {evidence.confidence:.2f} probability strong")
    if any(_mentions(lower, w) for w in UNSURE_WORDS) and "uncertain" not in held:
        raise Ungrounded("calls the face unclear but the fast path was sure")
    named = evidence_labels(evidence)
    for emotion, stems in EMOTION_WORDS.items():
        if emotion not in named and any(_mentions(lower, s) for s in stems):
            raise Ungrounded(f"names {emotion}, which the evidence does not")
    words = re.findall(r"[a-z0-9.]+", text.lower())
    trigrams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    if len(trigrams) != len(set(trigrams)):
        raise Ungrounded("repeats itself")
