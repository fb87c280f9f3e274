"""Fits the gate's thresholds on recorded sessions for a target invocation ratio.

The windows that must be explained are fixed by the fast path itself, not by
the thresholds being fitted: a window where the fast path flagged the face
uncertain on at least half the frames, or where face and voice conflict. Among
the settings that cover all of them (explained, or already explained and
unchanged) and invoke on no more than the target share of windows, the fit
keeps the one closest to the target, spending the allowance on fresher
explanations; if none covers them all, the one that covers most.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace

from engines.contracts import Evidence
from engines.slow.gate import ExplanationGate, GateSettings

GRID = {
    "max_margin": (0.10, 0.15, 0.20, 0.25),
    "min_entropy": (0.7, 0.8, 0.9),
    "new_face_after_s": (1.0, 2.0, 3.0, 5.0, 8.0),
    "stale_s": (5.0, 10.0, 20.0, 30.0, 60.0),
    "max_per_minute": (6, 12, 20),
}


def must_explain(evidence: Evidence) -> bool:
    return evidence.conflict or evidence.uncertain_share >= 0.5


def replay(sessions: list[list[Evidence]], settings: GateSettings) -> dict:
    windows = invoked = must = covered = 0
    triggers: dict[str, int] = {}
    for windows_of_session in sessions:
        gate = ExplanationGate(settings)
        for evidence in windows_of_session:
            decision = gate.decide(evidence)
            windows += 1
            invoked += decision.invoke
            if decision.invoke:
                triggers[decision.trigger] = triggers.get(decision.trigger, 0) + 1
            if must_explain(evidence):
                must += 1
                covered += decision.invoke or decision.already_explained
    return {
        "windows": windows,
        "invoked": invoked,
        "ratio": invoked / windows if windows else 0.0,
        "must_explain": must,
        "coverage": covered / must if must else 1.0,
        "triggers": triggers,
    }


def fit_gate(sessions: list[list[Evidence]], target_ratio: float, base: GateSettings | None = None) -> dict:
    base = base or GateSettings()
    results = []
    for values in itertools.product(*GRID.values()):
        settings = replace(base, **dict(zip(GRID, values, strict=True)))
        results.append((settings, replay(sessions, settings)))
    feasible = [(s, r) for s, r in results if r["coverage"] == 1.0 and r["ratio"] <= target_ratio]
    if feasible:
        settings, result = max(feasible, key=lambda sr: (sr[1]["ratio"], -sr[0].stale_s, -sr[0].new_face_after_s))
    else:
        settings, result = max(results, key=lambda sr: (sr[1]["coverage"], -sr[1]["ratio"]))
    return {
        "settings": settings.as_dict(),
        "target_ratio": target_ratio,
        "met": bool(feasible),
        "result": {**result, "ratio": round(result["ratio"], 4), "coverage": round(result["coverage"], 4)},
        "default_result": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in replay(sessions, base).items()},
        "candidates": len(results),
    }


def windows_of(replayed: Iterable[tuple[float, list]]) -> list[Evidence]:
    """Evidence windows from a replayed frames.csv (see export.frames_csv.read_frames_csv)."""
    from engines.slow.evidence import EvidenceBuilder

    builder = EvidenceBuilder()
    out: list[Evidence] = []
    for t, faces in replayed:
        out += builder.add(t, faces)
    return out + builder.flush()
