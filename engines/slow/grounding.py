"""The grounding check: an explanation may state only what its evidence holds.

The grammar already limits the label and cue ids; this check reads the free
sentence too, in two ways.

Bound: every number written next to the name of a fact's subject ("sad at
0.28", "margin 0.17", "tilted 14 degrees", "rising from 0.61 to 0.82",
"strongest at 4.10 s") must be that subject's own quantity, with its own unit:
"sad at 1.0 s" is refused when 1.0 s is the window's duration, "sad at 0.25"
when 0.25 is angry's probability. The subject of a number is the nearest name
before it in the same clause (clauses end at , ; : and the sentence's end); a
few short link words ("at", "over", "from", "to", "by") name a subject only
when the number follows them at once and has that subject's unit ("at 4.10 s"
is a key frame's time); "at" right after a subject's name leaves the number to
either ("sad at 0.28" is sad's probability, "sad at 3.37 s" a key frame's time,
and "sad at 1.0 s" neither when 1.0 s is the duration).

Lexical: a number with no subject before it must still be one the evidence
states, with its unit; every emotion named must be one the evidence names;
every cue the sentence talks about (a smile, a tilt, the voice) must be a fact
of the window; cues no fact measures (brows, eyes) may not appear at all; the
grading words must agree with the probability, the trend's direction with the
trend; and the sentence may not repeat itself.

An answer that fails is not shown: the template stands in and the reason is logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from engines.contracts import Evidence, Quantity

# Words that claim a cue; an explanation may use them only when the window holds that cue (or a fact of the
# window declares the word itself in `Fact.words`).
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
# What no built-in cue measures with five landmarks; an explanation that names them invents them, unless a fact of
# its window declares the word (a facial action measured by the face mesh).
UNMEASURED = ("brow", "eye", "frown", "tear", "cheek", "lip", "teeth", "jaw", "gaze", "blink", "wrinkl", "posture")
# Words that grade the label; they must agree with its probability and the uncertain flag.
WEAK_WORDS = ("slight", "somewhat", "a little", "faint", "barely", "mild")
STRONG_WORDS = ("clear", "strong", "very", "intense", "definite")
UNSURE_WORDS = ("unclear", "unsure", "uncertain", "ambiguous", "mixed")
# The trend's direction: a sentence may not say the label fell when the trend fact says it rose.
RISE_WORDS = ("rising", "rose", "grew from", "increas")
FALL_WORDS = ("falling", "fell", "dropped from", "decreas")
EMOTION_WORDS = {
    "angry": ("angry", "anger"),
    "disgust": ("disgust",),
    "fear": ("fear", "afraid", "scared"),
    "happy": ("happy", "happiness", "joy"),
    "sad": ("sad",),
    "surprise": ("surpris",),
    "neutral": ("neutral",),
}
# Short words that name a subject only when a number of that subject's unit follows them at once: "at 4.10 s" is a
# time, but in "happy at 0.82" the subject is happy.
LINK_WORDS = frozenset({"at", "over", "for", "during", "through", "from", "to", "by"})
# ... and "at" right after a subject's name joins the two: the number is the subject's own, or (a time) the
# link's ("sad at 0.28" is sad's probability, "sad at 3.37 s" a key frame's time, "sad at 1.0 s" neither).
YIELDING_LINKS = frozenset({"at"})
# Units a sentence may write after a number ("%" straight after it, the others after a space); a fact may bring
# its own ("per minute"), which the sentence's reader then knows too.
UNITS = ("%", "s", "degrees", "dBFS", "Hz", "syllables/s")
UNIT_ALIASES = {"degree": "degrees"}
TOLERANCE = 0.006  # "0.8" for 0.80, never 0.81: within the rounding of two decimals
CLAUSE_END = re.compile(r"[,;:!?]|\.(?!\d)|—| - ")
WORD = re.compile(r"[a-z]+")


class Ungrounded(ValueError):
    """The model's answer states something its evidence does not hold, or is not a complete answer."""


