"""A session folder never claims more than it kept: full disks, crashes, two writers, signals, bad settings,
damaged sound, variable frame rates, long files. Each case is run on the real command, as a user would."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import media
import pytest
from conftest import EMOLENS, GROUP_CLIP, PORTRAIT_CLIP, analyze_on_small_disk, needs_small_disk, run_emolens

DATA = Path(__file__).parent / "data"
TALKING_CLIP = DATA / "talking_neutral.mp4"


def lines_of(path: Path) -> list[dict]:
    data = path.read_text()
    assert data == "" or data.endswith("\n"), f"{path.name} ends in a cut-short line"
    return [json.loads(line) for line in data.splitlines()]


def csv_rows(path: Path) -> list[dict]:
    """The rows of a frames.csv that were written whole (a full disk can cut the last one short)."""
    data = path.read_text()
    whole = data[: data.rfind("\n") + 1]
    return list(csv.DictReader(whole.splitlines()))


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("emolens:"), lines
    return lines[0]


# --- a full disk --------------------------------------------------------------------------------------------


@needs_small_disk
@pytest.mark.parametrize("size_kib", [72, 76, 78, 80, 88, 112])
def test_a_full_disk_never_leaves_complete_with_rows_missing(size_kib, model_dir, tmp_path):
    """Real tmpfs mounts of several sizes around the one where rows were lost under "complete" (76-80 KiB with
    --max-frames 15): whatever the size, the status matches the disk, and the counts match the file."""
    kept, rc, stderr = analyze_on_small_disk(size_kib, tmp_path, str(GROUP_CLIP), "--quiet", "--max-frames", "15")
    if not (kept / "session.json").exists():  # too small to begin: said so, and nothing half-made is left
        assert rc == 2 and stderr.startswith("emolens: error: cannot record to") and "No space left" in stderr
        assert not kept.exists() or not any(kept.iterdir())
        return
    session = json.loads((kept / "session.json").read_text())
    rows = csv_rows(kept / "frames.csv")
    counts = session["counts"]
    events = lines_of(kept / "events.jsonl")
    assert "Traceback" not in stderr
    if session["status"] == "complete":
        assert rc == 0, stderr
        assert len(rows) == counts["rows"] == counts["rows_on_disk"] > 0
        assert events[-1]["event"] == "session_stopped"
        explained = lines_of(kept / "explanations.jsonl")
        assert explained == []  # no explainer asked: and nothing half-written
    else:
        assert rc == 2, stderr
        assert session["status"].startswith("failed: No space left on device")
        assert f"({len(rows)} of {counts['rows']} rows kept)" in session["status"]
        assert counts["rows_on_disk"] == len(rows)
        assert f"{len(rows)} of {counts['rows']} rows kept" in stderr
        assert any(e["event"] == "recording_failed" for e in events) or len(events) <= 1


def test_a_report_that_cannot_be_written_is_named_and_the_parquet_file_is_not(model_dir, tmp_path):
    from export.session_recorder import finish_session_files

    out = tmp_path / "s"
    assert run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--quiet", "--max-frames", "5").returncode == 0
    (out / "report.html").unlink()
    (out / "report.html").mkdir()  # report.html cannot be written; frames.parquet can
    (out / "frames.parquet").unlink()
    message = finish_session_files(out)
    assert message is not None and "report.html" in message and "frames.parquet" not in message
    assert (out / "frames.parquet").is_file()


# --- a crash, two writers, a stale lock ------------------------------------------------------------------


def test_an_unexpected_error_closes_the_folder_as_failed(model_dir, tmp_path, monkeypatch):
    """A defect mid-run (injected into the fast path at frame 31): the folder says failed, with why, and keeps
    the 31 frames' rows; the command says so in one line."""
    import app.analyze as analyze_module
    from engines.fast.pipeline import FastPath
    from engines.pipeline import PipelineOptions

    real = FastPath.process

    def fails_at_31(self, frame):
        if frame.index == 31:
            raise ZeroDivisionError("division by zero")
        return real(self, frame)

    monkeypatch.setattr(FastPath, "process", fails_at_31)
    out = tmp_path / "s"
    from engines.errors import EmolensError

    with pytest.raises(EmolensError, match="failed: ZeroDivisionError: division by zero"):
        analyze_module.analyze(str(GROUP_CLIP), out, PipelineOptions(), show_progress=False)
    session = json.loads((out / "session.json").read_text())
    assert session["status"] == "failed: ZeroDivisionError: division by zero"
    assert session["counts"]["frames_processed"] == 31
    assert max(int(r["frame"]) for r in csv_rows(out / "frames.csv")) == 30
    assert (out / "report.html").exists() and (out / "frames.parquet").exists()


