"""AudioRing: the last seconds of mono audio, stamped on the capture clock, read by time.

The microphone's callback writes; the voice analyser reads what it has not seen
yet. Nothing queues: when the reader falls behind by more than the ring holds,
the oldest audio is overwritten and counted as dropped, as frames are.
"""

from __future__ import annotations

import threading

import numpy as np


class AudioRing:
    def __init__(self, rate: int = 16000, seconds: float = 10.0):
        self.rate = rate
        self._buffer = np.zeros(int(rate * seconds), dtype=np.float32)
        self._written = 0  # samples written since the start
        self._t_end: float | None = None  # clock time of the sample after the last one written
        self._lock = threading.Lock()
        self.dropped = 0  # samples overwritten before they were read

    def write(self, samples: np.ndarray, t_end: float) -> None:
        """`samples` (mono float32) ended at clock time `t_end`."""
        samples = samples[-len(self._buffer) :]
        with self._lock:
            start = self._written % len(self._buffer)
            first = min(len(samples), len(self._buffer) - start)
            self._buffer[start : start + first] = samples[:first]
            self._buffer[: len(samples) - first] = samples[first:]
            self._written += len(samples)
            self._t_end = t_end

    def read_since(self, position: int) -> tuple[np.ndarray, int, float | None]:
        """Samples written after `position` (a count from the start), the new position, and the clock time of
        the new position. Audio already overwritten is skipped and counted in `dropped`."""
        with self._lock:
            oldest = max(0, self._written - len(self._buffer))
            if position < oldest:
                self.dropped += oldest - position
                position = oldest
            n = self._written - position
            start = position % len(self._buffer)
            index = (start + np.arange(n)) % len(self._buffer)
            return self._buffer[index].copy(), self._written, self._t_end
