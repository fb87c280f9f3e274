"""MemoryTimeline: the resident memory of given processes, sampled along a run, to show whether it stays flat.

A peak (getrusage's ru_maxrss) says how high a worker went, not when: a worker
whose memory grew with every frame of an hour-long input and one that held flat
and rose only while closing the session look the same. This samples
/proc/PID/status every `interval_s` for the processes `pids()` names at that
moment, so a worker started late (a replacement) is followed too.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

SERIES_KEPT = 240  # samples of each process written out, evenly spaced


def resident_mb(pid: int) -> float | None:
    """VmRSS of a live process, in MB; None once it has ended."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


class MemoryTimeline:
    def __init__(self, pids: Callable[[], list[int]], interval_s: float = 1.0):
        self._pids = pids
        self.interval_s = interval_s
        self.samples: dict[int, list[tuple[float, float]]] = {}  # pid -> [(seconds since start, MB)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="memory-timeline", daemon=True)

    def __enter__(self) -> MemoryTimeline:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            now = time.monotonic() - self._started
            for pid in list(self._pids()):
                mb = resident_mb(pid)
                if mb is not None:
                    self.samples.setdefault(pid, []).append((round(now, 1), round(mb, 1)))

    def summary(self) -> dict[str, dict]:
        """Per process: its samples' count, the median MB in the first and the last fifth of its life, and the
        highest; the growth between the two fifths is what an input's length adds while it is being analysed."""
        out = {}
        for pid, series in self.samples.items():
            mb = [m for _, m in series]
            fifth = max(1, len(mb) // 5)
            out[str(pid)] = {
                "samples": len(mb),
                "seconds": series[-1][0] - series[0][0],
                "first_fifth_median_mb": round(statistics.median(mb[:fifth]), 1),
                "last_fifth_median_mb": round(statistics.median(mb[-fifth:]), 1),
                "max_mb": max(mb),
                "series": series[:: max(1, len(series) // SERIES_KEPT)],  # (seconds, MB), thinned
            }
        return out
