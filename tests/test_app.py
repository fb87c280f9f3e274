"""The desktop app and the kiosk, driven for real: the real window on the bundled clip, the real models and explainer.

Qt renders offscreen (set in conftest); pytest-qt fails a test on any exception raised in a Qt slot.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace

import pytest
from conftest import GROUP_CLIP, PORTRAIT_CLIP, run_emolens

pytest.importorskip("PyQt6")

from PyQt6.QtCore import Qt  # noqa: E402

from app.gui.preferences import Preferences, PreferencesStore  # noqa: E402
from engines.slow.llm_models import resolve_llm  # noqa: E402


@pytest.fixture
def store(tmp_path):
    return PreferencesStore(tmp_path / "emolens.ini")


def prefs_for(tmp_path, source, **more) -> Preferences:
    return Preferences(source=str(source), record_root=str(tmp_path / "sessions"), **more)


def test_main_window_runs_a_live_session_on_the_bundled_clip(qtbot, store, tmp_path, model_dir):
    """Start with Space: boxes and labels are painted, the timeline fills, the explainer's answer streams into the
    panel and lands in its list; R records the session's numbers; Space stops."""
    from app.gui.main_window import MainWindow
    from app.gui.palette import emotion_color
    from app.gui.plain_words import trigger_words
    from app.gui.video_view import face_caption

    window = MainWindow(store, prefs_for(tmp_path, GROUP_CLIP))
    qtbot.addWidget(window)
    window.resize(1280, 720)
    with qtbot.waitActive(window):  # keyboard shortcuts go to the active window
        window.show()
        window.activateWindow()
    assert window.video.message and "Start" in window.video.message

    qtbot.keyClick(window.video, Qt.Key.Key_Space)
    assert window.control.running and window.start_action.text() == "Stop"
    qtbot.waitUntil(lambda: window.video.painted > 5 and bool(window.video.faces), timeout=30_000)
    qtbot.waitUntil(lambda: window.video.message is None, timeout=5_000)

    # a face's box is painted in its label's colour, where the face is
    face = next(f for f in window.video.faces if not f.uncertain)
    scale, ox, oy = window.video._geometry()
    x1, y1, x2, y2 = face.box
    window.video.selected = None
    want = emotion_color(face.label)
    image = window.video.grab().toImage()
    x, y = round(ox + x1 * scale), round(oy + (y1 + y2) / 2 * scale)

    def distance(c) -> int:
        return abs(c.red() - want.red()) + abs(c.green() - want.green()) + abs(c.blue() - want.blue())

    # the box's 2-pixel antialiased line: its most covered pixel within a pixel of where the edge falls
    assert min(distance(image.pixelColor(x + dx, y)) for dx in (-1, 0, 1)) < 60
    assert face_caption(face).startswith(f"#{face.track_id} {face.label} ")

    qtbot.keyClick(window.video, Qt.Key.Key_R)
    assert window.record_action.isChecked()
    qtbot.waitUntil(lambda: window.control.recording_folder is not None, timeout=5_000)
    folder = window.control.recording_folder

    qtbot.waitUntil(lambda: window.timeline.points() > 30, timeout=60_000)
    assert window.bars.selected_face() is not None and window.bars.selected_face().track_id == window.selected

    # the explainer's first answers: a new face is explained once it has been in view for 3 s
    qtbot.waitUntil(lambda: window.explanations.count() >= 1, timeout=90_000)
    assert window.explanations.streamed_pieces > 0  # the answer streamed in, token by token
    first = window.explanations.list.item(window.explanations.count() - 1)
    x = first.data(Qt.ItemDataRole.UserRole)
    assert trigger_words(x.trigger) in first.text() and x.text in first.text() and f"face #{x.track_id}" in first.text()
    assert "_" not in trigger_words(x.trigger)  # the trigger in words (new face), not its name (new_face)
    assert x.text and window.explanations.live.text()
    assert window.status.last is not None and window.status.last.processed_fps > 5
    explainer = resolve_llm(None, model_dir).name  # the trained one, which export_models built from the adapter
    assert "onnxruntime" in window.status.models.text() and f"explainer {explainer}" in window.status.models.text()

    qtbot.keyClick(window.video, Qt.Key.Key_Space)
    assert not window.control.running and window.start_action.text() == "Start"
    qtbot.waitUntil(lambda: "Stopped" in (window.video.message or ""), timeout=10_000)

    # what Record wrote: numbers only, and the same explanation the panel showed
    assert sorted(p.name for p in folder.iterdir()) == [
        "events.jsonl",
        "explanations.jsonl",
        "frames.csv",
        "frames.parquet",
        "report.html",
        "session.json",
    ]
    session = json.loads((folder / "session.json").read_text())
    assert session["status"] == "complete" and session["counts"]["frames_processed"] > 30
    assert window.control.last_report() == folder / "report.html"  # what the Report button opens
    rows = (folder / "frames.csv").read_text().splitlines()
    assert len(rows) > 30
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "recording_started" and events[-1]["event"] == "recording_stopped"
    assert any(e["event"] == "gate" for e in events)


