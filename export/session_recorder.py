"""SessionRecorder: the one writer of a session folder, for `emolens analyze`, the app's Record button and the kiosk.

The folder: session.json (rewritten atomically), events.jsonl, frames.csv and
explanations.jsonl (whole lines, flushed every half second by a flusher thread,
so a kill -9 loses at most the last half second), then at close an fsync,
frames.parquet and report.html. Numbers only, unless key-frame crops were asked for.

A write that fails (a full disk, a removed drive) stops the recording, not the
session: the recorder frees a small reserve file it holds for this moment, logs
the error to events.jsonl, marks session.json failed with the rows it kept, and
keeps what was written. The status says `complete` only after every line the
session produced was handed to the disk and synced; the last flush, inside
`close`, is checked like every other.

One writer per folder: the recorder holds the folder's lock (`FolderLock`)
from its first file to its close.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np

from engines.contracts import Evidence, Explanation, Frame, FrameResult
from engines.errors import EmolensError
from engines.summary_stats import percentiles
from export.explanation_records import explanation_record
from export.folder_lock import FolderLock
from export.frames_csv import FramesCsvWriter
from export.frames_schema import schema_summary
from export.jsonl_log import JsonlLog
from export.key_frames import KeyFrameCapture, KeyFrameOptions
from export.session_info import SessionInfo

FLUSH_EVERY_S = 0.5
STATS_EVERY_S = 5.0
RESERVE_BYTES = 64 * 1024  # room for the last event and session.json once the disk is full
RESERVE_NAME = ".reserve"


class RecordingError(EmolensError):
    """The session folder cannot be written; the recording stops, what was written stays."""


def event_time() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


class SessionRecorder:
    def __init__(
        self,
        folder: Path,
        key_frames: KeyFrameOptions | None = None,
        lock: FolderLock | None = None,
        **info,
    ):
        """`folder` must be new (see `new_session_folder`), or hold nothing of a session; `lock`: the folder's
        lock when the caller took it already (to check the folder before writing), else it is taken here."""
        self.folder = folder
        self.lock = lock if lock is not None else FolderLock.acquire(folder)
        self.failed: str | None = None
        self.closed = False
        self._io_lock = threading.Lock()
        self._flush_error: OSError | None = None
        self._latencies = LatencyHistogram()  # a kiosk's day is millions of frames: counts, not a list
        self._since_stats: list[float] = []
        self._stats_due = time.monotonic() + STATS_EVERY_S
        self.frames_processed = self.frames_dropped = 0
        self._dropped_before: int | None = None
        self.first_t: float | None = None  # the session time of this recording's first and last frames, faces or
        self.last_t: float | None = None  # not: where a report's 0 s and its end are
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._reserve = folder / RESERVE_NAME
            self._reserve.write_bytes(b"\0" * RESERVE_BYTES)
            info.setdefault("frames_schema", schema_summary())
            info.setdefault("key_frames", asdict(key_frames) if key_frames else None)
            self.session = SessionInfo(folder / "session.json", **info)
            self.events = JsonlLog(folder / "events.jsonl")
            self.frames = FramesCsvWriter(folder / "frames.csv")
            self.explanations = JsonlLog(folder / "explanations.jsonl")
        except OSError as exc:  # nothing recorded yet: what was begun is removed, so no half-made folder stays
            for name in (RESERVE_NAME, "session.json.tmp", "session.json", "events.jsonl", "frames.csv"):
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
            self.lock.release()
            raise RecordingError(f"cannot record to {folder}: {exc.strerror or exc}") from exc
        if self.lock.stale_pid is not None:
            self.event({"event": "lock_taken_over", "stale_pid": self.lock.stale_pid})
        self.key_frames = KeyFrameCapture(folder / "keyframes", key_frames) if key_frames else None
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="emolens-log-flusher", daemon=True)
        self._flusher.start()

    # --- writing, from the session's thread ---------------------------------------------------------
    def event(self, record: dict) -> None:
        self._guard(lambda: self.events.write({"time": event_time(), **record}))

    def result(self, result: FrameResult, frame: Frame | None = None, dropped: int = 0) -> None:
        """One processed frame; `dropped` is the source's running count of frames it discarded."""

        def write() -> None:
            first = self.frames.rows == 0
            self.frames.write(result)
            if first and self.frames.rows:  # the first face is on disk at once; the rest every half second
                with self._io_lock:
                    self.frames.flush()
            if self.key_frames is not None and frame is not None:
                for record in self.key_frames.observe(frame, result):
                    self.events.write({"time": event_time(), **record})

        self._guard(write)
        self.frames_processed += 1
        self._note_dropped(dropped)
        self.first_t = result.t if self.first_t is None else self.first_t
        self.last_t = result.t
        total = result.latency_ms.get("total")
        if total is not None:
            self._latencies.add(total)
            self._since_stats.append(total)
        if time.monotonic() >= self._stats_due:
            self._stats()

    def _note_dropped(self, dropped: int) -> None:
        if self._dropped_before is None:  # drops before this recording began are not its own
            self._dropped_before = dropped
        self.frames_dropped = dropped - self._dropped_before

    def explanation(self, explanation: Explanation, evidence: Evidence) -> None:
        self._guard(lambda: self.explanations.write(explanation_record(explanation, evidence)))

    def _stats(self) -> None:
        self._stats_due = time.monotonic() + STATS_EVERY_S
        record = {"event": "stats", "t": self.last_t, **self.counts()}
        if self._since_stats:
            p = percentiles(self._since_stats, (50, 95), digits=2)
            record["fast_ms_p50"], record["fast_ms_p95"] = p["p50"], p["p95"]
        self._since_stats = []
        self.event(record)

    def counts(self) -> dict:
        return {
            "frames_seen": self.frames_processed + self.frames_dropped,
            "frames_processed": self.frames_processed,
            "frames_dropped": self.frames_dropped,
            "rows": self.frames.rows,
            "rows_on_disk": self.frames.rows_on_disk,
            **(
                {"first_frame_t": round(self.first_t, 4), "last_frame_t": round(self.last_t, 4)}
                if self.frames_processed
                else {}
            ),
        }

    def _guard(self, write) -> None:
        if self.closed:
            raise RecordingError(f"recording to {self.folder} has stopped: {self.failed or 'closed'}")
        try:
            if self._flush_error is not None:
                raise self._flush_error
            write()
        except OSError as exc:
            raise RecordingError(self._fail(exc)) from exc

    # --- flushing and failing -------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_S):
            try:
                self._flush_all()
            except OSError as exc:
                self._flush_error = exc  # raised on the session's thread at its next write
                return

    def _flush_all(self) -> None:
        with self._io_lock:
            for log in (self.frames, self.events, self.explanations):
                if not log.closed:
                    log.flush()

    def _fail(self, exc: OSError) -> str:
        """Stops the recording after a failed write; returns the message the user sees."""
        why = exc.strerror or str(exc)
        self._stop.set()
        with contextlib.suppress(OSError):
            self._reserve.unlink(missing_ok=True)
        if not self.events.closed:
            with contextlib.suppress(OSError):
                self.events.write({"time": event_time(), "event": "recording_failed", "error": why, **self.counts()})
        self._close_files()
        counts = self.counts()
        kept = f"{counts['rows_on_disk']} of {counts['rows']} rows kept"
        self.failed = f"recording to {self.folder} stopped: {why}; {kept}, with every line written up to then"
        with contextlib.suppress(OSError):
            self.session.finish(status=f"failed: {why} ({kept})", counts=counts)
        self.lock.release()
        return self.failed

    def _close_files(self) -> None:
        self.closed = True
        self._stop.set()
        if self._flusher.is_alive() and threading.current_thread() is not self._flusher:
            self._flusher.join()
        with self._io_lock:
            for log in (self.frames, self.explanations, self.events):
                with contextlib.suppress(OSError):  # the disk is gone; what was flushed stays readable
                    log.close()

    def close(
        self, status: str = "complete", last_event: dict | None = None, dropped: int | None = None, **counts
    ) -> None:
        """Ends the recording: the last key frames, a last stats line, `last_event`, every log flushed and synced
        (a failure there fails the recording, with the rows kept), session.json, Parquet, report. `dropped`: the
        source's final count of frames it discarded, the ones after the last processed frame included."""
        if self.closed:
            return
        if dropped is not None:
            self._note_dropped(dropped)
        try:
            if self.key_frames is not None:
                records = self.key_frames.flush()
                self._guard(lambda: [self.events.write({"time": event_time(), **r}) for r in records])
            self._sync_logs(self.frames, self.explanations)  # the rows first: the last events say how it went
            if self.frames_processed:
                self._stats()
            if last_event is not None:
                self.event(last_event)
            self._sync_logs(self.events)
        except RecordingError:
            return  # _fail closed everything and marked the session failed
        summary = {**self.counts(), **counts}
        if self._latencies.count:
            summary["fast_ms_p50"], summary["fast_ms_p95"] = self._latencies.p50_p95()
        with contextlib.suppress(OSError):
            self._reserve.unlink(missing_ok=True)
        try:
            self.session.finish(status=status, counts=summary)
        except OSError as exc:
            self.failed = f"cannot write {self.session.path}: {exc.strerror or exc}; run `emolens repair {self.folder}`"
            self.lock.release()
            return
        self.failed = finish_session_files(self.folder)
        if self.failed:
            with contextlib.suppress(OSError):
                self.session.update(derived_files_missing=self.failed)
        self.lock.release()

    def _sync_logs(self, *logs) -> None:
        """`logs` flushed, synced and closed; a failure fails the recording (the events log, if still open,
        says so)."""
        self._stop.set()
        if self._flusher.is_alive():
            self._flusher.join()
        try:
            if self._flush_error is not None:
                raise self._flush_error
            with self._io_lock:
                for log in logs:
                    log.close()
        except OSError as exc:
            raise RecordingError(self._fail(exc)) from exc
        self.closed = self.events.closed


