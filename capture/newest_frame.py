"""NewestFrameSlot: a hand-over one frame wide between a reader thread and the consumer.

The reader overwrites whatever the consumer has not taken yet: a slow consumer
sees fewer frames, never older ones, and never a growing queue. What was
overwritten is counted as dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np

from capture import clock
from engines.contracts import Frame


class NewestFrameSlot:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._latest: tuple[float, int | None, np.ndarray, float] | None = None
        self._ended = False
        self.produced = 0
        self.delivered = 0

    def put(self, t: float, image: np.ndarray, index: int | None = None) -> bool:
        """Offers a frame (`index`: its place in the source, when the source knows it; else the order of
        delivery); False once the slot has ended (the reader should stop)."""
        with self._cond:
            if self._ended:
                return False
            self.produced += 1
            self._latest = (t, index, image, clock.now())
            self._cond.notify_all()
            return True

    def end(self) -> None:
        """The source has no more frames; the consumer still gets the one pending."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def interrupt(self) -> None:
        """Ends at once, dropping the pending frame; a consumer blocked in `frames()` returns."""
        with self._cond:
            self._ended = True
            self._latest = None
            self._cond.notify_all()

    @property
    def dropped(self) -> int:
        with self._cond:
            return self.produced - self.delivered - (self._latest is not None)

    def frames(
        self, timeout: float | None = None, on_timeout: Callable[[], Exception] | None = None
    ) -> Iterator[Frame]:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._latest is not None or self._ended, timeout):
                    raise on_timeout() if on_timeout else TimeoutError("no frame")
                if self._latest is None:
                    return
                t, index, image, captured = self._latest
                self._latest = None
                index = self.delivered if index is None else index
                self.delivered += 1
            yield Frame(t=t, index=index, image=image, captured=captured)
