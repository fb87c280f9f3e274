"""FolderLock: one writer per session folder.

Two writers on one folder would interleave rows and break JSON lines, so the
first holds an advisory lock (`flock`) on `.lock` and the second is refused at
once. The kernel drops a lock when its process dies, so a lock left by a killed
writer is taken over; its pid, still in the file, says whose it was. A clean
end removes the file, so a finished folder holds only the session's own files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from engines.errors import EmolensError

LOCK_NAME = ".lock"


class FolderBusy(EmolensError):
    """Another process is writing the folder."""


class FolderLock:
    def __init__(self, folder: Path, fd: int, stale_pid: int | None):
        self.folder = folder
        self._fd: int | None = fd
        self.stale_pid = stale_pid  # the writer that died holding the folder, when it was taken over

    @classmethod
    def acquire(cls, folder: Path, doing: str = "writing") -> FolderLock:
        if folder.exists() and not folder.is_dir():
            raise EmolensError(f"{folder} is a file, not a folder; give a folder (it is made if missing)")
        path = folder / LOCK_NAME
        while True:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise EmolensError(f"cannot use {folder}: {exc.strerror or exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _pid_in(fd)
                os.close(fd)
                who = f" (pid {holder})" if holder else ""
                raise FolderBusy(
                    f"{folder} is being written by another emolens{who}; wait for it to finish, or give another folder"
                ) from None
            if _same_file(path, fd):
                break
            os.close(fd)  # the holder removed it as we opened it: lock the file that is there now
        stale = _pid_in(fd)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        return cls(folder, fd, stale if stale != os.getpid() else None)

    def release(self) -> None:
        """Removes the file, then unlocks: a writer that opened it meanwhile sees it gone and tries again."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.folder / LOCK_NAME)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
