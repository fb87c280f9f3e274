"""LineFile: an append-only text file that only ever holds whole lines.

Lines wait in memory and `flush()` hands them to the kernel in one `os.write`,
so a process killed at any moment leaves every line complete (the kernel keeps
what was written; only the unflushed second is lost). A full disk can cut the
last write short: `flush()` then raises and `readable_lines` drops that piece.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

write_to_disk = os.write  # the one call that reaches the disk (a test puts a full disk here)


class LineFile:
    def __init__(self, path: Path, append: bool = False):
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self._fd: int | None = os.open(path, flags, 0o644)
        self._pending: list[bytes] = []
        self._lock = threading.Lock()  # the session's thread appends while the flusher flushes
        self.lines = 0  # appended
        self.lines_on_disk = 0  # handed to the kernel whole

    def append(self, line: str) -> None:
        """`line` without its newline; it must hold none."""
        with self._lock:
            self._pending.append(line.encode("utf-8") + b"\n")
            self.lines += 1

    def flush(self) -> None:
        with self._lock:
            if not self._pending or self._fd is None:
                return
            data = b"".join(self._pending)
            self._pending.clear()
            view = memoryview(data)
            try:
                while view:
                    view = view[write_to_disk(self._fd, view) :]
            except OSError:
                # kept, so that a later flush (after space was freed) completes a line the disk cut short
                self._pending.insert(0, bytes(view))
                self.lines_on_disk += data.count(b"\n", 0, len(data) - len(view))
                raise
            self.lines_on_disk += data.count(b"\n")

    def close(self, fsync: bool = True) -> None:
        """Flushes, fsyncs (the data survives a power cut, not only a killed process) and closes; raises the
        OSError of a flush or fsync that failed (the file is closed all the same)."""
        try:
            self.flush()
            if fsync and self._fd is not None:
                os.fsync(self._fd)
        finally:
            with self._lock:
                fd, self._fd = self._fd, None
                self._pending.clear()
            if fd is not None:
                os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd is None


def readable_lines(path: Path) -> tuple[list[str], bool]:
    """The file's complete lines, and whether a cut-short last line was left out."""
    data = path.read_bytes()
    complete, _, tail = data.rpartition(b"\n")
    lines = complete.decode("utf-8", errors="replace").split("\n") if complete else []
    return lines, bool(tail)


def complete_length(path: Path, step: int = 1 << 16) -> int:
    """How many bytes of the file are whole lines (up to and with its last newline), reading back from its end
    only as far as that newline."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - step)
            f.seek(start)
            newline = f.read(end - start).rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            end = start
    return 0


class WholeLinesReader(io.RawIOBase):
    """The file read as a stream that ends after its last newline: a last line a kill cut short is never seen,
    and the file is never held whole (an hour's frames.csv is tens of MB)."""

    def __init__(self, path: Path):
        self._left = complete_length(path)
        self._file = open(path, "rb")  # noqa: SIM115 - closed with this reader

    @property
    def empty(self) -> bool:
        return self._left == 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._file.readinto(memoryview(buffer)[: min(len(buffer), self._left)])
        self._left -= n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def ends_cut_short(path: Path) -> bool:
    """Whether the file's last line lacks its newline (a kill or a full disk cut it), reading only its end."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"
