"""MainWindow: the live video, the bars, the timeline and the explanations, with the session's controls."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.gui.action_bars import ActionBars
from app.gui.emotion_bars import EmotionBars
from app.gui.explanation_panel import ExplanationPanel
from app.gui.preferences import Preferences, PreferencesStore
from app.gui.report_opener import ReportOpener
from app.gui.session_control import SessionControl
from app.gui.status_line import SessionStatusBar
from app.gui.timeline import TimelinePlot
from app.gui.video_view import VideoView
from capture.devices import list_camera_devices, list_microphones
from capture.source import IMAGE_SUFFIXES
from engines.contracts import SessionDescription, SessionPhase, SessionState

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
_VIDEOS, _IMAGES = (" ".join(f"*{s}" for s in sorted(kind)) for kind in (VIDEO_SUFFIXES, IMAGE_SUFFIXES))
VIDEO_FILTER = f"Videos and images ({_VIDEOS} {_IMAGES});;Videos ({_VIDEOS});;Images ({_IMAGES});;All files (*)"
NO_CAMERA = "No camera found.\nConnect one and pick it under Video,\nor pick Video file… to play a video or an image."


def state_message(state: SessionState, camera: bool) -> str | None:
    """What the picture says while there is no live frame to show; None while running."""
    if state.phase == "starting":
        return f"Starting: {state.detail}"
    if state.phase in ("retrying", "waiting"):
        wait = f" in {math.ceil(state.retry_in_s)} s" if state.retry_in_s else ""
        what = "Camera" if camera else "Video source"
        if state.phase == "waiting":  # it never delivered a frame: nothing was lost
            return f"Waiting for the {what.lower()}, trying again{wait}\n{state.detail}"
        return f"{what} lost, retrying{wait}\n{state.detail}"
    if state.phase == "failed":
        return f"Could not run: {state.detail}"
    if state.phase == "finished":
        return "End of the video. Press Start (Space) to play it again."
    if state.phase == "stopped":
        return "Stopped. Press Start (Space) to begin."
    return None


class MainWindow(QMainWindow):
    def __init__(self, store: PreferencesStore, prefs: Preferences | None = None):
        super().__init__()
        self.store = store
        self.prefs = prefs or store.load()
        self.setWindowTitle("emolens")
        self.control = SessionControl(self.prefs, kiosk=False, parent=self)
        self.video = VideoView()
        self.bars = EmotionBars()
        self.actions = ActionBars()
        self.timeline = TimelinePlot()
        self.explanations = ExplanationPanel()
        self.status = SessionStatusBar(self)
        self.setStatusBar(self.status)
        self.selected: int | None = None
        self.info: SessionDescription | None = None
        self._no_camera = False  # the source is a camera this machine does not have: Start is off
        self.report_opener = ReportOpener(self)
        self._build_layout()
        self._build_toolbar()
        self._connect()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(100)
        geometry = store.geometry("main")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 720)

    # --- layout ------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.video)
        left.addWidget(self.timeline)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 1)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(6, 0, 0, 0)
        column.addWidget(self.bars)
        # the action bars keep their rows and the explanations take what is left (their list scrolls); the
        # handle between them moves
        below = QSplitter(Qt.Orientation.Vertical)
        below.addWidget(self.actions)
        below.addWidget(self.explanations)
        below.setStretchFactor(0, 0)
        below.setStretchFactor(1, 1)
        below.setSizes([self.actions.sizeHint().height(), 400])
        column.addWidget(below, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([900, 380])
        self.setCentralWidget(split)
        self.video.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Session")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        self.start_action = QAction("Start", self, shortcut=QKeySequence(Qt.Key.Key_Space))
        self.start_action.setToolTip("Start or stop the session (Space)")
        self.start_action.triggered.connect(self.control.toggle)
        self.record_action = QAction("Record", self, checkable=True, shortcut=QKeySequence(Qt.Key.Key_R))
        self.record_action.setToolTip("Write the session's numbers (no images) to a folder (R)")
        self.record_action.setChecked(self.control.recording)
        self.record_action.toggled.connect(self.control.set_recording)
        self.fullscreen_action = QAction("Full screen", self, checkable=True, shortcut=QKeySequence(Qt.Key.Key_F))
        self.fullscreen_action.toggled.connect(self._set_fullscreen)
        self.settings_action = QAction("Settings…", self, shortcut=QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.open_settings)
        self.report_action = QAction("Report", self, shortcut=QKeySequence("Ctrl+R"))
        self.report_action.setToolTip(
            "Open the last recording's report in your browser (Ctrl+R); it stays on this computer"
        )
        self.report_action.triggered.connect(self.open_last_report)
        for action in (self.start_action, self.record_action, self.report_action, self.fullscreen_action):
            bar.addAction(action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Video: "))
        self.source_picker = QComboBox()
        self.source_picker.setMinimumContentsLength(14)
        self.source_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_picker.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.source_picker.activated.connect(self._source_picked)
        bar.addWidget(self.source_picker)
        bar.addWidget(QLabel(" Microphone: "))
        self.mic_picker = QComboBox()
        self.mic_picker.setMinimumContentsLength(14)
        self.mic_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mic_picker.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.mic_picker.activated.connect(self._mic_picked)
        bar.addWidget(self.mic_picker)
        bar.addSeparator()
        bar.addAction(self.settings_action)
        self.refresh_devices()

    def refresh_devices(self) -> None:
        """Lists what the machine really has; says plainly when there is none."""
        picker = self.source_picker
        picker.clear()
        cameras = list_camera_devices()
        for camera in cameras:
            picker.addItem(camera.name, camera.id)
        if not cameras:
            picker.addItem("No camera found")
            picker.model().item(0).setEnabled(False)
        source = self.prefs.source
        self._no_camera = source.isdigit() and source not in {c.id for c in cameras}
        self.start_action.setEnabled(not self._no_camera or self.control.running)
        if self._no_camera and not self.control.running:
            self.video.clear(NO_CAMERA)
        if not source.isdigit():
            picker.addItem(Path(source).name, source)
        picker.addItem("Video file…", "__browse__")
        index = picker.findData(source)
        picker.setCurrentIndex(index if index >= 0 else 0)
        mics, why = list_microphones()
        self.mic_picker.clear()
        for mic in mics:
            self.mic_picker.addItem(mic.name, mic.id)
        if not mics:
            self.mic_picker.addItem("None found (audio off)" if why == "no microphone found" else "Audio off")
        else:
            self.mic_picker.addItem("Audio off", "__off__")
        chosen = self.mic_picker.findData(self.prefs.microphone if self.prefs.audio else "__off__")
        self.mic_picker.setCurrentIndex(max(chosen, 0))
        self.mic_picker.setToolTip(why or "Voice cues (loudness, pitch, speaking rate) from this input, with a camera")
        self.status.set_audio("audio: off" if not mics else "audio: ready", why or "")

    def _mic_picked(self, index: int) -> None:
        data = self.mic_picker.itemData(index)
        audio = data not in (None, "__off__")
        self.prefs = replace(self.prefs, audio=audio, microphone=data if audio else self.prefs.microphone)
        self.control.prefs = self.prefs
        self.store.save(self.prefs)

    def _source_picked(self, index: int) -> None:
        data = self.source_picker.itemData(index)
        if data == "__browse__":
            last = Path(self.prefs.source)
            folder = last.parent if not self.prefs.source.isdigit() and last.parent.is_dir() else Path.home()
            path, _ = QFileDialog.getOpenFileName(self, "Open a video or an image", str(folder), VIDEO_FILTER)
            if not path:
                self.refresh_devices()
                return
            data = path
        if data is not None:
            self.set_source(data)

    def set_source(self, source: str) -> None:
        """Switches the video source; a running session restarts on it."""
        was_running = self.control.running
        self.control.stop()
        self.prefs = replace(self.prefs, source=source)
        self.control.prefs = self.prefs
        self.store.save(self.prefs)
        self.refresh_devices()
        if was_running:
            self.control.start()

    # --- signals -----------------------------------------------------------------------------------
    def _connect(self) -> None:
        bridge = self.control.bridge
        bridge.frame_ready.connect(self._paint_latest)
        bridge.state_changed.connect(self._on_state)
        bridge.info_ready.connect(self._on_info)
        bridge.explained.connect(self._on_explained)
        bridge.token.connect(self.explanations.add_token)
        bridge.stats.connect(self._on_stats)
        self.control.running_changed.connect(self._on_running)
        self.control.recording_changed.connect(self._on_recording)
        self.video.face_clicked.connect(self.select_face)

    def _paint_latest(self) -> None:
        taken = self.control.bridge.take(self.selected)
        if taken is None:
            return
        frame, result, selected = taken
        if selected != self.selected:
            self.select_face(selected)
        self.video.show_frame(frame, result)
        self.timeline.add(result)
        self.bars.set_faces(result.faces, self.selected)
        self.actions.set_face(self.bars.selected_face())

    def select_face(self, person_id: int) -> None:
        self.selected = person_id
        self.video.selected = person_id
        self.timeline.select(person_id)

    def _on_state(self, state: SessionState) -> None:
        if state.phase == "recording_failed":
            self.status.showMessage(f"Recording stopped: {state.detail}", 30000)
            return
        if state.phase == "audio_lost":
            self.status.set_audio("audio: lost", state.detail)
            self.status.showMessage(f"Audio {state.detail}", 30000)
            return
        self.video.set_message(state_message(state, self.control.config().is_camera))

    def _on_info(self, info: SessionDescription) -> None:
        self.info = info
        self.status.show_info(info)
        audio = info.audio
        self.status.set_audio("audio: " + ("on" if audio.startswith("microphone") else "off"), audio)
        if info.explainer_warning:
            self.status.showMessage(info.explainer_warning, 30000)

    def _on_explained(self, item) -> None:
        in_view = any(face.person_id == item.explanation.track_id for face in self.video.faces)
        self.explanations.add_explanation(item, in_view=in_view)
        self.timeline.mark(item.explanation.track_id, item.explanation.window[1])

    def _on_stats(self, stats) -> None:
        self.status.show_stats(stats, self.video.painted_fps())
        self.explanations.set_state(stats.explainer)

    def _on_running(self, running: bool) -> None:
        """A session that starts or ends leaves a clean slate: no box, bar, curve, rate or half sentence of
        the last one stays (its track numbers would name other people in the next)."""
        self.start_action.setText("Stop" if running else "Start")
        self.selected = None
        self.video.selected = None
        stopped = NO_CAMERA if self._no_camera else state_message(SessionState(SessionPhase.STOPPED), False)
        self.video.clear("Starting…" if running else stopped)
        self.start_action.setEnabled(running or not self._no_camera)
        self.bars.set_faces((), None)
        self.actions.set_face(None)
        self.timeline.clear()
        self.status.clear_stats("starting" if running else "not running")
        if running:
            if self.explanations.count():
                source = self.prefs.source
                name = f"camera {source}" if source.isdigit() else Path(source).name
                self.explanations.new_session(f"new session: {name}, {time.strftime('%H:%M')}")
        else:
            self.explanations.set_state("off")
            self.explanations.live.setText("")

    def _on_recording(self, on: bool) -> None:
        if self.record_action.isChecked() != on:
            self.record_action.setChecked(on)

    def _tick(self) -> None:
        self.timeline.refresh()

    def _set_fullscreen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    def open_last_report(self) -> None:
        report = self.control.last_report()
        if report is None:
            self.status.showMessage(
                "No report yet: record a session (R); its report is written when recording stops", 10000
            )
            return
        self.status.showMessage(f"Opening {report} with the desktop's program for HTML files", 10000)
        self.report_opener.open(report)

    def open_settings(self) -> None:
        from app.gui.settings_dialog import SettingsDialog
        from app.kiosk_lockout import KioskLockout

        lockout = KioskLockout(self.store, self.prefs.kiosk_pin_hash) if self.prefs.kiosk_pin_hash else None
        dialog = SettingsDialog(self.prefs, self, lockout=lockout)
        if dialog.exec():
            self.prefs = dialog.preferences()
            self.control.prefs = self.prefs
            self.store.save(self.prefs)
            self.status.showMessage(f"Settings saved to {self.store.path}; they apply from the next Start.", 8000)

    def shutdown(self) -> None:
        """SIGTERM or SIGINT: the session and its recording close as `stopped`, then the window."""
        self.control.stop(status="stopped")
        self.close()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.control.stop()
        self.store.save_geometry("main", self.saveGeometry())
        self._timer.stop()
        self.timeline.close()  # its plot is torn down while everything it draws still exists
        super().closeEvent(event)
