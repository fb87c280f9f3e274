"""What the window shows belongs to one session: a switch or a stop leaves a clean slate, a late word of the
last session never lands in the next, and the timeline draws no line across the time a face was away.

The real window (offscreen), the real models, the bundled clips.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GROUP_CLIP, PORTRAIT_CLIP

pytest.importorskip("PyQt6")

from app.gui.preferences import Preferences, PreferencesStore  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, model_dir):
    from app.gui.main_window import MainWindow

    store = PreferencesStore(tmp_path / "emolens.ini")
    prefs = Preferences(source=str(GROUP_CLIP), record_root=str(tmp_path / "sessions"), explainer=False)
    window = MainWindow(store, prefs)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    return window


def test_switching_the_source_mid_session_shows_only_the_new_sessions_data(qtbot, window):
    window.control.start()
    qtbot.waitUntil(lambda: window.video.painted > 40 and window.timeline.points() > 10, timeout=60_000)
    old_feed = window.control.session.listener
    old_explained = []
    window.control.bridge.explained.connect(old_explained.append)
    assert len(window.timeline._history) >= 2  # the group clip: several faces

    added = []  # every result the timeline is given from the switch on
    real_add = window.timeline.add
    window.timeline.add = lambda result: added.append(result) or real_add(result)
    window.set_source(str(PORTRAIT_CLIP))
    assert window.timeline._history == {} and window.video.faces == () and window.bars.faces == ()
    qtbot.waitUntil(lambda: window.video.painted > 0 and len(added) > 10, timeout=60_000)

    # the stopped session's last words, arriving late, are dropped: nothing of it reaches the new screen
    stale = window.control.bridge.generation - 1
    assert old_feed._generation == stale
    old_feed.on_state(_state("failed", "late word of the old session"))
    qtbot.wait(200)
    assert "late word" not in (window.video.message or "")

    seen = {(r.t, f.track_id) for r in added for f in r.faces}
    timeline = {(t, track) for track, points in window.timeline._history.items() for t, _ in points}
    assert timeline and timeline <= seen  # every point drawn came from the new session
    assert any(window.video._result is r for r in added)  # the boxes: a result of the new session
    assert window.bars.faces is window.video._result.faces or any(window.bars.faces is r.faces for r in added)
    assert window.timeline.selected in {f.track_id for r in added for f in r.faces}

    window.control.stop()  # Stop: no picture, boxes, bars, curves or rates stay under "Stopped"
    qtbot.wait(500)  # and a frame that was on its way when Stop was pressed does not paint them back
    assert window.video._image is None and window.video.faces == () and window.bars.faces == ()
    assert window.timeline._history == {} and window.timeline.points() == 0 and window.selected is None
    assert window.status.rates.text() == "not running" and window.video.message.startswith("Stopped")


def _state(phase, detail):
    from engines.contracts import SessionPhase, SessionState

    return SessionState(SessionPhase(phase), detail)


def test_an_explanation_of_the_last_session_never_lands_in_the_next(qtbot, window):
    """The explanation list gets a separator at each new session; an explanation the old session sends after
    the switch (its worker was still answering) is dropped; one about a face no longer in view says so."""
    from engines.contracts import Evidence, Explained, Explanation

    window.control.start()
    qtbot.waitUntil(lambda: window.video.painted > 5, timeout=60_000)
    first_feed = window.control.session.listener
    evidence = Evidence(
        track_id=99, window=(1.0, 2.0), label="happy", confidence=0.8, second_label="neutral",
        second_confidence=0.1, frame_margin=0.7, entropy=0.3, uncertain_share=0.0, changed_from=None, key_frames=(),
        facts=(),
    )  # fmt: skip
    explanation = Explanation(
        window=(1.0, 2.0), trigger="new_face", label="happy", confidence=0.8, cues=(), text="A wide smile.",
        tokens=0, latency_ms=1.0, track_id=99, fast_label="happy",
    )  # fmt: skip
    first_feed.on_explanation(Explained(explanation, evidence))
    qtbot.waitUntil(lambda: window.explanations.count() == 1, timeout=5000)
    assert "no longer in view" in window.explanations.list.item(0).text()  # no face #99 on screen
    assert "new face" in window.explanations.list.item(0).text()  # the trigger in words, not new_face

    window.set_source(str(PORTRAIT_CLIP))
    first_feed.on_explanation(Explained(explanation, evidence))  # late, from the stopped session
    qtbot.wait(300)
    assert window.explanations.count() == 1
    assert window.explanations.list.item(0).text().startswith("──── new session: portrait_zoom.mp4")
    window.control.stop()


def test_the_timeline_draws_no_line_across_the_time_a_face_was_away(qtbot):
    """Face #1 seen 0-1 s, away 1-3 s, seen again 3-4 s: the curves break in the gap."""
    from app.gui.timeline import TimelinePlot
    from engines.contracts import EMOTIONS, FaceObservation, FrameResult
    from engines.fast.landmark_cues import landmark_cues

    happy = np.array([0.02, 0.01, 0.01, 0.9, 0.02, 0.02, 0.02])
    face = FaceObservation(
        track_id=1, box=(0, 0, 10, 10), landmarks=np.zeros((5, 2)), det_score=0.9, detected=True, probs=happy,
        raw_probs=happy, label="happy", uncertain=False, margin=0.88, entropy=0.2,
        cues=landmark_cues(np.array([[0, 0], [10, 0], [5, 5], [1, 10], [9, 10]], float)), person_id=1,
    )  # fmt: skip
    plot = TimelinePlot()
    qtbot.addWidget(plot)
    plot.resize(800, 300)
    plot.show()
    for t in [i / 10 for i in range(11)] + [3 + i / 10 for i in range(11)]:
        plot.add(FrameResult(t=t, index=int(t * 10), faces=(face,)))
    plot.select(1)
    plot.refresh()
    x, y = plot.curves["happy"].getData()
    gap = np.flatnonzero(np.isnan(x))
    assert len(gap) == 1 and x[gap[0] - 1] == pytest.approx(1.0) and x[gap[0] + 1] == pytest.approx(3.0)
    assert plot.curves["happy"].opts["connect"] == "finite"

    qtbot.wait(100)
    image = plot.plot.grab().toImage()
    view = plot.plot.getPlotItem().getViewBox()
    color = plot.curves["happy"].opts["pen"].color()

    def drawn_near(t: float) -> bool:  # the happy curve's colour within 3 px of (t, 0.9) on screen
        point = plot.plot.mapFromScene(view.mapViewToScene(pg_point(t, 0.9)))
        for dx in range(-3, 4):
            for dy in range(-3, 4):
                pixel = image.pixelColor(point.x() + dx, point.y() + dy)
                if abs(pixel.red() - color.red()) + abs(pixel.green() - color.green()) < 40:
                    return True
        return False

    assert drawn_near(0.5) and drawn_near(3.5)  # the curve is there where the face was
    assert not drawn_near(2.0)  # and not across the gap
    assert EMOTIONS[3] == "happy"


