"""ExplainerWorker: the explainer in its own process, out of the fast path's way.

A crash in llama.cpp must not end a session, so the model lives in a child
process; when the child dies, the window it was explaining gets the template
explanation and the child is restarted after a back-off that doubles up to
a ceiling. Live sessions keep a request slot of one: a newer window replaces a
pending one, never a queue. Offline analysis keeps every request instead.
The child runs at a lower priority with its own thread count, so the fast
path keeps its core.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from engines.child_process import exit_with_parent
from engines.contracts import Evidence, Explained
from engines.slow.explainer import template_explanation
from engines.slow.llm_models import GgufModel

EventCallback = Callable[[dict], None]


@dataclass(frozen=True)
class WorkerSettings:
    threads: int = 1  # generation, token by token, for the whole answer
    batch_threads: int | None = None  # reading the prompt, a short burst per answer (None: same as threads)
    max_tokens: int = 96
    nice: int = 10  # the explainer yields the CPU to the fast path and the UI
    keep_all: bool = False  # offline: explain every request; live: a slot of one, newest wins
    backoff_s: tuple[float, float] = (0.5, 30.0)  # first and longest wait before a restart


@dataclass
class _Request:
    id: int
    evidence: Evidence
    trigger: str
    submitted: float = field(default_factory=time.monotonic)


def _serve(model: GgufModel, settings: WorkerSettings, inbox, outbox) -> None:
    """The child process: load, warm the prompt prefix, then explain one request at a time."""
    exit_with_parent()
    # Ctrl-C reaches the whole process group; the parent decides when the explainer ends, not the terminal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(settings.nice)
    try:
        from engines.slow.explainer import Explainer

        start = time.perf_counter()
        explainer = Explainer(
            model, threads=settings.threads, max_tokens=settings.max_tokens, batch_threads=settings.batch_threads
        )
        warm_s = explainer.warm()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        outbox.put(("failed", None, f"{exc.__class__.__name__}: {exc}"))
        return
    outbox.put(("ready", None, {"load_s": round(time.perf_counter() - start, 3), "warm_s": round(warm_s, 3)}))
    while True:
        request = inbox.get()
        if request is None:
            return
        request_id, evidence, trigger = request
        explanation = explainer.explain(
            evidence, trigger, on_token=lambda piece, rid=request_id: outbox.put(("token", rid, piece))
        )
        outbox.put(("done", request_id, explanation))


class ExplainerWorker:
    """Submit windows from any thread; collect each explanation with its evidence (`Explained`) with `take()`,
    or wait for all with `drain()`. A request lives here only until it is answered or replaced."""

    def __init__(
        self,
        model: GgufModel,
        settings: WorkerSettings | None = None,
        on_event: EventCallback | None = None,
        on_token: Callable[[Evidence, str], None] | None = None,
    ):
        self.model = model
        self.settings = settings or WorkerSettings()
        self._on_event = on_event or (lambda event: None)
        self._on_token = on_token
        self._ctx = mp.get_context("spawn")  # no fork: the parent holds ONNX Runtime's and Qt's threads
        self._lock = threading.Condition()
        self._pending: deque[_Request] = deque()
        self._in_flight: _Request | None = None
        self._done: list[Explained] = []
        self._next_id = 0
        self._process = None
        self._requests = self._replies = None
        self._ready = False
        self._failed: str | None = None
        self._closing = False
        self._restart_at: float | None = None
        self._backoff = self.settings.backoff_s[0]
        self.restarts = 0
        self.replaced = 0
        self._thread = threading.Thread(target=self._run, name="explainer-dispatch", daemon=True)

    # --- the caller's side -------------------------------------------------------------------------
    def start(self) -> ExplainerWorker:
        self._spawn()
        self._thread.start()
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def failed(self) -> str | None:
        """Why the model cannot run at all (it failed to load); None while it can."""
        return self._failed

    def wait_ready(self, timeout: float = 60.0) -> bool:
        with self._lock:
            self._lock.wait_for(lambda: self._ready or self._failed is not None, timeout)
            return self._ready

    def submit(self, evidence: Evidence, trigger: str) -> int:
        with self._lock:
            self._next_id += 1
            request = _Request(self._next_id, evidence, trigger)
            if not self.settings.keep_all and self._pending:
                old = self._pending.popleft()
                self.replaced += 1
                self._on_event(
                    {
                        "event": "explainer_request_replaced",
                        "track_id": old.evidence.track_id,
                        "window": list(old.evidence.window),
                        "by_window": list(evidence.window),
                    }
                )
            self._pending.append(request)
            self._lock.notify_all()
            return request.id

    def clear_pending(self) -> int:
        """Drops the requests not yet started (the one in flight finishes); returns how many."""
        with self._lock:
            dropped = len(self._pending)
            self._pending.clear()
            return dropped

    def take(self) -> list[Explained]:
        """The explanations finished since the last call."""
        with self._lock:
            done, self._done = self._done, []
            return done

    @property
    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending) + (self._in_flight is not None)

    def drain(self, timeout: float | None = None, progress: Callable[[int], None] | None = None) -> list[Explained]:
        """Waits until every submitted window is explained (or the model has failed); returns what finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while (self._pending or self._in_flight) and self._failed is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                if progress:
                    progress(len(self._pending) + (self._in_flight is not None))
                self._lock.wait(0.5 if left is None else min(0.5, left))
        return self.take()

    def close(self, abort: bool = False) -> None:
        """Asks the child to finish and waits up to 2 s; `abort`: kills it at once (a stop by a signal)."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if self._requests is not None and not abort:
            with contextlib.suppress(OSError, ValueError):
                self._requests.put(None)
        if self._process is not None:
            self._process.join(timeout=0 if abort else 2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=2)
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    # --- the dispatcher thread ---------------------------------------------------------------------
    def _spawn(self) -> None:
        self._requests, self._replies = self._ctx.Queue(), self._ctx.Queue()
        self._ready = False
        self._process = self._ctx.Process(
            target=_serve,
            args=(self.model, self.settings, self._requests, self._replies),
            name="emolens-explainer",
            daemon=True,
        )
        self._process.start()
        self._on_event(
            {
                "event": "explainer_started",
                "pid": self._process.pid,
                "model": self.model.name,
                "threads": self.settings.threads,
            }
        )

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
            try:
                kind, request_id, payload = self._replies.get(timeout=0.05)
            except queue.Empty:
                self._check_child()
                self._dispatch()
                continue
            except (OSError, EOFError, ValueError):
                self._check_child()
                continue
            self._handle(kind, request_id, payload)
            self._dispatch()

    def _handle(self, kind: str, request_id: int | None, payload) -> None:
        with self._lock:
            if kind == "ready":
                self._ready = True
                self._on_event({"event": "explainer_ready", "pid": self.pid, **payload})
            elif kind == "failed":
                self._failed = payload
                self._on_event({"event": "explainer_failed", "error": payload})
                self._fail_all(payload)
            elif kind == "token" and self._on_token is not None:
                if self._in_flight is not None and self._in_flight.id == request_id:
                    self._on_token(self._in_flight.evidence, payload)
            elif kind == "done":
                if self._in_flight is not None and self._in_flight.id == request_id:
                    self._done.append(Explained(payload, self._in_flight.evidence))
                    self._in_flight = None
                self._backoff = self.settings.backoff_s[0]
            self._lock.notify_all()

    def _fail_all(self, why: str) -> None:
        for request in [*([self._in_flight] if self._in_flight else []), *self._pending]:
            explanation = template_explanation(request.evidence, request.trigger, f"explainer unavailable: {why}")
            self._done.append(Explained(explanation, request.evidence))
        self._in_flight = None
        self._pending.clear()

    def _check_child(self) -> None:
        with self._lock:
            if self._closing or self._failed is not None or self._process is None:
                return
            if self._process.is_alive():
                return
            if self._restart_at is None:
                code = self._process.exitcode
                lost = self._in_flight
                self._on_event(
                    {
                        "event": "explainer_crashed",
                        "exitcode": code,
                        "restart_in_s": self._backoff,
                        "in_flight_window": list(lost.evidence.window) if lost else None,
                    }
                )
                if lost is not None:
                    why = f"explainer process died (exit code {code})"
                    self._done.append(Explained(template_explanation(lost.evidence, lost.trigger, why), lost.evidence))
                    self._in_flight = None
                self._ready = False
                self._restart_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, self.settings.backoff_s[1])
                self._lock.notify_all()
                return
            if time.monotonic() < self._restart_at:
                return
            self._restart_at = None
            self.restarts += 1
            self._spawn()

    def _dispatch(self) -> None:
        with self._lock:
            if not self._ready or self._in_flight is not None or not self._pending or self._closing:
                return
            request = self._pending.popleft()
            self._in_flight = request
        self._requests.put((request.id, request.evidence, request.trigger))
