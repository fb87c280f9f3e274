"""SlowPath: evidence windows from the fast path's results, the gate's decisions, and the worker's answers.

It runs on the caller's thread and never waits: `observe` costs a few
microseconds per frame, and explanations arrive when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engines.contracts import Evidence, Explanation, FrameResult, FusedState, GateDecision, VoiceCues
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
        on_token: Callable[[Evidence, str], None] | None = None,
        fusion=None,
        on_fusion: Callable[[FusedState, VoiceCues | None], None] | None = None,
    ):
        """`worker` None: decide and log only (the model is off); nothing is explained.

        `on_token` receives the model's answer as it streams, with the window it is about;
        connect the worker's token callback to `token()` for it to be called.
        """
        self.worker = worker
        self.fusion = fusion  # FaceVoiceFusion: marks face/voice conflicts before the gate sees a window
        self._on_fusion = on_fusion or (lambda state, voice: None)
        self._on_token = on_token
        self._requests: dict[int, Evidence] = {}
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
            if self.fusion is not None and evidence.voice is not None:
                evidence, state = self.fusion.apply(evidence)
                self._on_fusion(state, evidence.voice)
            decision = self.gate.decide(evidence)
            self.windows += 1
            self._on_decision(decision, evidence)
            if decision.invoke:
                self.invoked += 1
                if self.worker is not None:
                    self._evidence[(evidence.track_id, evidence.window)] = evidence
                    request_id = self.worker.submit(evidence, decision.trigger)
                    if self._on_token is not None:
                        self._requests[request_id] = evidence
                        self._forget_old_requests()
            decisions.append(decision)
        return decisions

    def token(self, request_id: int, piece: str) -> None:
        """A piece of the answer to request `request_id` (called on the worker's dispatch thread)."""
        evidence = self._requests.get(request_id)
        if evidence is not None and self._on_token is not None:
            self._on_token(evidence, piece)

    def _forget_old_requests(self, keep: int = 16) -> None:
        while len(self._requests) > keep:
            self._requests.pop(next(iter(self._requests)))

    def take(self) -> list[Explained]:
        return self._pair(self.worker.take()) if self.worker else []

    def drain(self, timeout: float | None = None, progress: Callable[[int], None] | None = None) -> list[Explained]:
        return self._pair(self.worker.drain(timeout, progress)) if self.worker else []

    def _pair(self, explanations: list[Explanation]) -> list[Explained]:
        return [Explained(x, self._evidence.pop((x.track_id, x.window))) for x in explanations]
