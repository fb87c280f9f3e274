"""DescriptorWorker: faces described in a process of its own, so the frame loop never waits for one.

The frame thread hands over a small RGB region around a face (`submit`) and picks
up finished descriptors between frames (`poll`); neither call blocks. One
request is in the child at a time and each track keeps only its newest region
waiting, so nothing queues up behind a slow descriptor. The child runs at a
lower priority, ends with its parent, and holds the descriptors of no one: it
answers and forgets.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Hashable

import numpy as np

from engines.child_process import exit_with_parent
from engines.model_assets import ModelAsset


def _serve(asset: ModelAsset, nice: int, inbox, outbox) -> None:
    exit_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    with contextlib.suppress(OSError):
        os.nice(nice)
    try:
        from engines.fast.face_descriptor import FaceDescriber

        describer = FaceDescriber.from_asset(asset)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which turns re-identification off
        outbox.put(("failed", None, f"{exc.__class__.__name__}: {exc}"))
        return
    outbox.put(("ready", None, None))
    while (request := inbox.get()) is not None:
        key, region, box = request
        try:
            outbox.put(("done", key, describer.describe(region, box)))
        except Exception as exc:  # noqa: BLE001 - one bad crop is that track's loss, not the session's
            outbox.put(("done", key, f"{exc.__class__.__name__}: {exc}"))


class DescriptorWorker:
    def __init__(self, asset: ModelAsset, nice: int = 5):
        ctx = mp.get_context("spawn")  # no fork: the parent holds ONNX Runtime's and Qt's threads
        self._requests, self._replies = ctx.Queue(), ctx.Queue()
        self._process = ctx.Process(
            target=_serve, args=(asset, nice, self._requests, self._replies), name="emolens-faces", daemon=True
        )
        self._process.start()
        self.asset = asset
        self._waiting: dict[Hashable, tuple[np.ndarray, tuple[int, ...], bool]] = {}
        self._in_flight: Hashable | None = None
        self.ready = False
        self.failed: str | None = None
        self.described = 0

    def submit(self, key: Hashable, region: np.ndarray, box: tuple[int, ...], urgent: bool = False) -> None:
        """Replaces whatever region of `key` was still waiting; `urgent` ones go first (a face whose person is
        being decided), the others in turn."""
        if self.failed is None:
            self._waiting.pop(key, None)
            self._waiting[key] = (region, box, urgent)
            self._send()

    def waiting(self, key: Hashable) -> bool:
        return key in self._waiting or key == self._in_flight

    def poll(self) -> list[tuple[Hashable, np.ndarray | None]]:
        """Descriptors finished since the last call, as (key, descriptor, or None where the face could not be
        described)."""
        done = []
        while True:
            try:
                kind, key, payload = self._replies.get_nowait()
            except (queue.Empty, OSError, EOFError):
                break
            if kind == "ready":
                self.ready = True
            elif kind == "failed":
                self.failed = payload
                self._waiting.clear()
            else:
                self._in_flight = None
                self.described += 1
                done.append((key, payload if isinstance(payload, np.ndarray) else None))
        if self.failed is None and not self._process.is_alive():
            self.failed = f"the face describer process ended (exit {self._process.exitcode})"
        self._send()
        return done

    def keep_only(self, keys: set) -> None:
        """Regions of tracks that ended go unsent (an answer already on its way is for the caller to drop)."""
        for key in [k for k in self._waiting if k not in keys]:
            del self._waiting[key]

    def drop_all(self) -> None:
        self._waiting.clear()

    def _send(self) -> None:
        if self.ready and self._in_flight is None and self._waiting:
            key = next((k for k, w in self._waiting.items() if w[2]), next(iter(self._waiting)))
            region, box, _ = self._waiting.pop(key)
            self._in_flight = key
            self._requests.put((key, region, box))

    def wait_ready(self, timeout_s: float) -> bool:
        """For offline use and tests: True once the child has loaded its models."""
        deadline = time.monotonic() + timeout_s
        while not self.ready and self.failed is None and time.monotonic() < deadline:
            self.poll() or time.sleep(0.02)
        return self.ready

    def sizes(self) -> dict[str, int]:
        return {"waiting": len(self._waiting), "in_flight": int(self._in_flight is not None)}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._requests.put(None)
        self._process.join(timeout=2)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=2)
        for q in (self._requests, self._replies):
            q.cancel_join_thread()
            q.close()
