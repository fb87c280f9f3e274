"""A batch's inputs: folders, globs and list files expanded into videos, each with a session id of its own.

A session id is the file's name and a hash of its resolved path, so that the
same input gets the same session folder on every run (that is what lets a run
skip what an earlier one completed), two files of one name in different folders
do not collide, and the id is safe as a folder name and a hive partition value.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from capture.video_file import VIDEO_SUFFIXES
from engines.errors import EmolensError


@dataclass(frozen=True)
class BatchInput:
    path: Path  # resolved
    session_id: str

    @property
    def source(self) -> str:
        return str(self.path)


def session_id(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-.") or "input"
    return f"{stem[:60]}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


def _videos_in(folder: Path, unreadable: list[str] | None) -> list[Path]:
    """Its videos, searched down; a link to nowhere among them is kept (it fails as an input, with its reason),
    and a subfolder that cannot be read is added to `unreadable` rather than passed over unsaid."""
    found = []

    def note(exc: OSError) -> None:
        if unreadable is not None:
            unreadable.append(f"{exc.filename} ({exc.strerror})")

    for top, dirs, files in os.walk(folder, onerror=note):
        dirs.sort()
        found += [Path(top) / f for f in files if Path(f).suffix.lower() in VIDEO_SUFFIXES]
    return sorted(found)


def _list_file(path: Path) -> list[str]:
    """One input per line (a video, a folder or a glob, as on the command line); blank lines and lines starting
    with # are skipped; relative paths are read from the list's own folder."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EmolensError(f"cannot read the list file {path}: {exc}") from exc
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line).expanduser()
            out.append(str(p if p.is_absolute() else path.parent / p))
    if not out:
        raise EmolensError(f"the list file {path} names no input (one video, folder or glob a line)")
    return out


def _paths(spec: str, unreadable: list[str] | None, lists: tuple[Path, ...] = ()) -> list[Path]:
    """The videos one spec names; `lists`: the list files it was read from (a list may name another list, not
    one it is read from)."""
    p = Path(spec).expanduser()
    if p.is_dir():
        found = _videos_in(p, unreadable)
        if not found:
            raise EmolensError(f"no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) in the folder {p}")
        return found
    if p.suffix.lower() in (".txt", ".list") and p.is_file():
        if p.resolve() in lists:
            raise EmolensError(f"the list file {p} names itself, through {' -> '.join(map(str, lists))}")
        return [path for line in _list_file(p) for path in _paths(line, unreadable, (*lists, p.resolve()))]
    if any(ch in spec for ch in "*?[") and not p.exists():
        matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True) if Path(m).is_file())
        if not matches:
            raise EmolensError(f"nothing matches {spec}")
        return matches
    return [p]


def _identity(path: Path) -> tuple:
    """One file whatever names it: a link, another spelling of its path, or a hard link."""
    try:
        st = path.stat()
    except OSError:
        return ("path", path.resolve())
    return ("inode", st.st_dev, st.st_ino)


def expand_inputs(specs: list[str], repeated: list[Path] | None = None,
                  unreadable: list[str] | None = None) -> list[BatchInput]:  # fmt: skip
    """Folders give their videos (searched recursively, by extension); a glob gives its matches; a .txt or .list
    file gives its lines, each read as such a spec; anything else is taken as a video, even when it is not there
    or not readable, so that the batch lists it as failed with its reason. Each file once, in the order given
    (those named again, through another spec, a link or a hard link, are added to `repeated`; subfolders that
    could not be searched, to `unreadable`)."""
    seen: dict[tuple, BatchInput] = {}
    for p in (path for spec in specs for path in _paths(spec, unreadable)):
        key = _identity(p)
        if key in seen:
            if repeated is not None:
                repeated.append(p)
            continue
        resolved = p.resolve() if p.exists() else p.absolute()  # a link to nowhere is named as it was given
        seen[key] = BatchInput(resolved, session_id(resolved))
    if not seen:
        raise EmolensError("no inputs: give video files, folders, globs or a list file")
    return list(seen.values())
