"""What every model process emolens starts shares: it ends when its parent is gone."""

from __future__ import annotations

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
    handed to another parent and ends, rather than spin on a model nobody reads."""
    threading.Thread(target=_watch, args=(os.getppid(), every_s), name="parent-watch", daemon=True).start()