def finish_session_files(folder: Path) -> str | None:
    """frames.parquet and report.html from the flushed logs; returns why not, when they cannot be written."""
    from export.frames_parquet import write_frames_parquet
    from export.report import write_report

    missing = []
    for name, write in (
        ("frames.parquet", lambda: write_frames_parquet(folder / "frames.csv", folder / "frames.parquet")),
        ("report.html", lambda: write_report(folder)),
    ):
        try:
            write()
        except (OSError, EmolensError) as exc:
            missing.append(f"{name} ({getattr(exc, 'strerror', None) or exc})")
    if missing:
        return (
            f"the logs in {folder} are complete, but {' and '.join(missing)} could not be written; "
            f"make room and run `emolens repair {folder}`"
        )
    return None


class LatencyHistogram:
    """Per-frame ms in 0.05 ms bins up to 1 s: exact enough percentiles in constant memory."""

    BIN_MS = 0.05

    def __init__(self, top_ms: float = 1000.0):
        self._counts = np.zeros(int(top_ms / self.BIN_MS) + 1, dtype=np.int64)
        self.count = 0

    def add(self, ms: float) -> None:
        self._counts[min(int(ms / self.BIN_MS), len(self._counts) - 1)] += 1
        self.count += 1

    def p50_p95(self) -> tuple[float, float]:
        cumulative = np.cumsum(self._counts)
        p50, p95 = (int(np.searchsorted(cumulative, q * self.count)) for q in (0.5, 0.95))
        return round((p50 + 0.5) * self.BIN_MS, 2), round((p95 + 0.5) * self.BIN_MS, 2)


def new_session_folder(root: Path, now: datetime | None = None) -> Path:
    """root/YYYY-MM-DD_HHMMSS, with a suffix when a folder of that second exists already."""
    stamp = (now or datetime.now()).strftime("%Y-%m-%d_%H%M%S")
    folder = root / stamp
    n = 2
    while folder.exists():
        folder = root / f"{stamp}-{n}"
        n += 1
    return folder
