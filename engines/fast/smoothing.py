"""Per-track temporal smoothing of expression probabilities, with an explicit *uncertain* state."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SmoothedExpression:
    probs: np.ndarray
    label_index: int
    uncertain: bool
    margin: float  # top-1 minus top-2
    entropy: float  # Shannon entropy / log(K), in [0, 1]


class ExpressionSmoother:
    """An exponential moving average over time (not frames), so it behaves the same at 15 or 60 fps.

    A face is *uncertain* when the smoothed top-2 margin is small or the entropy is
    high: the fast path says so rather than pretend, and the slow path (later)
    is invoked on exactly these.
    """

    def __init__(self, time_constant_s: float = 0.5, min_margin: float = 0.15, max_entropy: float = 0.8):
        self.time_constant_s = time_constant_s
        self.min_margin = min_margin
        self.max_entropy = max_entropy
        self._state: dict[int, tuple[float, np.ndarray]] = {}

    def update(self, track_id: int, t: float, probs: np.ndarray) -> SmoothedExpression:
        previous = self._state.get(track_id)
        if previous is None or self.time_constant_s <= 0:
            smoothed = probs.astype(np.float64)
        else:
            last_t, last = previous
            alpha = 1.0 - math.exp(-max(t - last_t, 0.0) / self.time_constant_s)
            smoothed = last + alpha * (probs - last)
        self._state[track_id] = (t, smoothed)
        return self.assess(smoothed)

    def assess(self, probs: np.ndarray) -> SmoothedExpression:
        order = np.argsort(probs)
        margin = float(probs[order[-1]] - probs[order[-2]])
        p = np.clip(probs, 1e-12, 1.0)
        entropy = float(-(p * np.log(p)).sum() / math.log(len(p)))
        uncertain = margin < self.min_margin or entropy > self.max_entropy
        return SmoothedExpression(probs.astype(np.float32), int(order[-1]), uncertain, margin, entropy)

    @property
    def size(self) -> int:
        return len(self._state)

    def retain(self, track_ids: set[int]) -> None:
        """Forget tracks that ended."""
        for tid in list(self._state):
            if tid not in track_ids:
                del self._state[tid]
