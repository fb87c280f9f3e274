"""Append-only JSON Lines logs (events.jsonl, explanations.jsonl), flushed at least every second.

Each record is one line written whole, so a killed process leaves at most a
last partial line; `close()` fsyncs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


class JsonlLog:
    def __init__(self, path: Path, flush_interval_s: float = 1.0, append: bool = False):
        self.path = path
        self._file = open(path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()
        self.records = 0

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, default=_plain) + "\n")
        self.records += 1
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        self._file.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def _plain(value):
    """numpy scalars and tuples of them, as JSON has them."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