def test_kiosk_needs_the_pin_to_close(qtbot, store, tmp_path, model_dir):
    from app.gui.kiosk_window import KioskWindow
    from app.kiosk_pin import hash_pin

    store.save(prefs_for(tmp_path, GROUP_CLIP, explainer=False, kiosk_pin_hash=hash_pin("2468")))
    assert "2468" not in (tmp_path / "emolens.ini").read_text()  # only the hash is stored
    kiosk = KioskWindow(store)
    qtbot.addWidget(kiosk)
    kiosk.start()
    qtbot.waitExposed(kiosk)
    assert kiosk.isFullScreen() and kiosk.windowFlags() & Qt.WindowType.FramelessWindowHint
    qtbot.waitUntil(lambda: kiosk.video.painted > 3, timeout=30_000)  # it started by itself
    assert kiosk.control.running

    kiosk.close()  # a window manager's close, Alt+F4, ...
    assert kiosk.isVisible() and kiosk.pin_dialog is not None and kiosk.pin_dialog.isVisible()
    qtbot.keyClicks(kiosk.pin_dialog.pin, "1357")
    kiosk.pin_dialog.try_pin()
    assert kiosk.isVisible() and kiosk.pin_dialog.message.text() == "Wrong PIN (4 more before a lock)"
    qtbot.keyClicks(kiosk.pin_dialog.pin, "2468")
    kiosk.pin_dialog.try_pin()
    qtbot.waitUntil(lambda: not kiosk.isVisible(), timeout=10_000)
    assert not kiosk.control.running
    # the kiosk's own log: numbers only, in the day's folder, a session folder for this start
    (day,) = (tmp_path / "sessions" / "kiosk").iterdir()
    assert day.name == time.strftime("%Y-%m-%d")
    (started,) = day.iterdir()
    assert json.loads((started / "session.json").read_text())["status"] == "complete"
    assert not [p for p in day.rglob("*") if p.suffix.lower() in (".jpg", ".png", ".jpeg")]


def test_the_window_shows_retrying_when_the_camera_goes_and_resumes_when_it_returns(qtbot, store, tmp_path, model_dir):
    """A camera source on a file (no /dev/video here): the file ends, then is gone (unplugged) and then back."""
    from app.gui.main_window import MainWindow

    camera = tmp_path / "camera.mp4"
    shutil.copy(PORTRAIT_CLIP, camera)
    window = MainWindow(store, prefs_for(tmp_path, camera, explainer=False, record_on_start=True))
    window.control.config_overrides = {"camera": True, "retry_s": (0.2, 0.4)}
    qtbot.addWidget(window)
    window.show()
    states = []
    window.control.bridge.state_changed.connect(lambda s: states.append(s.phase))
    window.control.start()
    qtbot.waitUntil(lambda: window.video.painted > 0, timeout=30_000)
    camera.rename(tmp_path / "unplugged.mp4")
    qtbot.waitUntil(lambda: "retrying" in (window.video.message or ""), timeout=10_000)
    assert "Camera lost" in window.video.message
    qtbot.wait(300)  # the last frame before the loss may still be on its way to the screen
    painted = window.video.painted
    qtbot.wait(1000)  # unplugged: reopening fails, the window keeps saying so
    assert window.video.painted == painted and "retrying" in window.video.message and window.control.running

    (tmp_path / "unplugged.mp4").rename(camera)
    qtbot.waitUntil(lambda: window.video.painted > painted, timeout=10_000)
    assert states.count("running") >= 2 and window.control.session.error is None
    window.control.stop()
    (folder,) = (tmp_path / "sessions").iterdir()
    events = [json.loads(line)["event"] for line in (folder / "events.jsonl").read_text().splitlines()]
    assert events.count("source_opened") >= 2 and "source_lost" in events


def test_settings_dialog_saves_preferences_and_a_hashed_pin(qtbot, store, tmp_path):
    from app.gui.settings_dialog import SettingsDialog
    from app.kiosk_pin import verify_pin

    dialog = SettingsDialog(Preferences(), None)
    qtbot.addWidget(dialog)
    dialog.editors["detect_every"].setValue(5)
    dialog.editors["explainer"].setChecked(False)
    dialog.new_pin.setText("12")
    dialog.repeat_pin.setText("12")
    dialog.accept()
    assert "4 to 12 digits" in dialog.error.text() and dialog.result() == 0
    dialog.new_pin.setText("9876")
    dialog.repeat_pin.setText("9876")
    dialog.accept()
    prefs = dialog.preferences()
    assert prefs.detect_every == 5 and prefs.explainer is False and prefs.explain_options() is None
    assert verify_pin("9876", prefs.kiosk_pin_hash) and not verify_pin("9875", prefs.kiosk_pin_hash)
    store.save(prefs)
    assert PreferencesStore(tmp_path / "emolens.ini").load() == prefs


