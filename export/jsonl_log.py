"""Append-only JSON Lines logs (events.jsonl, explanations.jsonl).

One record is one line, written whole (see `LineFile`): a killed process leaves
every line parseable. A log flushes on its own when a record comes a second or
more after the last flush; the session recorder's flusher also flushes it every
half second, so a record never waits longer than that. `close()` fsyncs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from export.line_file import LineFile


class JsonlLog:
    def __init__(self, path: Path, flush_interval_s: float = 1.0, append: bool = False):
        self.path = path
        self._file = LineFile(path, append=append)
        self.flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()

    @property
    def records(self) -> int:
        return self._file.lines

    @property
    def records_on_disk(self) -> int:
        return self._file.lines_on_disk

    def write(self, record: dict) -> None:
        self._file.append(json.dumps(record, ensure_ascii=False, default=_plain))
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed


def _plain(value):
    """numpy scalars and tuples of them, as JSON has them."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
