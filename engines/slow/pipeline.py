"""SlowPath: evidence windows from the fast path's results, the gate's decisions, and the worker's answers.

It runs on the caller's thread and never waits: `observe` costs a few
microseconds per frame, and explanations arrive when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engines.contracts import Evidence, Explanation, FrameResult, GateDecision
from engines.slow.evidence import EvidenceBuilder, EvidenceSettings
from engines.slow.gate import ExplanationGate, GateSettings
from engines.slow.worker import ExplainerWorker


@dataclass(frozen=True)
class Explained:
    """An explanation with the evidence it was given, so a log can show both."""

    explanation: Explanation
    evidence: Evidence


class SlowPath:
    def __init__(
        self,
        worker: ExplainerWorker | None,
        gate: ExplanationGate | None = None,
        evidence: EvidenceSettings | None = None,
        on_decision: Callable[[GateDecision, Evidence], None] | None = None,
    ):
        """`worker` None: decide and log only (the model is off); nothing is explained."""
        self.worker = worker
        self.gate = gate or ExplanationGate(GateSettings())
        self.builder = EvidenceBuilder(evidence)
        self._on_decision = on_decision or (lambda decision, evidence: None)
        self._evidence: dict[tuple[int, tuple[float, float]], Evidence] = {}
        self.windows = 0
        self.invoked = 0

    def observe(self, result: FrameResult) -> list[GateDecision]:
        return self.decide(self.builder.add_result(result))

    def finish(self) -> list[GateDecision]:
        """Closes the windows still open (the end of the input)."""
        return self.decide(self.builder.flush())

    def decide(self, windows: list[Evidence]) -> list[GateDecision]:
        decisions = []
        for evidence in windows:
            decision = self.gate.decide(evidence)
            self.windows += 1
            self._on_decision(decision, evidence)
            if decision.invoke:
                self.invoked += 1
                if self.worker is not None:
                    self._evidence[(evidence.track_id, evidence.window)] = evidence
                    self.worker.submit(evidence, decision.trigger)
            decisions.append(decision)
        return decisions

    def take(self) -> list[Explained]:
        return self._pair(self.worker.take()) if self.worker else []

    def drain(self, timeout: float | None = None, progress: Callable[[int], None] | None = None) -> list[Explained]:
        return self._pair(self.worker.drain(timeout, progress)) if self.worker else []

    def _pair(self, explanations: list[Explanation]) -> list[Explained]:
        return [Explained(x, self._evidence.pop((x.track_id, x.window))) for x in explanations]