def _mentions(text: str, stem: str) -> bool:
    return re.search(r"(?<![a-z])" + re.escape(stem), text) is not None


def _quantity_pattern(units: tuple[str, ...] | set[str] = ()) -> re.Pattern:
    spaced = sorted({*UNITS, *units, *UNIT_ALIASES} - {"%", ""}, key=len, reverse=True)
    unit = "|".join(["%"] + [" " + re.escape(u) + r"(?!\w)" for u in spaced])
    return re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)(" + unit + ")?")


QUANTITY = _quantity_pattern()


@dataclass(frozen=True)
class Written:
    """A number as a sentence writes it, and where."""

    number: str
    unit: str
    start: int
    end: int

    @property
    def text(self) -> str:
        return _written(self.number, self.unit)


def _written(number: str, unit: str) -> str:
    if not unit:
        return number
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


def read_numbers(text: str, units: tuple[str, ...] | set[str] = ()) -> list[Written]:
    """Every number in `text` with the unit written right after it ("1.73 s" is a time, "1.73" alone is not)."""
    pattern = _quantity_pattern(units) if units else QUANTITY
    out = []
    for m in pattern.finditer(text):
        unit = (m.group(2) or "").strip()
        out.append(Written(m.group(1), UNIT_ALIASES.get(unit, unit), m.start(), m.end()))
    return out


def quantities(text: str, units: tuple[str, ...] | set[str] = ()) -> list[tuple[str, str]]:
    """(number, unit) pairs as written; unit "" for a bare number such as a probability."""
    return [(w.number, w.unit) for w in read_numbers(text, units)]


def evidence_quantities(evidence: Evidence) -> list[Quantity]:
    return [q for fact in evidence.facts for q in fact.quantities]


def fact_quantities(evidence: Evidence) -> list[tuple[str, str]]:
    """The quotable quantities: each bound quantity of each fact, as (number, unit)."""
    return [(q.value, q.unit) for q in evidence_quantities(evidence)]


def evidence_labels(evidence: Evidence) -> set[str]:
    named = {evidence.label, evidence.second_label}
    if evidence.changed_from:
        named.add(evidence.changed_from)
    for fact in evidence.facts:  # the emotion the facial actions show, when a fact states it
        if fact.cue == "actions_disagree":
            named.add(fact.text.split(" show ", 1)[1].split(",", 1)[0])
    return named


def check_answer(raw: str, evidence: Evidence) -> dict:
    """Parses and checks the model's JSON; returns it cleaned, or raises Ungrounded saying what is wrong."""
    answer = parse_answer(raw, evidence)
    check_sentence(answer["explanation"], evidence)
    return answer


def parse_answer(raw: str, evidence: Evidence) -> dict:
    """The model's JSON with its label, confidence and cues checked, the sentence not yet."""
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
    if not isinstance(confidence, int | float) or abs(confidence - expected) > TOLERANCE:
        raise Ungrounded(f"confidence {confidence} is not the evidence's {expected:.2f} for {label}")
    if not isinstance(cues, list) or not cues or not all(isinstance(c, str) for c in cues):
        raise Ungrounded("cues is not a non-empty list of cue ids")
    unknown = [c for c in cues if c not in evidence.cue_ids]
    if unknown:
        raise Ungrounded(f"cites cues the evidence does not hold: {unknown}")
    return {"label": label, "confidence": float(confidence), "cues": list(dict.fromkeys(cues)), "explanation": text}


def check_sentence(text: str, evidence: Evidence) -> None:
    """Every number bound to its own fact, and every claim in the evidence; raises Ungrounded saying what is not."""
    check_bindings(text, evidence)
    check_lexical(text, evidence)


# --- bound: each number is the quantity of the subject it is written next to ------------------------------------


@dataclass(frozen=True)
class _Mention:
    word: str  # as the subject's words declare it
    start: int
    end: int  # the end of the whole word the name ends in
    quantities: tuple[Quantity, ...]
    subject: str  # for messages


