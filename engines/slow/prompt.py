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
from engines.slow.evidence import (
    head_roll_fact,
    key_frames_fact,
    label_fact,
    mouth_fact,
    trend_fact,
    uncertain_fact,
    written_probabilities,
)
from engines.slow.grounding import evidence_quantities

INSTRUCTIONS = (
    "Each record lists facts measured about one face over a short window of video. "
    "Answer with one JSON object: the label, the ids of the facts that support it, and one short plain "
    "sentence that says what the face shows, using only those facts and copying their numbers exactly.\n\n"
)


def _label(label: str, p: str, second: str, p2: str) -> Fact:
    return label_fact(label, p, second, p2, "0.9")


# Worked examples; a test checks that each passes the same grounding check as the model's answers.
EXAMPLES: tuple[tuple[tuple[Fact, ...], dict], ...] = (
    (
        (
            _label("happy", "0.82", "neutral", "0.09"),
            trend_fact("happy", "0.61", "0.82"),
            mouth_fact("mouth_width", "mouth 12% wider than this face's usual", "12"),
            key_frames_fact(("4.10", "4.53")),
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
            uncertain_fact("neutral", "0.48", "sad", "0.31"),
            head_roll_fact("14"),
            key_frames_fact(("7.20", "7.63")),
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
            key_frames_fact(("0.37", "0.70")),
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
            mouth_fact("mouth_drop", "mouth line 9% closer to the nose than usual", "9"),
            key_frames_fact(("12.40", "12.73")),
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
            head_roll_fact("11"),
            Fact("head_turn", "head turned to the left"),
            key_frames_fact(("2.03", "2.50")),
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


def build_grammar(evidence: Evidence, max_chars: int = 160) -> str:
    """The label comes with the evidence's own probability for it, and the sentence's only digits are the
    evidence's numbers: neither can be invented. Which fact a number in the sentence is written next to is left
    to the grounding check: the sentence is free text to this grammar, which cannot look back at the word before
    a number, and listing every "subject ... number" phrase would fix the wording the model may use."""
    p1, p2 = written_probabilities(evidence)
    choices = [(evidence.label, p1), (evidence.second_label, p2)]
    label = " | ".join(_literal(f'"{name}", "confidence": {p}') for name, p in choices)
    cue_ids = [c for c in evidence.cue_ids if c != "label"] or ["label"]
    cues = " | ".join(_literal(f'"{c}"') for c in cue_ids)
    most = len(cue_ids) - 1
    # Where a facial action clearly moved, the answer cites one first: what the face did is why it reads so
    # (the trained model, left to choose, cited one in 42% of such held-out windows; its targets in 95%).
    moved = [c for c in cue_ids if c.startswith("action_")]
    first = " | ".join(_literal(f'"{c}"') for c in moved) if moved else "cue"
    written = sorted({q.written for q in evidence_quantities(evidence)}, key=len, reverse=True)
    num = " | ".join(_literal(w) for w in written) if written else '"0"'
    return "\n".join(
        (
            r'root ::= "{\"label\": " label ", \"cues\": [" cues "], \"explanation\": \"" text "\"}"',
            f"label ::= {label}",
            f"cue ::= {cues}",
            f"first ::= {first}",
            f'cues ::= first (", " cue){{0,{most}}}' if most else "cues ::= first",
            f"num ::= {num}",
            f'text ::= [A-Z] ([^"\\\\\\n0-9] | num){{12,{max_chars}}} "."',
        )
    )
