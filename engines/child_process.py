"""What every model process emolens starts shares: it ends when its parent is gone."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time


def _watch(parent: int, every_s: float) -> None:
    while True:
        time.sleep(every_s)
        if os.getppid() != parent:
            os._exit(0)


def exit_with_parent(every_s: float = 0.5) -> None:
    """A parent killed outright (kill -9, a power button) cannot close its children: a child notices that it was
    handed to another parent and ends, rather than spin on a model nobody reads. The parent is the one that
    started it (multiprocessing says which), not whoever is its parent now: one killed while this child was still
    starting had already handed it to init, and a watch on init never ended (found by a describer left running
    after a test killed `analyze` a moment after its start)."""
    started_by = multiprocessing.parent_process()
    parent = started_by.pid if started_by is not None else os.getppid()
    if os.getppid() != parent:
        os._exit(0)
    threading.Thread(target=_watch, args=(parent, every_s), name="parent-watch", daemon=True).start()
