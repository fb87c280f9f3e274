"""The one clock every live source stamps with, so video and audio line up."""

import time


def now() -> float:
    """Seconds on a monotonic clock; never jumps with wall-clock changes."""
    return time.monotonic()