def _subject_mentions(text: str, evidence: Evidence) -> list[_Mention]:
    """Every place the sentence names a subject: an emotion (its probability), or a word a quantity declares."""
    held = evidence_quantities(evidence)
    named: dict[str, list[Quantity]] = {}
    subjects: dict[str, str] = {}
    for emotion, stems in EMOTION_WORDS.items():  # an emotion's name names its probability, whatever else it has
        for stem in stems:
            named[stem] = [q for q in held if q.subject == emotion]
            subjects[stem] = emotion
    for q in held:
        for word in q.names:
            bound = named.setdefault(word, [])
            if q not in bound:
                bound.append(q)
            subjects.setdefault(word, q.subject)
    out = []
    for word, bound in named.items():
        link = word in LINK_WORDS
        pattern = r"(?<![a-z])" + re.escape(word) + (r"(?![a-z])" if link else r"[a-z]*")
        for m in re.finditer(pattern, text, re.I):
            out.append(_Mention(word, m.start(), m.end(), tuple(bound), subjects[word]))
    return out


def _clause_start(text: str, at: int) -> int:
    ends = [m.end() for m in CLAUSE_END.finditer(text, 0, at)]
    return ends[-1] if ends else 0


def _subject_of(text: str, number: Written, mentions: list[_Mention]) -> _Mention | None:
    """The nearest subject named before the number in its clause; a link word only when the number follows it at
    once and the subject it links has a quantity of the number's unit. "at" right after a subject's name joins the
    two: "sad at 0.28" is sad's probability, "sad at 3.37 s" a key frame's time, "sad at 1.0 s" neither."""
    start = _clause_start(text, number.start)
    before = [m for m in mentions if m.start >= start and m.end <= number.start]
    for m in sorted(before, key=lambda m: (m.end, m.end - m.start), reverse=True):
        if m.word not in LINK_WORDS:
            # one word that names several subjects ("wider": the lips stretched, the eyes wide) names them all
            same = [n for n in before if (n.start, n.end) == (m.start, m.end) and n.word not in LINK_WORDS]
            if len(same) > 1:
                bound = tuple(dict.fromkeys(q for n in same for q in n.quantities))
                return _Mention(m.word, m.start, m.end, bound, " or ".join(dict.fromkeys(n.subject for n in same)))
            return m
        adjacent = text[m.end : number.start].strip() == ""
        linked = tuple(q for q in m.quantities if q.unit == number.unit)
        if not (adjacent and linked):
            continue
        if m.word in YIELDING_LINKS:
            named = [n for n in before if n.word not in LINK_WORDS and n.end <= m.start]
            right_before = [n for n in named if text[n.end : m.start].strip() == ""]
            if right_before:
                n = max(right_before, key=lambda n: n.end - n.start)
                return _Mention(f"{n.word} {m.word}", n.start, m.end, n.quantities + linked, n.subject)
        return m
    return None


def _describe(quantities: tuple[Quantity, ...]) -> str:
    by_subject: dict[str, list[str]] = {}
    for q in quantities:
        by_subject.setdefault(q.subject, []).append(q.written)
    return " and ".join(f"{s}'s quantity is {' or '.join(dict.fromkeys(v))}" for s, v in by_subject.items())


def _matches(q: Quantity, number: Written) -> bool:
    return q.unit == number.unit and abs(q.number - float(number.number)) < TOLERANCE