def test_a_second_writer_on_the_same_folder_is_refused_and_the_first_is_unharmed(model_dir, tmp_path):
    out = tmp_path / "s"
    first = subprocess.Popen(
        [str(EMOLENS), "analyze", str(GROUP_CLIP), "--out", str(out), "--realtime", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / "session.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for extra in ([], ["--replace"]):
            second = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--quiet", *extra)
            line = one_line(second)
            assert second.returncode == 2
            assert f"is being written by another emolens (pid {first.pid})" in line, line
        repair = run_emolens("repair", str(out))
        assert repair.returncode == 2 and "is being written by another emolens" in one_line(repair)
        _, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0, err
    session = json.loads((out / "session.json").read_text())
    assert session["status"] == "complete"
    rows = csv_rows(out / "frames.csv")
    assert len(rows) == session["counts"]["rows"] and {r["frame"] for r in rows}
    lines_of(out / "events.jsonl")


def test_a_lock_left_by_a_killed_writer_is_taken_over(model_dir, tmp_path):
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [str(EMOLENS), "analyze", str(GROUP_CLIP), "--out", str(out), "--realtime", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (out / "frames.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert (out / ".lock").read_text() == str(proc.pid)  # the dead writer's pid is still in the file
    again = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--quiet", "--replace", "--max-frames", "5")
    assert again.returncode == 0, again.stderr
    events = lines_of(out / "events.jsonl")
    assert {"event": "lock_taken_over", "stale_pid": proc.pid}.items() <= events[0].items()
    assert json.loads((out / "session.json").read_text())["status"] == "complete"
    assert not (out / ".lock").exists()  # a clean end leaves no lock behind


# --- SIGTERM and SIGINT --------------------------------------------------------------------------------------


def _explainer_pid(out: Path) -> int | None:
    if not (out / "events.jsonl").exists():
        return None
    for line in (out / "events.jsonl").read_text().splitlines():
        if '"explainer_started"' in line:
            return json.loads(line)["pid"]
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("moment", ["right after start", "while playing", "while draining"])
def test_a_signal_at_any_moment_closes_the_folder_as_stopped(sig, moment, model_dir, tmp_path):
    """A real `analyze --explain --realtime`, with a gate that asks often so that answers are still owed at
    the end. The folder is closed as `stopped` with every line whole, its Parquet file and report; no process
    of it is left; it exits within 2 s of the signal."""
    out = tmp_path / "s"
    gate = tmp_path / "gate.json"
    gate.write_text(json.dumps({"new_face_after_s": 0.0, "stale_s": 0.5, "max_per_minute": 600}))
    args = [str(EMOLENS), "analyze", str(PORTRAIT_CLIP), "--out", str(out), "--explain", "--realtime", "--quiet"]
    proc = subprocess.Popen(
        [*args, "--gate", str(gate), "--max-frames", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr_lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        if moment == "while draining":
            assert proc.stderr is not None
            for line in proc.stderr:  # the drain announces itself on stderr
                stderr_lines.append(line)
                if "explaining" in line:
                    break
        else:
            ready = (
                (lambda: (out / "session.json").exists())
                if moment == "right after start"
                else (lambda: (out / "frames.csv").exists() and len((out / "frames.csv").read_text().splitlines()) > 30)
            )
            while not ready() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
        assert proc.poll() is None, f"analyze ended before the signal: {stderr_lines}"
        explainer = _explainer_pid(out)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, rest = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    stderr = "".join(stderr_lines) + rest
    assert "Traceback" not in stderr
    assert proc.returncode == 128 + sig, stderr
    assert took <= 2.0, f"{took:.2f} s from the signal to the exit"
    assert f"stopped by {signal.Signals(sig).name}" in stderr
    session = json.loads((out / "session.json").read_text())
    assert session["status"] == "stopped"
    events = lines_of(out / "events.jsonl")
    assert events[-1] == {**events[-1], "event": "session_stopped", "status": "stopped", "signal": sig.name}
    lines_of(out / "explanations.jsonl")
    rows = csv_rows(out / "frames.csv")
    assert len(rows) == session["counts"]["rows"]
    assert (out / "frames.parquet").exists() and (out / "report.html").exists()
    if explainer is not None:
        time.sleep(0.2)
        assert not _alive(explainer), "the explainer process outlived analyze"


# --- settings and options checked before anything is made --------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "content", "says"),
    [
        ("--gate", {"max_margin": "high"}, "max_margin takes a number from 0 to 1, not 'high'"),
        ("--gate", {"max_margin": [0.1]}, "max_margin takes a number from 0 to 1, not [0.1]"),
        ("--gate", {"stale_s": 0}, "stale_s takes a number of at least 0.1, not 0"),
        ("--gate", {"max_per_minute": 2.5}, "max_per_minute takes a whole number from 1 to 10000, not 2.5"),
        ("--gate", {"maximum_margin": 0.2}, "unknown setting 'maximum_margin'"),
        ("--gate", "not json", "is not a JSON file of gate settings"),
        ("--fusion", {"settings": {"loudness_db": [-20, 0]}}, "loudness_db takes [centre, spread] with a spread"),
        ("--fusion", {"settings": {"conflict_threshold": "0.5"}}, "conflict_threshold takes a number from 0 to 1"),
        ("--fusion", {"settings": {"threshold": 0.5}}, "unknown setting 'threshold'"),
    ],
)
def test_a_bad_settings_file_is_one_line_and_no_folder(flag, content, says, model_dir, tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    extra = ["--explain"] if flag == "--gate" else []
    proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(tmp_path / "out"), flag, str(path), *extra)
    assert proc.returncode == 2
    assert says in one_line(proc)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("--out is a file", "is a file, not a folder"),
        ("--max-frames 0", "--max-frames takes 1 or more"),
        ("swapped manifest", "is not the manifest of fer_mini_xception"),
        ("read-only model folder", "cannot write the models into"),
        ("export --out into a missing folder", "does not exist"),
        ("kiosk --set-pin with no terminal", "asks for the PIN on a terminal"),
    ],
)
def test_bad_input_is_one_line_not_a_traceback(case, says, model_dir, tmp_path):
    import shutil

    if case == "--out is a file":
        (tmp_path / "taken").write_text("mine")
        proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(tmp_path / "taken"))
        assert (tmp_path / "taken").read_text() == "mine"
    elif case == "--max-frames 0":
        proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(tmp_path / "o"), "--max-frames", "0")
    elif case == "swapped manifest":
        models = tmp_path / "models"
        shutil.copytree(model_dir, models)
        detector, expression = models / "retinaface_mnet.json", models / "fer_mini_xception.json"
        a, b = detector.read_text(), expression.read_text()
        detector.write_text(b)
        expression.write_text(a)
        proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(tmp_path / "o"), "--model-dir", str(models))
    elif case == "read-only model folder":
        if os.geteuid() == 0:  # root writes anywhere: a file where the folder should be stops it all the same
            (tmp_path / "models").write_text("not a folder")
        else:
            (tmp_path / "models").mkdir(mode=0o500)
        proc = run_emolens("export-models", "--out", str(tmp_path / "models" / "sub"))
    elif case == "export --out into a missing folder":
        out = tmp_path / "s"
        run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--quiet", "--max-frames", "3")
        proc = run_emolens("export", str(out), "--format", "jsonl", "--out", str(tmp_path / "no" / "such" / "x.jsonl"))
    else:
        proc = subprocess.run(
            [str(EMOLENS), "kiosk", "--set-pin", "--settings", str(tmp_path / "k.ini")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2, proc.stderr
    assert says in one_line(proc)


# --- repair ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["missing", "empty", "corrupt"])
def test_repair_rebuilds_a_missing_empty_or_corrupt_session_json(damage, model_dir, tmp_path):
    out = tmp_path / "s"
    made = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--quiet", "--max-frames", "20")
    assert made.returncode == 0, made.stderr
    rows = len(csv_rows(out / "frames.csv"))
    path = out / "session.json"
    {"missing": path.unlink, "empty": lambda: path.write_text(""), "corrupt": lambda: path.write_text('{"sta')}[
        damage
    ]()
    report = run_emolens("report", str(out))
    assert report.returncode == 2 and f"emolens repair {out}" in one_line(report)
    proc = run_emolens("repair", str(out))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(path.read_text())
    assert info["status"] == "interrupted" and info["counts"]["rows"] == rows
    assert "rebuilt by emolens repair" in info["session_json"]
    assert info["input"]["spec"] == str(PORTRAIT_CLIP)
    assert (out / "session.json.damaged").exists() == (damage == "corrupt")
    assert (out / "report.html").exists()


# --- sound that cannot stop the picture ----------------------------------------------------------------------


def test_a_damaged_sound_track_turns_voice_off_from_there_and_the_video_goes_on(model_dir, tmp_path):
    clip = tmp_path / "damaged.avi"
    media.write_avi_with_ac3(clip, media.clip_frames(GROUP_CLIP, 100))
    damaged_at = media.damage_audio_packet(clip, 2.0)
    out = tmp_path / "s"
    proc = run_emolens("analyze", str(clip), "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    line = one_line(proc)
    assert "audio off from" in line and "the sound track of damaged.avi is damaged" in line
    events = lines_of(out / "events.jsonl")
    (lost,) = [e for e in events if e["event"] == "audio_lost"]
    assert abs(lost["t"] - damaged_at) < 0.5
    fusion = [e for e in events if e["event"] == "fusion"]
    assert fusion and all(e["window"][1] <= lost["t"] + 1.0 for e in fusion)  # voice before the damage only
    session = json.loads((out / "session.json").read_text())
    assert session["status"] == "complete" and session["counts"]["frames_processed"] == 100
    assert session["devices"]["audio"].startswith("lost at")


PEAK_OF_CHILD = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def test_an_hour_long_file_starts_at_once_and_its_sound_costs_no_memory(model_dir, tmp_path):
    """The sound track is decoded in step with the frames: the first row comes as fast as without sound, and
    the peak memory is within 10% of the same run without it."""
    clip = tmp_path / "hour.mp4"
    media.loop_file(TALKING_CLIP, clip, 3600)
    measured = {}
    for audio in ("--audio", "--no-audio"):
        out = tmp_path / audio.strip("-")
        start = time.monotonic()
        proc = subprocess.Popen(  # a fresh interpreter runs it, so its children's peak is this run's alone
            [sys.executable, "-c", PEAK_OF_CHILD, str(EMOLENS), "analyze", str(clip), "--out", str(out)]
            + ["--quiet", "--max-frames", "90", audio],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        first_row = None
        while proc.poll() is None:
            if first_row is None and (out / "frames.csv").exists() and len((out / "frames.csv").read_bytes()) > 400:
                first_row = time.monotonic() - start
            time.sleep(0.01)
        stderr = proc.stderr.read()
        assert proc.returncode == 0, stderr
        peak = int(stderr.split()[-1])
        measured[audio] = (first_row, peak)
    print(f"\nfirst row, peak RSS (KiB): {measured}")
    (with_sound, peak_sound), (without, peak_quiet) = measured["--audio"], measured["--no-audio"]
    assert with_sound is not None and with_sound <= without + 2.0
    assert peak_sound <= 1.10 * peak_quiet


# --- media time -------------------------------------------------------------------------------------------------


def test_each_row_carries_its_frames_presentation_time_on_a_variable_frame_rate_file(model_dir, tmp_path):
    times = [0.0, 0.033, 0.067, 0.3, 0.333, 0.9, 0.933, 0.967, 1.5, 1.533, 2.6, 2.633]
    clip = tmp_path / "vfr.mp4"
    media.write_vfr_mp4(clip, media.clip_frames(PORTRAIT_CLIP, len(times)), times)
    out = tmp_path / "s"
    assert run_emolens("analyze", str(clip), "--out", str(out), "--quiet", "--no-audio").returncode == 0
    by_frame = {int(r["frame"]): float(r["time_s"]) for r in csv_rows(out / "frames.csv")}
    assert by_frame and all(abs(by_frame[i] - times[i]) < 0.002 for i in by_frame), by_frame


def test_realtime_counts_every_frame_of_the_file_seen_or_dropped(model_dir, tmp_path):
    cap = cv2.VideoCapture(str(GROUP_CLIP))
    in_file = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    out = tmp_path / "s"
    proc = run_emolens("analyze", str(GROUP_CLIP), "--out", str(out), "--quiet", "--realtime", "--detect-every", "1")
    assert proc.returncode == 0, proc.stderr
    counts = json.loads((out / "session.json").read_text())["counts"]
    assert counts["frames_seen"] == counts["frames_processed"] + counts["frames_dropped"] == in_file
    frames = {int(r["frame"]) for r in csv_rows(out / "frames.csv")}
    assert len(frames) == counts["frames_processed"] and max(frames) < in_file  # rows keep the file's index


# --- what the command says ------------------------------------------------------------------------------------


def test_the_summary_counts_explanations_not_requests(model_dir, tmp_path):
    out = tmp_path / "s"
    proc = run_emolens("analyze", str(GROUP_CLIP), "--out", str(out), "--explain")  # not --quiet: the count shows
    assert proc.returncode == 0, proc.stderr
    written = len(lines_of(out / "explanations.jsonl"))
    e = json.loads((out / "session.json").read_text())["counts"]["explainer"]
    assert e["explanations"] == written == e["from_model"] + e["from_template"]
    assert f"{written} explanation(s) for the {e['invoked']} of {e['windows']} windows the gate chose" in proc.stdout
    import re

    asked = re.search(r"explaining (\d+) window\(s\) the gate chose", proc.stderr)
    steps = [(int(a), int(b)) for a, b in re.findall(r"^emolens: (-?\d+) of (\d+) explained$", proc.stderr, re.M)]
    if asked:  # the drain's progress counts up from what was owed when the input ended, never below zero
        assert steps and all(0 <= a <= b == int(asked[1]) for a, b in steps), proc.stderr
        assert [a for a, _ in steps] == sorted(a for a, _ in steps)


def test_no_python_process_of_a_finished_run_is_left(model_dir, tmp_path):
    """After a normal run with the explainer the child process has ended too."""
    out = tmp_path / "s"
    assert run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(out), "--quiet", "--explain").returncode == 0
    pid = _explainer_pid(out)
    assert pid is not None and not _alive(pid)
    assert sys.executable  # the suite's own interpreter, for the record


def test_a_gguf_without_a_manifest_is_checked_before_it_loads(model_dir, tmp_path):
    """A user's own GGUF has no manifest: its header is read and a copy cut short is refused (the session goes
    on without explanations, as for any explainer that cannot run); emolens' own trained model must have one."""
    from engines.errors import ModelError
    from engines.slow.llm_models import TRAINED_LLM, resolve_llm

    base = resolve_llm("smollm2-135m")
    whole, cut = tmp_path / "mine.gguf", tmp_path / "cut.gguf"
    whole.write_bytes(base.path.read_bytes())
    cut.write_bytes(base.path.read_bytes()[: base.size - 4_000_000])
    assert "every tensor is in the file" in resolve_llm(str(whole)).source
    with pytest.raises(ModelError, match=r"cut\.gguf is cut short \(\d+ bytes, its tensors need \d+\)"):
        resolve_llm(str(cut))
    proc = run_emolens("analyze", str(PORTRAIT_CLIP), "--out", str(tmp_path / "s"), "--explain", "--llm", str(cut))
    assert proc.returncode == 0, proc.stderr
    assert "explanations off" in one_line(proc) and "is cut short" in proc.stderr
    models = tmp_path / "models"
    models.mkdir()
    (models / f"{TRAINED_LLM}.gguf").write_bytes(base.path.read_bytes())  # no manifest beside it
    with pytest.raises(ModelError, match="has no manifest"):
        resolve_llm(TRAINED_LLM, models)
