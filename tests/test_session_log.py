"""The session folder: survives kill -9 and a full disk, repairs, exports, documents itself, reports offline."""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import (
    EMOLENS,
    GROUP_CLIP,
    PORTRAIT_CLIP,
    analyze_on_small_disk,
    frame_rows_with_people,
    needs_small_disk,
    run_emolens,
)

from engines.contracts import EMOTIONS
from export.frames_schema import ACTION_KINDS, COLUMNS, FRAME_COLUMNS
from export.key_frames import pixelate

DOC = Path(__file__).parents[1] / "docs" / "session-format.md"


@pytest.fixture(scope="module")
def analyzed(model_dir, tmp_path_factory) -> Path:
    """The bundled clip analyzed with explanations: the folder a user gets from install.sh."""
    out = tmp_path_factory.mktemp("analyzed") / "session"
    proc = run_emolens("analyze", str(GROUP_CLIP), "--out", str(out), "--explain", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"report: {out / 'report.html'}" in proc.stdout
    return out


def complete_lines(path: Path) -> list[str]:
    data = path.read_text()
    assert data == "" or data.endswith("\n"), f"{path.name} ends in a cut-short line"
    return data.splitlines()


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        assert tuple(row) == COLUMNS
        # every number parses; a facial action's cell is empty only while the person's baseline is learned, a
        # person's only while it is being decided (and then its track's `person` event is in events.jsonl)
        [
            float(row[c])
            for c in COLUMNS
            if c not in ("label", "action_label") and not ((c in ACTION_KINDS or c == "person_id") and row[c] == "")
        ]
        assert row["label"] in EMOTIONS and row["action_label"] in ("", *EMOTIONS)
    return rows


def test_kill_9_at_any_moment_leaves_a_readable_folder_that_repair_finishes(model_dir, tmp_path):
    # moment 1: as soon as the folder exists (models loaded, no frame yet); moment 2: mid-clip, flushing
    for moment in ("start", "mid"):
        out = tmp_path / moment
        proc = subprocess.Popen(
            [str(EMOLENS), "analyze", str(GROUP_CLIP), "--out", str(out), "--realtime", "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        growth: list[float] = []  # when frames.csv was seen to grow
        size, seen_rows, seen_t = 0, 0, 0.0
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                csv_path = out / "frames.csv"
                if moment == "start" and (out / "session.json").exists():
                    break
                if csv_path.exists() and csv_path.stat().st_size > size:
                    size = csv_path.stat().st_size
                    growth.append(time.monotonic())
                    lines = complete_lines(csv_path)
                    seen_rows = len(lines) - 1
                    seen_t = float(lines[-1].split(",")[0]) if seen_rows else 0.0
                    if seen_t >= 2.0:  # half the clip is on disk: kill now
                        break
                time.sleep(0.02)
            assert proc.poll() is None, "analyze ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()

        session = json.loads((out / "session.json").read_text())
        assert session["status"] == "running"
        events = [json.loads(line) for line in complete_lines(out / "events.jsonl")]
        rows = csv_rows(out / "frames.csv")
        if moment == "mid":
            # rows reached the disk at least once a second while it ran (growth of a file being written)
            gaps = np.diff(growth[1:])  # from the second sighting: the first includes model loading
            assert len(growth) >= 3 and gaps.max() <= 1.0, gaps
            assert len(rows) >= seen_rows and float(rows[-1]["time_s"]) >= seen_t >= 2.0
            assert events[0]["event"] == "session_started"

        proc = run_emolens("repair", str(out))
        assert proc.returncode == 0, proc.stderr
        repaired = json.loads((out / "session.json").read_text())
        assert repaired["status"] == "interrupted" and repaired["counts"]["rows"] == len(rows)
        assert json.loads(complete_lines(out / "events.jsonl")[-1])["event"] == "repaired"
        import pandas as pd

        frame = pd.read_parquet(out / "frames.parquet")
        assert len(frame) == len(rows) and list(frame.columns) == list(COLUMNS)
        if rows:
            assert np.allclose(frame["p_happy"].to_numpy(), [float(r["p_happy"]) for r in rows], atol=1e-5)
        report = (out / "report.html").read_text()
        assert "ended early: interrupted" in report
        assert ("Person 1" in report) == bool(rows) and ("No face was recorded" in report) == (not rows)


def test_repair_cuts_a_half_written_line_and_keeps_the_rest(analyzed, tmp_path):
    out = tmp_path / "s"
    shutil.copytree(analyzed, out)
    info = json.loads((out / "session.json").read_text())
    (out / "session.json").write_text(json.dumps({**info, "status": "running"}))
    with open(out / "frames.csv", "a") as f:
        f.write("4.2000,127,1,0,0.98")  # a power cut mid-line
    whole = len(complete_lines(analyzed / "frames.csv")) - 1
    proc = run_emolens("repair", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "frames.csv (19 bytes)" in proc.stdout
    assert len(csv_rows(out / "frames.csv")) == whole
    assert json.loads((out / "session.json").read_text())["counts"]["rows"] == whole


@needs_small_disk
def test_a_full_filesystem_stops_analyze_cleanly_with_the_error_in_events(model_dir, tmp_path):
    """A real 96 KiB tmpfs, mounted in a private namespace: the clip's logs do not fit in it."""
    kept, rc, stderr = analyze_on_small_disk(96, tmp_path, str(GROUP_CLIP), "--quiet")
    assert rc == 2, stderr
    kept_rows = re.search(r"No space left on device; (\d+) of (\d+) rows kept, with every line", stderr)
    assert kept_rows, stderr
    events = [json.loads(line) for line in complete_lines(kept / "events.jsonl")]
    assert events[-1]["event"] == "recording_failed" and "No space left" in events[-1]["error"]
    session = json.loads((kept / "session.json").read_text())
    assert session["status"].startswith("failed: No space left")
    rows = csv_rows(kept / "frames.csv")
    assert 0 < len(rows) < 567 and session["counts"]["rows"] >= len(rows)
    assert (int(kept_rows[1]), int(kept_rows[2])) == (len(rows), session["counts"]["rows"])
    assert not (kept / ".reserve").exists()
    proc = run_emolens("repair", str(kept))  # on a disk with room, the folder gets its Parquet and report
    assert proc.returncode == 0, proc.stderr
    assert (kept / "report.html").exists() and (kept / "frames.parquet").exists()


def test_a_recording_whose_writes_fail_stops_and_the_session_goes_on(model_dir, tmp_path, monkeypatch):
    """The app's and the kiosk's writer, with the disk filling under frames.csv (an OS-error stub at the one
    call that reaches the disk; the test above fills a real filesystem where one can be mounted)."""
    import export.line_file as line_file
    from app.live_session import LiveSession, RecordingPlan, SessionConfig

    real_write, written = os.write, {"bytes": 0}

    def disk_with_20k_left(fd: int, data) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("frames.csv"):
            room = 20_000 - written["bytes"]
            if room <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            data = data[:room]
            written["bytes"] += len(data)
        return real_write(fd, data)

    monkeypatch.setattr(line_file, "write_to_disk", disk_with_20k_left)

    class Listener:
        def __init__(self):
            self.states, self.results = [], 0

        def on_state(self, state):
            self.states.append(state)

        def on_result(self, frame, result):
            self.results += 1

        def __getattr__(self, name):
            return lambda *args: None

    listener = Listener()
    session = LiveSession(
        SessionConfig(str(GROUP_CLIP), loop=True, explain=None), listener, RecordingPlan(tmp_path), record=True
    ).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(s.phase == "recording_failed" for s in listener.states):
        time.sleep(0.05)
    at_failure = listener.results
    while time.monotonic() < deadline and listener.results < at_failure + 30:
        time.sleep(0.05)
    session.stop()
    failed = [s for s in listener.states if s.phase == "recording_failed"]
    assert failed and "No space left on device" in failed[0].detail, listener.states
    assert listener.results >= at_failure + 30 and session.error is None  # the session went on
    (folder,) = tmp_path.iterdir()
    events = [json.loads(line) for line in complete_lines(folder / "events.jsonl")]
    assert events[-1]["event"] == "recording_failed" and events[-1]["error"] == "No space left on device"
    session = json.loads((folder / "session.json").read_text())
    data = (folder / "frames.csv").read_bytes()
    kept = data.count(b"\n") - 1  # whole rows, the header aside; the disk cut the last one short
    assert session["status"] == f"failed: No space left on device ({kept} of {session['counts']['rows']} rows kept)"
    assert session["counts"]["rows_on_disk"] == kept
    assert not (folder / ".reserve").exists()
    assert len(data) == 20_000  # everything the disk took is still there


def _documented(section: str) -> dict[str, str]:
    """`name` -> unit from the table under the '## section' heading of docs/session-format.md."""
    text = DOC.read_text()
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/session-format.md has no '## {section}' section"
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]*) \|", match.group(1), re.M)
    return {name: unit.strip() for name, unit in rows}


def test_every_column_and_field_written_is_documented(analyzed):
    import pyarrow.parquet as pq

    frames_doc = _documented("frames.csv and frames.parquet")
    header = complete_lines(analyzed / "frames.csv")[0].split(",")
    parquet = pq.read_schema(analyzed / "frames.parquet")
    assert header == parquet.names == list(COLUMNS)
    for column in FRAME_COLUMNS:
        assert column.name in frames_doc, f"{column.name} is not in docs/session-format.md"
        assert frames_doc[column.name] == (column.unit or "-"), column.name
        unit = (parquet.field(column.name).metadata or {}).get(b"unit", b"").decode()
        assert unit == column.unit
    session = json.loads((analyzed / "session.json").read_text())
    assert session["frames_schema"]["units"]["time_s"] == "s" and session["frames_schema"]["version"] >= 2

    explanation_doc = _documented("explanations.jsonl")
    explanations = [json.loads(line) for line in complete_lines(analyzed / "explanations.jsonl")]
    assert explanations
    assert set().union(*explanations) <= set(explanation_doc), set().union(*explanations) - set(explanation_doc)

    events_doc = _documented("events.jsonl")
    events = [json.loads(line) for line in complete_lines(analyzed / "events.jsonl")]
    assert {e["event"] for e in events} <= set(events_doc), {e["event"] for e in events} - set(events_doc)
    session_doc = _documented("session.json")
    assert set(session) <= set(session_doc), set(session) - set(session_doc)
    assert set(session["counts"]) <= set(session_doc), set(session["counts"]) - set(session_doc)


def test_export_writes_each_format_and_pandas_reads_the_parquet_as_is(analyzed, tmp_path):
    import pandas as pd

    rows = csv_rows(analyzed / "frames.csv")
    for fmt in ("csv", "parquet", "jsonl"):
        proc = run_emolens("export", str(analyzed), "--format", fmt, "--out", str(tmp_path))
        assert proc.returncode == 0, proc.stderr
        assert f"{len(rows)} rows -> {tmp_path / f'frames.{fmt}'}" in proc.stdout
    frame = pd.read_parquet(tmp_path / "frames.parquet")
    assert len(frame) == len(rows) and frame["detected"].dtype == bool and frame["time_s"].dtype == np.float64
    records = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert len(records) == len(rows) and records[0]["uncertain"] in (True, False)
    assert records[5]["p_happy"] == pytest.approx(float(rows[5]["p_happy"]), abs=1e-5)
    assert (tmp_path / "frames.csv").read_text() == (analyzed / "frames.csv").read_text()
    bad = run_emolens("export", str(tmp_path / "nowhere"), "--format", "csv")
    assert bad.returncode == 2 and "has no frames.csv" in bad.stderr


def test_report_is_one_self_contained_page(analyzed):
    html = (analyzed / "report.html").read_text()
    session = json.loads((analyzed / "session.json").read_text())
    explanations = [json.loads(line) for line in complete_lines(analyzed / "explanations.jsonl")]
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html)
    assert all(r.startswith(("data:", "#")) for r in references), references
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the browser itself refuses any load
    csv_rows(analyzed / "frames.csv")
    tracks = {int(r["person"]) for r in frame_rows_with_people(analyzed)}  # the page's sections are people
    assert all(f'id="person-{t}"' in html for t in tracks)
    assert html.count("<polyline") >= len(tracks) * len(EMOTIONS)
    from html import escape

    assert all(escape(x["text"]) in html for x in explanations)
    assert session["fast_path"]["expression"]["sha256"][:16] in html and "onnxruntime-cpu" in html
    assert "Fast path per frame: median" in html and "dropped" in html


def test_key_frames_are_saved_only_when_asked_and_blurred_on_request(model_dir, analyzed, tmp_path):
    assert not (analyzed / "keyframes").exists()  # the default: numbers only
    out = tmp_path / "s"
    proc = run_emolens(
        "analyze", str(PORTRAIT_CLIP), "--out", str(out), "--max-frames", "45", "--key-frames", "1", "--blur-faces"
    )
    assert proc.returncode == 0, proc.stderr
    records = [e for e in map(json.loads, complete_lines(out / "events.jsonl")) if e["event"] == "key_frame"]
    assert len(records) >= 2 and all(r["blurred"] for r in records)
    assert sorted(p.name for p in (out / "keyframes").iterdir()) == sorted(Path(r["file"]).name for r in records)
    assert "data:image/jpeg;base64," in (out / "report.html").read_text()

    # the face inside the saved crop has lost its detail: compare with the same face cut from the video
    record = records[0]
    rows = [r for r in csv_rows(out / "frames.csv") if abs(float(r["time_s"]) - record["t"]) < 1e-3]
    x1, y1, x2, y2 = (float(rows[0][k]) for k in ("box_x1", "box_y1", "box_x2", "box_y2"))
    cap = cv2.VideoCapture(str(PORTRAIT_CLIP))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(rows[0]["frame"]))
    ok, image = cap.read()
    assert ok
    original = cv2.cvtColor(image[int(y1) : int(y2), int(x1) : int(x2)], cv2.COLOR_BGR2GRAY)
    saved = cv2.imread(str(out / record["file"]), cv2.IMREAD_GRAYSCALE)
    mx, my = (x2 - x1) * 0.25, (y2 - y1) * 0.25
    fx, fy = int(x1) - max(0, int(x1 - mx)), int(y1) - max(0, int(y1 - my))
    face = saved[fy : fy + original.shape[0], fx : fx + original.shape[1]].astype(np.float64)
    # the saved face is the pixelated face, not the face: far closer to the one than to the other (a detail
    # measure alone cannot tell on a smooth, zoomed-in face, whose blocks' edges carry as much detail)
    pixelated = original.copy()
    pixelate(pixelated, (0, 0, original.shape[1], original.shape[0]))
    to_pixelated = np.abs(face - pixelated).mean()
    to_original = np.abs(face - original).mean()
    assert to_pixelated < 0.5 * to_original, (to_pixelated, to_original)


