"""`emolens repair DIR`: finish a session folder that never closed (a kill -9, a power cut, a full disk).

Cuts a last line left half-written, counts what the logs hold, closes
session.json with the status `interrupted`, and builds frames.parquet and
report.html from the flushed logs. Nothing that was flushed is dropped. A
session.json that is missing, empty or unreadable is rebuilt from events.jsonl
(the damaged one is kept beside it). A folder another process is still
writing is refused.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from engines.errors import EmolensError
from export.folder_lock import FolderLock
from export.frames_schema import COLUMNS
from export.jsonl_log import JsonlLog
from export.line_file import ends_cut_short, readable_lines
from export.session_info import SCHEMA_VERSION, SessionInfo
from export.session_reader import read_session
from export.session_recorder import RESERVE_NAME, event_time, finish_session_files

LOGS = ("events.jsonl", "frames.csv", "explanations.jsonl")


def cut_partial_line(path: Path) -> int:
    """Drops a last line without its newline; returns the bytes dropped."""
    if not path.exists():
        return 0
    if not ends_cut_short(path):
        return 0
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    os.truncate(path, keep)
    return len(data) - keep


def repair_session(folder: Path) -> dict:
    if not folder.is_dir():
        raise EmolensError(f"{folder} is not a folder; give a session folder")
    if not any((folder / name).exists() for name in ("session.json", "frames.csv", "events.jsonl")):
        raise EmolensError(f"{folder} has no session.json, frames.csv or events.jsonl: not an emolens session folder")
    lock = FolderLock.acquire(folder)
    try:
        return _repair(folder)
    finally:
        lock.release()


def _repair(folder: Path) -> dict:
    if not (folder / "frames.csv").exists() or (folder / "frames.csv").stat().st_size == 0:
        # killed between session.json and the logs' first flush: an empty session
        (folder / "frames.csv").write_text(",".join(COLUMNS) + "\n")
    info_path = folder / "session.json"
    info = _session_info(info_path)
    if info is None:
        info = rebuilt_session_info(folder)
        info_path.write_text(json.dumps(info, indent=2))
    was = info.get("status", "running")
    cut = {name: n for name in LOGS if (n := cut_partial_line(folder / name))}
    (folder / RESERVE_NAME).unlink(missing_ok=True)
    log = read_session_lenient(folder, info)
    stats = [e for e in log.events if e.get("event") == "stats"]
    frames_in_csv = len(set(log.frames["frame"].tolist())) if log.rows else 0
    counts = dict(info.get("counts") or {})
    counts.update(
        rows=log.rows,
        frames_with_faces=frames_in_csv,
        tracks=len(log.track_ids),
        explanations=len(log.explanations),
    )
    if stats:
        last = stats[-1]
        counts.setdefault("frames_processed", max(last.get("frames_processed", 0), frames_in_csv))
        counts.setdefault("frames_dropped", last.get("frames_dropped", 0))
        counts.setdefault("frames_seen", counts["frames_processed"] + counts["frames_dropped"])
    closed = was != "running"
    record = {"time": event_time(), "event": "repaired", "status_before": was, "cut_bytes": cut}
    events = JsonlLog(folder / "events.jsonl", append=True)
    events.write(record)
    events.close()
    session = SessionInfo.reopen(info_path, info)
    if closed:
        session.update(counts=counts)
    else:
        session.update(status="interrupted", ended=_last_write(folder), counts=counts, repaired=event_time())
    failed = finish_session_files(folder)
    if failed:
        raise EmolensError(failed)
    return {"status_before": was, "closed_already": closed, "cut_bytes": cut, **counts}


def read_session_lenient(folder: Path, info: dict):
    """read_session, with session.json as repair sees it (it may be the one just rebuilt)."""
    if not (folder / "session.json").exists():
        (folder / "session.json").write_text(json.dumps(info, indent=2))
    return read_session(folder)


def _session_info(path: Path) -> dict | None:
    """session.json as a dict; None when it is missing, empty or unreadable (a damaged one is kept beside it)."""
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        info = None
    if isinstance(info, dict):
        return info
    if path.exists() and path.stat().st_size:
        os.replace(path, path.with_name("session.json.damaged"))
    else:
        path.unlink(missing_ok=True)
    return None


def rebuilt_session_info(folder: Path) -> dict:
    """What events.jsonl tells of a session whose session.json was lost: its input, backend and start."""
    first: dict = {}
    events = folder / "events.jsonl"
    if events.exists():
        for line in readable_lines(events)[0]:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            first = first or record
            if record.get("event") == "session_started":
                first = record
                break
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "running",
        "started": first.get("time", "unknown"),
        "input": {"spec": first.get("input")} if first.get("input") else None,
        "backend": {"name": first.get("backend")} if first.get("backend") else None,
        "session_json": "rebuilt by emolens repair from events.jsonl: the original was missing, empty or unreadable",
    }


def _last_write(folder: Path) -> str:
    """When the session last wrote anything: the best end time a killed session has."""
    times = [(folder / name).stat().st_mtime for name in LOGS if (folder / name).exists()]
    return datetime.fromtimestamp(max(times)).astimezone().isoformat(timespec="seconds") if times else "unknown"
