"""Claiming a folder for a session: one writer (its lock), and never an earlier session overwritten by accident."""

from __future__ import annotations

import shutil
from pathlib import Path

from engines.errors import EmolensError
from export.folder_lock import LOCK_NAME, FolderLock

SESSION_FILES = (
    "session.json",
    "events.jsonl",
    "frames.csv",
    "frames.parquet",
    "explanations.jsonl",
    "report.html",
    "explain-events.jsonl",
    ".reserve",
)
# what a session killed mid-write leaves besides them: its files' temporary twins, renamed over them when whole
SESSION_TEMPS = ("session.json.tmp", ".frames.parquet.tmp", "report.html.tmp", "report.pdf.tmp")


def claim_session_folder(folder: Path, replace: bool) -> FolderLock:
    """The folder's lock, with the folder empty of any earlier session: `replace` removes an earlier emolens
    session there, and only its files (a folder holding anything else is refused)."""
    lock = FolderLock.acquire(folder)
    try:
        _make_room(folder, replace)
    except BaseException:
        lock.release()
        raise
    return lock


def _make_room(folder: Path, replace: bool) -> None:
    present = [p for p in folder.iterdir() if p.name != LOCK_NAME]
    if not present:
        return
    if not replace:
        raise EmolensError(f"{folder} already holds a session; give a new folder with --out, or add --replace")
    ours = (*SESSION_FILES, *SESSION_TEMPS)
    others = [p.name for p in present if p.name not in ours and p.name != "keyframes"]
    began = (folder / "session.json").exists() or (folder / ".reserve").exists()  # killed as it began: no json yet
    if others or not began:
        named = ", ".join(sorted(others)[:3]) or "no session.json"
        raise EmolensError(f"{folder} holds files emolens did not write ({named}); not replacing")
    for name in ours:
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / "keyframes", ignore_errors=True)