def pg_point(x: float, y: float):
    from PyQt6.QtCore import QPointF

    return QPointF(x, y)


def test_ctrl_r_with_no_program_for_html_says_so_in_the_window_and_copies_the_path(qtbot, window, tmp_path):
    """No xdg-open on PATH (a bare kiosk, a server): the window says the report did not open, where it is, and
    copies its path."""
    import os

    from PyQt6.QtCore import Qt
    from PyQt6.QtWidgets import QApplication

    report = tmp_path / "report.html"
    report.write_text("<html></html>")
    window.control.last_report = lambda: report
    path = os.environ["PATH"]
    os.environ["PATH"] = str(tmp_path / "empty-bin")
    try:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    finally:
        os.environ["PATH"] = path
    box = window.report_opener.message
    qtbot.waitUntil(lambda: box is not None and box.isVisible(), timeout=3000)
    assert "could not be opened" in box.text() and str(report) in box.informativeText()
    copy = next(b for b in box.buttons() if b.text() == "Copy path")
    copy.click()
    assert QApplication.clipboard().text() == str(report) and box.isVisible()


def test_with_no_camera_start_is_off_and_the_window_says_what_to_do(qtbot, tmp_path):
    from app.gui.main_window import NO_CAMERA, MainWindow

    store = PreferencesStore(tmp_path / "emolens.ini")
    window = MainWindow(store, Preferences(source="7", explainer=False))  # no camera 7 exists here
    qtbot.addWidget(window)
    window.show()
    assert not window.start_action.isEnabled() and window.video.message == NO_CAMERA
    window.set_source(str(GROUP_CLIP))  # a file: Start is on again
    assert window.start_action.isEnabled()


def test_a_kiosk_whose_camera_never_came_waits_calmly_and_never_says_lost(qtbot, tmp_path, model_dir):
    from app.gui.kiosk_window import KioskWindow
    from app.kiosk_pin import hash_pin

    store = PreferencesStore(tmp_path / "emolens.ini")
    prefs = Preferences(
        source=str(tmp_path / "no-such-camera"), record_root=str(tmp_path / "s"), explainer=False,
        kiosk_pin_hash=hash_pin("2468", iterations=1000),
    )  # fmt: skip
    kiosk = KioskWindow(store, prefs)
    kiosk.control.config_overrides = {"camera": True, "retry_s": (0.2, 0.4)}
    qtbot.addWidget(kiosk)
    messages = []
    kiosk.control.bridge.state_changed.connect(lambda s: messages.append(kiosk.video.message))
    kiosk.start()
    qtbot.waitUntil(lambda: len(messages) > 4, timeout=30_000)  # several tries
    assert kiosk.video.message == "Waiting for the camera…"
    assert not any("lost" in (m or "").lower() or "stopped" in (m or "").lower() for m in messages)
    kiosk.shutdown()


def test_the_kiosk_banner_is_one_plain_sentence():
    """No times to two decimals, no probabilities, no trigger names, no track numbers unless asked for."""
    import re

    from app.gui.plain_words import kiosk_sentence
    from engines.contracts import Evidence, Explanation, Fact
    from engines.slow.evidence import key_frames_fact, label_fact, mouth_fact

    facts = (
        label_fact("neutral", "0.60", "sad", "0.20", "1.0"),
        key_frames_fact(("11.01", "11.38")),
        mouth_fact("mouth_drop", "mouth line 27% further below the nose than usual", "27"),
        Fact("head_turn", "head turned to the left"),
    )
    evidence = Evidence(
        track_id=14, window=(11.0, 12.0), label="neutral", confidence=0.6, second_label="sad",
        second_confidence=0.2, frame_margin=0.4, entropy=0.5, uncertain_share=0.0, changed_from=None,
        key_frames=(11.01, 11.38), facts=facts,
    )  # fmt: skip
    explanation = Explanation(
        window=(11.0, 12.0), trigger="stale", label="neutral", confidence=0.6,
        cues=("key_frames", "mouth_drop", "head_turn"), tokens=30, latency_ms=900.0, track_id=14,
        text="Neutral at 0.60: most expressive at 11.01 s and 11.38 s.",
    )  # fmt: skip
    sentence = kiosk_sentence(explanation, evidence)
    assert sentence == "Someone looks neutral: the mouth open more than usual, looking to the left."
    assert not re.search(r"\d", sentence) and "stale" not in sentence and "#" not in sentence
    assert kiosk_sentence(explanation, evidence, show_number=True).startswith("Face #14 looks neutral")
