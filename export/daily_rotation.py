"""Daily rotation of a kiosk's logs: one folder a day (YYYY-MM-DD), holding a session folder for each start of
that day; day folders older than N days are removed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:_|$)")  # a day's folder (and the older one-per-start names)


class DailyRotation:
    def __init__(self, root: Path, keep_days: int = 30, today: Callable[[], date] = date.today):
        self.root = root
        self.keep_days = keep_days
        self._today = today

    def today(self) -> date:
        return self._today()

    def day_folder(self) -> Path:
        """Today's folder, where each session of the day gets its own."""
        return self.root / self._today().isoformat()

    def due(self, opened_on: date) -> bool:
        """True once the day a folder was opened on has passed."""
        return self._today() != opened_on

    def prune(self) -> list[Path]:
        """Removes the days' folders from before the last `keep_days` days; returns them."""
        if not self.root.is_dir():
            return []
        oldest = self._today() - timedelta(days=self.keep_days - 1)
        removed = []
        for folder in sorted(self.root.iterdir()):
            match = _DAY.match(folder.name)
            if not (folder.is_dir() and match):
                continue
            try:
                day = date(*map(int, match.groups()))
            except ValueError:
                continue
            if day < oldest:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed
