"""ReconnectingSource: a live source that comes back after it stops, for a session that must not end.

A camera unplugged, or a looped file that vanished, is reopened with a back-off
that doubles up to a ceiling and starts again from the first wait once frames
flow. Until then `on_change` hears of each opening, loss and wait (with the
seconds left, a few times a second), so a window can say what is happening and
the session can go on with its other work. A source that is not endless (a
plain file) ends the iteration at its end, as any source does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from capture.source import CaptureError, FrameSource
from engines.contracts import Frame

OnChange = Callable[[str, str, "float | None"], None]  # (opened | lost | waiting, what or why, seconds left)


class ReconnectingSource(FrameSource):
    live = True

    def __init__(
        self,
        opener: Callable[[], FrameSource],
        endless: bool,
        retry_s: tuple[float, float] = (1.0, 8.0),
        on_change: OnChange | None = None,
    ):
        self._opener = opener
        self.endless = endless
        self.retry_s = retry_s
        self._on_change = on_change or (lambda what, detail, left: None)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: FrameSource | None = None
        self._dropped_before = 0
        self.reconnects = 0

    @property
    def current(self) -> FrameSource | None:
        return self._current

    @property
    def dropped(self) -> int:
        current = self._current
        return self._dropped_before + (current.dropped if current else 0)

    @property
    def clock_time(self) -> bool:  # type: ignore[override]
        current = self._current
        return bool(current and current.clock_time)

    def frames(self) -> Iterator[Frame]:
        backoff = self.retry_s[0]
        while not self._stop.is_set():
            try:
                source = self._opener()
            except CaptureError as exc:
                if not self.endless:
                    raise
                self._wait(str(exc), backoff)
                backoff = min(backoff * 2, self.retry_s[1])
                continue
            with self._lock:
                self._current = source
            if self._stop.is_set():  # stopped while it opened: nothing is left open
                with self._lock:
                    self._current = None
                source.close()
                break
            self.description = source.description
            self._on_change("opened", source.description, None)
            delivered = 0
            try:
                for frame in source.frames():
                    delivered += 1
                    yield frame
                why = f"{source.description} stopped delivering frames"
            except CaptureError as exc:
                why = str(exc)
            finally:
                with self._lock:
                    self._current = None
                    self._dropped_before += source.dropped
                source.close()
            if self._stop.is_set() or not self.endless:
                return
            self._on_change("lost", why, None)
            self.reconnects += 1
            if delivered:
                backoff = self.retry_s[0]
            self._wait(why, backoff)
            backoff = min(backoff * 2, self.retry_s[1])

    def _wait(self, why: str, delay: float) -> None:
        until = time.monotonic() + delay
        while not self._stop.is_set() and (left := until - time.monotonic()) > 0:
            self._on_change("waiting", why, round(left, 1))
            self._stop.wait(min(0.25, left))

    def interrupt(self) -> None:
        self._stop.set()
        with self._lock:
            if self._current is not None:
                self._current.interrupt()

    def close(self) -> None:
        self.interrupt()
