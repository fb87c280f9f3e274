"""HeapRelease: hands the heap's freed pages back to the system, once a minute, in a session that runs for weeks.

Frames are decoded on the capture thread and freed on the session's; glibc
keeps such freed blocks in per-thread arenas instead of returning them, so a
kiosk's resident memory creeps up with nothing in Python growing (the soak
benchmark showed it). `malloc_trim(0)` returns them; it takes about a
millisecond. Where the C library has no `malloc_trim` (musl, macOS) it does nothing.

glibc also raises its mmap threshold each time a large block is freed, up to
32 MB, after which every decoded frame (1.1 MB at 720x528) comes from the heap
and leaves holes there as frames of other sizes come and go. The threshold is
fixed at 256 KiB instead, so frames are mapped and unmapped whole.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 256 * 1024


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _malloc_trim():
    return getattr(_libc(), "malloc_trim", None)


def fix_mmap_threshold() -> bool:
    """Large blocks (frames) are mapped from the system and handed back whole; True where glibc took it."""
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


class HeapRelease:
    def __init__(self, every_s: float = 60.0):
        self.every_s = every_s
        self._trim = _malloc_trim()
        self.mmap_threshold_fixed = fix_mmap_threshold()
        self._last = time.monotonic()
        self.releases = 0

    @property
    def available(self) -> bool:
        return self._trim is not None

    def tick(self) -> bool:
        """Called as often as convenient; trims when `every_s` has passed. True when it trimmed."""
        now = time.monotonic()
        if self._trim is None or now - self._last < self.every_s:
            return False
        self._last = now
        self._trim(0)
        self.releases += 1
        return True
