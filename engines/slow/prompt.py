"""The explainer's prompt and output grammar, both built from the evidence and nothing else.

A fixed few-shot prefix (instructions and worked examples) comes first, so
llama.cpp keeps it in its cache and only the new window's facts are evaluated
per call. The grammar fixes the JSON's layout, allows only the window's top two
labels and only the cue ids the window holds, and ends at the closing brace,
which is the early exit: generation stops the moment the answer is complete.
"""

from __future__ import annotations

import json

from engines.contracts import Evidence, Fact
from engines.slow.grounding import fact_quantities

INSTRUCTIONS = (
    "Each record lists facts measured about one face over a short window of video. "
    "Answer with one JSON object: the label, the ids of the facts that support it, and one short plain "
    "sentence that says what the face shows, using only those facts and copying their numbers exactly.\n\n"
)


def _label(label: str, p: str, second: str, p2: str) -> Fact:
    return Fact("label", f"{label} over 0.9 s, probability {p} (second: {second} {p2})", ("0.9", p, p2))


# Worked examples; a test checks that each passes the same grounding check as the model's answers.
EXAMPLES: tuple[tuple[tuple[Fact, ...], dict], ...] = (
    (
        (
            _label("happy", "0.82", "neutral", "0.09"),
            Fact("trend", "happy probability rising from 0.61 to 0.82", ("0.61", "0.82")),
            Fact("mouth_width", "mouth 12% wider than this face's usual", ("12",)),
            Fact("key_frames", "most expressive at 4.10 s and 4.53 s", ("4.10", "4.53")),
        ),
        {
            "label": "happy",
            "confidence": 0.82,
            "cues": ["trend", "mouth_width"],
            "explanation": "A growing smile: happy rose from 0.61 to 0.82 as the mouth grew 12% wider than usual.",
        },
    ),
    (
        (
            _label("neutral", "0.48", "sad", "0.31"),
            Fact("uncertain", "the fast path is unsure: margin 0.17 between neutral and sad", ("0.17",)),
            Fact("head_roll", "head tilted 14 degrees", ("14",)),
            Fact("key_frames", "most expressive at 7.20 s and 7.63 s", ("7.20", "7.63")),
        ),
        {
            "label": "neutral",
            "confidence": 0.48,
            "cues": ["uncertain", "head_roll"],
            "explanation": "Unclear: neutral at 0.48 is close to sad at 0.31, with the head tilted 14 degrees.",
        },
    ),
    (
        (
            _label("neutral", "0.93", "happy", "0.03"),
            Fact("head_turn", "head turned to the right"),
            Fact("key_frames", "most expressive at 0.37 s and 0.70 s", ("0.37", "0.70")),
        ),
        {
            "label": "neutral",
            "confidence": 0.93,
            "cues": ["head_turn", "key_frames"],
            "explanation": "A calm, neutral face (0.93) turned to the right, held steady through 0.70 s.",
        },
    ),
    (
        (
            _label("angry", "0.66", "neutral", "0.20"),
            Fact("change", "changed from neutral to angry"),
            Fact("mouth_drop", "mouth line 9% closer to the nose than usual", ("9",)),
            Fact("key_frames", "most expressive at 12.40 s and 12.73 s", ("12.40", "12.73")),
        ),
        {
            "label": "angry",
            "confidence": 0.66,
            "cues": ["change", "mouth_drop"],
            "explanation": "Now angry (0.66) after neutral, the mouth line drawn 9% closer to the nose.",
        },
    ),
    (
        (
            _label("sad", "0.71", "neutral", "0.18"),
            Fact("head_roll", "head tilted 11 degrees", ("11",)),
            Fact("head_turn", "head turned to the left"),
            Fact("key_frames", "most expressive at 2.03 s and 2.50 s", ("2.03", "2.50")),
        ),
        {
            "label": "sad",
            "confidence": 0.71,
            "cues": ["head_roll", "key_frames"],
            "explanation": "Sad at 0.71 with the head tilted 11 degrees, strongest at 2.03 s.",
        },
    ),
)


def render_facts(facts: tuple[Fact, ...]) -> str:
    return "Facts:\n" + "".join(f"- [{f.cue}] {f.text}\n" for f in facts) + "JSON: "


def _answer(answer: dict) -> str:
    return json.dumps(answer, ensure_ascii=False)


PREFIX = INSTRUCTIONS + "".join(render_facts(facts) + _answer(answer) + "\n\n" for facts, answer in EXAMPLES)
# A packaged base model needs the worked examples; emolens' trained explainer learnt the task and reads the
# window's facts alone (a third of the prompt). Its manifest names the style it was trained with.
PREFIXES = {"few-shot": PREFIX, "facts-only": INSTRUCTIONS}


def build_prompt(evidence: Evidence, style: str = "few-shot") -> str:
    return PREFIXES[style] + render_facts(evidence.facts)


def _literal(text: str) -> str:
    return json.dumps(text)  # GBNF string literals use JSON's escapes


def _written(number: str, unit: str) -> str:
    if not unit:
        return number
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


def build_grammar(evidence: Evidence, max_chars: int = 160) -> str:
    """The label comes with the evidence's own probability for it, and the sentence's only digits are the
    evidence's numbers: neither can be invented."""
    label_fact = evidence.facts[0]
    p1, p2 = label_fact.numbers[1], label_fact.numbers[2]
    choices = [(evidence.label, p1), (evidence.second_label, p2)]
    label = " | ".join(_literal(f'"{name}", "confidence": {p}') for name, p in choices)
    cue_ids = [c for c in evidence.cue_ids if c != "label"] or ["label"]
    cues = " | ".join(_literal(f'"{c}"') for c in cue_ids)
    most = len(cue_ids) - 1
    written = sorted({_written(n, u) for n, u in fact_quantities(evidence)}, key=len, reverse=True)
    num = " | ".join(_literal(w) for w in written) if written else '"0"'
    return "\n".join(
        (
            r'root ::= "{\"label\": " label ", \"cues\": [" cues "], \"explanation\": \"" text "\"}"',
            f"label ::= {label}",
            f"cue ::= {cues}",
            f'cues ::= cue (", " cue){{0,{most}}}' if most else "cues ::= cue",
            f"num ::= {num}",
            f'text ::= [A-Z] ([^"\\\\\\n0-9] | num){{12,{max_chars}}} "."',
        )
    )
