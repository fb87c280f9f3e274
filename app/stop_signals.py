"""SIGTERM and SIGINT as a clean stop: what systemd, Docker, `timeout` and Ctrl-C send means "close up and go".

`StopSignals` catches both for as long as it is active, so no moment is left
uncovered. A signal is noted at once; it interrupts only inside `raising()`
(where stopping at any line is safe: the frame loop, the wait for the
explainer's last answers), and anywhere else it is acted on at the next such
block. A second signal while the folder is being closed says what is being
finished, and the folder is never left half-closed.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(BaseException):
    """A stop asked for by a signal; a BaseException so that no `except Exception` swallows it."""

    def __init__(self, signum: int):
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.signal_name}")


class StopSignals:
    def __init__(self, say: Callable[[str], None]):
        self.say = say
        self.signum: int | None = None
        self.finishing = "the session"
        self._raising = False
        self._previous: dict = {}
        self._mask: set | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self._previous = {s: signal.signal(s, self._on_signal) for s in SIGNALS}
            # a caller that held them blocked (a batch worker between inputs) has them delivered here and now
            self._mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        return self

    def __exit__(self, *exc) -> None:
        if self._mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            if self.signum is not None and self.signum in self._mask:  # held blocked by the caller: pending again,
                signal.raise_signal(self.signum)  # so it knows (a stop that came as a session closed, say)
        for s, old in self._previous.items():
            signal.signal(s, old)

    def _on_signal(self, signum: int, _frame) -> None:
        if self.signum is not None:
            self.say(f"finishing {self.finishing}, one moment...")
            return
        self.signum = signum
        if self._raising:
            self._raising = False
            raise StopRequested(signum)

    @contextlib.contextmanager
    def raising(self) -> Iterator[None]:
        """Inside the block a signal (or one that came before it) raises StopRequested."""
        if self.signum is not None:
            raise StopRequested(self.signum)
        self._raising = True
        try:
            yield
        finally:
            self._raising = False

    def check(self) -> None:
        """Raises StopRequested if a signal came."""
        if self.signum is not None:
            raise StopRequested(self.signum)