def test_preferences_survive_a_hand_edited_file(tmp_path):
    path = tmp_path / "emolens.ini"
    path.write_text("[preferences]\ndetect_every=banana\nsmoothing_s=0.8\nexplainer=false\n")
    prefs = PreferencesStore(path).load()
    assert prefs.detect_every == 6 and prefs.smoothing_s == 0.8 and prefs.explainer is False
    assert prefs.gate_settings().max_per_minute == 12 == replace(prefs).gate_max_per_minute


def test_streamed_sentence_reads_the_explanation_out_of_partial_json():
    from app.gui.explanation_panel import streamed_sentence

    assert streamed_sentence('{"label": {"name": "happy"') == ""
    assert streamed_sentence('{"label": 1, "cues": [], "explanation": "A wide \\"smile') == 'A wide "smile'
    assert streamed_sentence('{"cues": [], "explanation": "Done."}') == "Done."


def test_daily_rotation_starts_a_new_folder_each_day_and_prunes_old_ones(tmp_path):
    from datetime import date

    from export.daily_rotation import DailyRotation

    today = [date(2026, 11, 22)]
    rotation = DailyRotation(tmp_path, keep_days=2, today=lambda: today[0])
    for name in ("2026-11-19", "2026-11-20_080000", "2026-11-21_080000", "2026-11-22", "notes"):
        (tmp_path / name).mkdir()
    assert rotation.day_folder() == tmp_path / "2026-11-22"
    assert not rotation.due(date(2026, 11, 22))
    assert [p.name for p in rotation.prune()] == ["2026-11-19", "2026-11-20_080000"]
    today[0] = date(2026, 11, 23)
    assert rotation.due(date(2026, 11, 22))
    assert [p.name for p in rotation.prune()] == ["2026-11-21_080000"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11-22", "notes"]


def test_kiosk_rotates_its_log_folder_at_midnight(tmp_path, model_dir):
    """The session's recorder closes the day's folder and opens the next one when the date changes."""
    from datetime import date

    from app.live_session import LiveSession, RecordingPlan, SessionConfig

    class Listener:
        results = 0

        def on_result(self, frame, result):
            self.results += 1

        def __getattr__(self, name):
            return lambda *args: None

    day = [date(2026, 11, 22)]
    listener = Listener()
    session = LiveSession(
        SessionConfig(str(GROUP_CLIP), loop=True, explain=None),
        listener,
        RecordingPlan(tmp_path, daily=True, keep_days=7),
        record=True,
        today=lambda: day[0],
    ).start()
    deadline = time.monotonic() + 30
    while listener.results < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    first = session.recording.folder
    day[0] = date(2026, 11, 23)
    seen = listener.results
    while listener.results < seen + 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = session.recording.folder
    session.stop()
    assert first is not None and second is not None and first != second
    assert json.loads((first / "session.json").read_text())["status"] == "complete"
    assert json.loads((second / "session.json").read_text())["status"] == "complete"
    assert json.loads((first / "session.json").read_text())["counts"]["frames_processed"] > 0
    # people are the day's: the new folder's people are numbered from 1 again, none of them "returning"
    people = [json.loads(line) for line in (second / "events.jsonl").read_text().splitlines() if '"person"' in line]
    at_once = [p for p in people if p["t"] == people[0]["t"]]  # the faces in view when the day began
    assert people and [p["person_id"] for p in at_once] == list(range(1, len(at_once) + 1))
    assert not any(p["returning"] for p in at_once)


def test_kiosk_without_a_pin_and_gui_without_a_display_say_what_to_do(tmp_path):
    settings = tmp_path / "emolens.ini"
    result = run_emolens("kiosk", "--settings", str(settings), env_extra={"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 2 and "emolens kiosk --set-pin" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_emolens("gui", "--settings", str(settings), env_extra={"QT_QPA_PLATFORM": "", "DISPLAY": ""})
    assert result.returncode == 2 and "no display" in result.stderr and "Traceback" not in result.stderr


def test_a_model_that_cannot_load_leaves_the_failure_on_screen(qtbot, store, tmp_path):
    """A truncated detector model: the window says why and how to fix it, and the message stays."""
    from app.gui.main_window import MainWindow
    from export.models.chain import export_models

    models = tmp_path / "models"
    export_models(models, progress=lambda line: None)
    detector = next(p for p in models.glob("*.onnx") if "retinaface" in p.name)
    detector.write_bytes(detector.read_bytes()[:1000])
    window = MainWindow(store, prefs_for(tmp_path, GROUP_CLIP, explainer=False))
    window.control.config_overrides = {"fast": replace(window.prefs.fast_options(), model_dir=models)}
    qtbot.addWidget(window)
    window.show()
    window.control.start()
    qtbot.waitUntil(lambda: not window.control.running, timeout=30_000)
    qtbot.wait(200)
    assert window.video.message.startswith("Could not run:") and "export-models" in window.video.message
    assert window.start_action.text() == "Start"