def test_analyze_never_overwrites_a_session_unless_asked(analyzed, tmp_path):
    out = tmp_path / "s"
    shutil.copytree(analyzed, out)
    proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--max-frames", "3")
    assert proc.returncode == 2 and "already holds a session" in proc.stderr and "--replace" in proc.stderr
    assert (out / "frames.csv").read_text() == (analyzed / "frames.csv").read_text()
    (out / "notes.txt").write_text("mine")
    proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--max-frames", "3", "--replace")
    assert proc.returncode == 2 and "did not write (notes.txt)" in proc.stderr
    (out / "notes.txt").unlink()
    proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--max-frames", "3", "--replace")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "session.json").read_text())["counts"]["frames_processed"] == 3


def test_report_pdf_is_written_offline_by_qt(analyzed, tmp_path):
    from PyQt6.QtPdf import QPdfDocument

    out = tmp_path / "s"
    shutil.copytree(analyzed, out)
    proc = run_emolens("report", str(out), "--pdf", env_extra={"QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert f"PDF: {out / 'report.pdf'}" in proc.stdout
    document = QPdfDocument(None)
    document.load(str(out / "report.pdf"))
    assert document.status() == QPdfDocument.Status.Ready and document.pageCount() >= 2
    text = " ".join(document.getAllText(page).text() for page in range(document.pageCount()))
    first = json.loads(complete_lines(out / "explanations.jsonl")[0])
    assert "Person 1" in " ".join(text.split()) and first["text"].split()[0] in text


def test_an_hour_long_session_makes_a_report_of_the_same_size_class(analyzed, tmp_path):
    """Charts draw one point per pixel column at most, so the page does not grow with the session's length."""
    from export.report import write_report

    out = tmp_path / "long"
    shutil.copytree(analyzed, out)
    header, *rows = complete_lines(analyzed / "frames.csv")
    lines = [header]
    for k in range(850):  # 850 copies of the 4.2 s clip, one after the other: an hour
        for row in rows:
            t, frame, rest = row.split(",", 2)
            lines.append(f"{float(t) + k * 4.2333:.4f},{int(frame) + k * 127},{rest}")
    (out / "frames.csv").write_text("\n".join(lines) + "\n")
    short = (analyzed / "report.html").stat().st_size
    html = write_report(out).read_text()
    assert len(html) < 10 * short, (len(html), short)
    assert all(f'id="person-{r["person"]}"' in html for r in frame_rows_with_people(analyzed))
    assert "50:00" in html  # the time axis reads minutes


def test_the_explainer_process_ends_when_analyze_is_killed(model_dir, tmp_path):
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [str(EMOLENS), "analyze", str(GROUP_CLIP), "--out", str(out), "--realtime", "--quiet", "--explain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child, deadline = None, time.monotonic() + 60
    try:
        while child is None and time.monotonic() < deadline and proc.poll() is None:
            if (out / "events.jsonl").exists():
                started = [json.loads(x) for x in complete_lines(out / "events.jsonl") if "explainer_started" in x]
                child = started[0]["pid"] if started else None
            time.sleep(0.05)
        assert child is not None and proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists(), "the explainer outlived the killed analyze"