def check_bindings(text: str, evidence: Evidence) -> None:
    """Every number written next to a subject is that subject's own quantity; a number with no subject before it
    in its clause is one of the evidence's quantities, unit and all (the lexical rule)."""
    if not isinstance(text, str):
        raise Ungrounded("no explanation sentence")
    held = evidence_quantities(evidence)
    mentions = _subject_mentions(text, evidence)
    for number in read_numbers(text, {q.unit for q in held}):
        subject = _subject_of(text, number, mentions)
        if subject is None:
            if not any(_matches(q, number) for q in held):
                raise Ungrounded(f"states {number.text}, which is not a quantity in the evidence")
            continue
        if any(_matches(q, number) for q in subject.quantities):
            continue
        owners = [q for q in held if _matches(q, number)]
        owner = f" (the evidence gives {number.text} to {owners[0].subject})" if owners else ""
        if not subject.quantities:
            raise Ungrounded(
                f"states {number.text} after '{subject.word}', but the evidence gives {subject.subject} no number"
                + owner
            )
        raise Ungrounded(f"states {number.text} after '{subject.word}', but {_describe(subject.quantities)}" + owner)


# --- lexical: every word that claims something is backed by a fact ----------------------------------------------


def _declared(evidence: Evidence) -> list[str]:
    """Words the window's facts declare for themselves (their cue words, their subjects' names)."""
    words = [w for f in evidence.facts for w in f.words]
    words += [w for q in evidence_quantities(evidence) for w in q.names if w not in LINK_WORDS]
    return words


def _uncovered(lower: str, stem: str, declared: list[str]) -> bool:
    """Whether the sentence uses `stem` somewhere that is not part of a word a fact of the window declares."""
    spans = [m.span() for word in declared for m in re.finditer(r"(?<![a-z])" + re.escape(word), lower)]
    for m in re.finditer(r"(?<![a-z])" + re.escape(stem), lower):
        if not any(a <= m.start() and m.end() <= b for a, b in spans):
            return True
    return False


def check_lexical(text: str, evidence: Evidence) -> None:
    if not isinstance(text, str) or len(text.split()) < 3:
        raise Ungrounded("no explanation sentence")
    lower = " " + text.lower()
    held_quantities = evidence_quantities(evidence)
    allowed = {(q.number, q.unit) for q in held_quantities}
    for number in read_numbers(text, {q.unit for q in held_quantities}):
        if not any(abs(float(number.number) - n) < TOLERANCE and number.unit == u for n, u in allowed):
            raise Ungrounded(f"states {number.text}, which is not a quantity in the evidence")
    declared = _declared(evidence)
    for stem in UNMEASURED:
        if _uncovered(lower, stem, declared):
            raise Ungrounded(f"talks about '{stem}', which emolens does not measure in this window")
    held = set(evidence.cue_ids)
    for cue, words in CUE_WORDS.items():
        for word in words:
            if cue not in held and _uncovered(lower, word.strip(), declared):
                raise Ungrounded(f"talks about '{word.strip()}' ({cue}) but the window has no {cue} fact")
    for word, cues in SHARED_WORDS.items():
        if _uncovered(lower, word, declared) and not held.intersection(cues):
            raise Ungrounded(f"talks about the {word} but the window has no {' or '.join(cues)} fact")
    trend = next((f for f in evidence.facts if f.cue == "trend"), None)
    if trend is not None:
        rising = "rising" in trend.text
        against = FALL_WORDS if rising else RISE_WORDS
        # an action's own verb ("the lower lids rose") is that action's, not the label's trend
        own = [f.text.rsplit(" by ", 1)[0] for f in evidence.facts if f.cue.startswith("action_")]
        for word in against:
            if _mentions(lower, word) and _uncovered(lower, word, own):
                raise Ungrounded(f"says '{word}' but the trend is {'rising' if rising else 'falling'}")
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
    # two facts of the same size ("drew together by 4.8%; the lips pressed together by 4.8%") are not a sentence
    # repeating itself: a phrase around a figure counts as repeated when its five words are
    trigrams = [
        tuple(words[max(0, i - 1) : i + 4])
        if any(w[0].isdigit() for w in words[i : i + 3])
        else tuple(words[i : i + 3])
        for i in range(len(words) - 2)
    ]
    if len(trigrams) != len(set(trigrams)):
        raise Ungrounded("repeats itself")
