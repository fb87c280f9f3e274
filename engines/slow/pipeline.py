"""SlowPath: evidence windows from the fast path's results, the gate's decisions, and the worker's answers.

It runs on the caller's thread and never waits: `observe` costs a few
microseconds per frame, and explanations arrive when they arrive, each with
the evidence it was given (the worker returns both, so nothing waits here in
a side table). A face gone for longer than `forget_after_s` is forgotten by the
evidence builder and the gate, so a kiosk that sees thousands of faces a week
keeps a few in memory.
"""

from __future__ import annotations

from collections.abc import Callable

from engines.contracts import Evidence, Explained, FrameResult, FusedState, GateDecision, VoiceCues
from engines.slow.evidence import EvidenceBuilder, EvidenceSettings
from engines.slow.gate import ExplanationGate, GateSettings
from engines.slow.worker import ExplainerWorker


class SlowPath:
    def __init__(
        self,
        worker: ExplainerWorker | None,
        gate: ExplanationGate | None = None,
        evidence: EvidenceSettings | None = None,
        on_decision: Callable[[GateDecision, Evidence], None] | None = None,
        fusion=None,
        on_fusion: Callable[[FusedState, VoiceCues | None], None] | None = None,
        forget_after_s: float = 120.0,
    ):
        """`worker` None: decide and log only (the model is off); nothing is explained."""
        self.worker = worker
        self.fusion = fusion  # FaceVoiceFusion: marks face/voice conflicts before the gate sees a window
        self._on_fusion = on_fusion or (lambda state, voice: None)
        self.gate = gate or ExplanationGate(GateSettings())
        self.builder = EvidenceBuilder(evidence)
        self._on_decision = on_decision or (lambda decision, evidence: None)
        self.forget_after_s = forget_after_s
        self._last_seen: dict[int, float] = {}
        self.people_return = False  # re-identification is on: a number that comes back is a person returning
        self._swept_at = 0.0
        self.windows = 0
        self.invoked = 0

    def observe(self, result: FrameResult) -> list[GateDecision]:
        for face in result.faces:
            if face.person_id is not None:
                self._last_seen[face.person_id] = result.t
        if result.t - self._swept_at >= self.forget_after_s / 4:
            self._forget_gone(result.t)
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
                    self.worker.submit(evidence, decision.trigger)
            decisions.append(decision)
        return decisions

    def reset(self) -> None:
        """Forget every face (a new input); the settings and the worker stay."""
        self.builder = EvidenceBuilder(self.builder.settings)
        self.gate = ExplanationGate(self.gate.settings)
        self._last_seen.clear()
        self._swept_at = 0.0

    def _forget_gone(self, now: float) -> None:
        self._swept_at = now
        gone = {tid for tid, t in self._last_seen.items() if now - t > self.forget_after_s}
        if gone:
            for tid in gone:
                del self._last_seen[tid]
            self.builder.forget(gone)
            self.gate.forget(gone, remember=self.people_return)

    def sizes(self) -> dict[str, int]:
        """How many entries each table holds: a soak run checks that none of them grows."""
        return {
            "slow.tracks_seen": len(self._last_seen),
            "slow.builder_tracks": self.builder.tracks,
            "slow.builder_history": self.builder.history,
            **{f"slow.gate_{k}": v for k, v in self.gate.sizes().items()},
            "slow.worker_outstanding": self.worker.outstanding if self.worker else 0,
        }

    def take(self) -> list[Explained]:
        return self.worker.take() if self.worker else []

    def drain(self, timeout: float | None = None, progress: Callable[[int], None] | None = None) -> list[Explained]:
        return self.worker.drain(timeout, progress) if self.worker else []
