"""KioskWindow: full screen, no window controls, large text; exit and settings only behind the PIN.

It starts the session itself, shows "camera lost, retrying" rather than an
error when the camera goes, keeps numbers-only logs in a folder a day, and
stores no frame or face.
"""

from __future__ import annotations

import time

from PyQt6.QtCore import QEvent, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.gui.emotion_bars import EmotionBars
from app.gui.main_window import state_message
from app.gui.plain_words import kiosk_sentence
from app.gui.preferences import Preferences, PreferencesStore
from app.gui.session_control import SessionControl
from app.gui.status_line import models_line
from app.gui.video_view import VideoView
from app.kiosk_lockout import KioskLockout, wait_words
from app.kiosk_pin import PinError, verify_pin
from engines.contracts import SessionDescription


class PinDialog(QDialog):
    """Asks for the PIN. Wrong answers count in the kiosk's one `KioskLockout`, which every prompt shares and a
    restart keeps: Cancel and a new prompt change nothing; while locked, the field takes nothing and counts down."""

    unlocked = pyqtSignal()

    def __init__(self, stored_hash: str, lockout: KioskLockout, purpose: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("emolens kiosk: enter the PIN")
        self.setWindowFlags(
            Qt.WindowType.Dialog | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        )
        self.setModal(True)
        self._hash = stored_hash
        self.lockout = lockout
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Enter the kiosk PIN to {purpose}"))
        self.pin = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.pin.setMaxLength(12)
        layout.addWidget(self.pin)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff6b6b;")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.setMinimumWidth(560)
        buttons.accepted.connect(self.try_pin)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setStyleSheet("QDialog { border: 2px solid #6b7280; } QWidget { font-size: 16pt; }")  # no title bar
        self.message.ensurePolished()  # its font is the style sheet's from here
        self.message.setMinimumHeight(2 * self.message.fontMetrics().lineSpacing() + 4)  # room for two lines
        self._countdown = QTimer(self, interval=1000)
        self._countdown.timeout.connect(self._show_lock)
        self._show_lock()

    @property
    def locked(self) -> bool:
        return self.lockout.remaining_s() > 0

    def _show_lock(self) -> None:
        left = self.lockout.remaining_s()
        self.pin.setReadOnly(left > 0)  # it keeps the focus, so Return while locked says so rather than Cancel
        if left > 0:
            why = "The record of wrong PINs was changed by hand" if self.lockout.tampered else "Too many wrong PINs"
            self.message.setText(f"{why}: locked, try again in {wait_words(left)}")
            self._countdown.start()
        elif self._countdown.isActive():
            self._countdown.stop()
            self.message.setText("You can try again now")
        elif self.lockout.state.failures:  # a prompt opened after wrong PINs says how many are left
            self.message.setText(f"{self.lockout.tries_left()} more wrong PINs lock it")

    def try_pin(self) -> None:
        if self.locked:
            self._show_lock()
            return
        try:
            right = verify_pin(self.pin.text(), self._hash)
        except PinError as exc:
            self.message.setText(str(exc))
            return
        self.pin.clear()
        if right:
            self.lockout.right()
            self.accept()
            self.unlocked.emit()
            return
        if self.lockout.wrong():
            self._show_lock()
        else:
            left = self.lockout.tries_left()
            self.message.setText(f"Wrong PIN ({left} more before a lock)")


class KioskWindow(QWidget):
    TEXT_SCALE = 2.0

    def __init__(self, store: PreferencesStore, prefs: Preferences | None = None, clock=time.time):
        """`clock`: wall-clock seconds, for the PIN lockout (a test moves it on)."""
        super().__init__()
        self._clock = clock
        self.store = store
        self.prefs = prefs or store.load()
        if not self.prefs.kiosk_pin_hash:
            raise PinError("no kiosk PIN is set; set one first: emolens kiosk --set-pin")
        self.lockout = KioskLockout(store, self.prefs.kiosk_pin_hash, clock)
        self.setWindowTitle("emolens kiosk")
        self.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.control = SessionControl(self.prefs, kiosk=True, parent=self)
        self.video = VideoView(text_scale=self.TEXT_SCALE)
        self.video.set_message("Starting…")
        self.bars = EmotionBars(text_scale=1.4)
        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setMinimumHeight(90)
        self.banner.setStyleSheet("font-size: 22pt; padding: 10px 24px; background: #1e2128; color: #f0f0f0;")
        self.banner.setVisible(self.prefs.kiosk_show_explanations)
        self.footer = QLabel("")
        self.footer.setStyleSheet("font-size: 11pt; color: #8b929c; padding: 2px 24px;")
        self.footer.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.bars.setFixedWidth(420)
        picture = QHBoxLayout()
        picture.setContentsMargins(0, 0, 0, 0)
        picture.addWidget(self.video, 1)
        side = QVBoxLayout()
        side.setContentsMargins(16, 16, 16, 16)
        side.addWidget(self.bars)
        side.addStretch(1)
        picture.addLayout(side)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(picture, 1)
        layout.addWidget(self.banner)
        layout.addWidget(self.footer)
        self.unlocked = False
        self.pin_dialog: PinDialog | None = None
        self.selected: int | None = None
        self._info: SessionDescription | None = None
        for keys in ("Escape", "Ctrl+Q", "Alt+F4"):
            QShortcut(QKeySequence(keys), self, activated=self.request_exit)
        QShortcut(QKeySequence("Ctrl+,"), self, activated=self.request_settings)
        bridge = self.control.bridge
        bridge.frame_ready.connect(self._paint_latest)
        bridge.state_changed.connect(self._on_state)
        bridge.explained.connect(self._on_explained)
        bridge.stats.connect(self._on_stats)
        bridge.info_ready.connect(self._on_info)

    def start(self) -> None:
        """Full screen, and the session starts: no one is there to press Start."""
        screen = self.screen() or QApplication.primaryScreen()
        self.setGeometry(screen.geometry())  # without a window manager, full screen alone does not resize
        self.showFullScreen()
        QTimer.singleShot(0, self.control.start)

    # --- the locked doors ----------------------------------------------------------------------------
    def _ask_pin(self, purpose: str, then) -> None:
        if self.pin_dialog is not None and self.pin_dialog.isVisible():
            return
        self.pin_dialog = PinDialog(self.prefs.kiosk_pin_hash, self.lockout, purpose, self)
        self.pin_dialog.unlocked.connect(then)
        self.pin_dialog.open()

    def request_exit(self) -> None:
        self._ask_pin("close the kiosk", self._exit)

    def request_settings(self) -> None:
        self._ask_pin("change the settings", self._settings)

    def _exit(self) -> None:
        self.unlocked = True
        self.close()

    def shutdown(self) -> None:
        """SIGTERM or SIGINT: the operator's service manager stops the kiosk; no PIN is asked. The PIN guards
        the screen against passers-by, who send no signals."""
        if self.pin_dialog is not None:
            self.pin_dialog.reject()
        self.control.stop(status="stopped")
        self._exit()

    def _settings(self) -> None:
        from app.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.prefs, self, lockout=self.lockout)
        if dialog.exec():
            self.prefs = dialog.preferences()
            self.store.save(self.prefs)
            self.lockout = KioskLockout(self.store, self.prefs.kiosk_pin_hash, self._clock)  # the new hash signs it
            self.control.stop()
            self.control.prefs = self.prefs
            self.control.recording = self.prefs.kiosk_record
            self.banner.setVisible(self.prefs.kiosk_show_explanations)
            self.control.start()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """A window manager's menu (Alt+Space in openbox) can minimise any window; the kiosk comes straight back,
        so a passer-by never reaches the desktop behind it."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.WindowStateChange and self.isMinimized() and not self.unlocked:
            QTimer.singleShot(0, self._back_to_full_screen)

    def _back_to_full_screen(self) -> None:
        if not self.unlocked:
            self.showFullScreen()
            self.raise_()
            self.activateWindow()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self.unlocked:
            event.ignore()
            self.request_exit()
            return
        self.control.stop()
        super().closeEvent(event)

    # --- painting ------------------------------------------------------------------------------------
    def _paint_latest(self) -> None:
        taken = self.control.bridge.take(self.selected)
        if taken is None:
            return
        frame, result, self.selected = taken
        self.video.selected = self.selected
        self.video.show_frame(frame, result)
        self.bars.set_faces(result.faces, self.selected)

    def _on_state(self, state) -> None:
        """Calm words for passers-by: no file names, model names or error details on the kiosk's screen
        (the operator finds them in the day's log and in `emolens kiosk`'s terminal)."""
        if state.phase == "recording_failed":
            self.footer.setText(f"logging stopped: {state.detail}")
            return
        camera = self.control.config().is_camera
        what = "camera" if camera else "video"
        messages = {
            "starting": "Starting…",
            "waiting": f"Waiting for the {what}…",
            "retrying": f"The {what} stopped; waiting for it to come back…",
            "stopped": "Stopped",
        }
        if state.phase == "starting":
            self.video.set_message(messages["starting"])
        elif state.phase in messages:  # nothing of what was on screen stays: a clean slate, one calm line
            self.video.clear(messages[state.phase])
            self.bars.set_faces((), None)
            self.banner.setText("")
        else:
            self.video.set_message(state_message(state, camera))

    def _on_info(self, info: SessionDescription) -> None:
        self._info = info

    def _on_explained(self, item) -> None:
        """One plain sentence per explanation (the model's own words, with their figures, are in the log)."""
        self.banner.setText(kiosk_sentence(item.explanation, item.evidence, self.prefs.kiosk_show_face_numbers))

    def _on_stats(self, stats) -> None:
        logging = "logging numbers only" if stats.recording else "not logging"
        self.footer.setText(
            f"{stats.processed_fps:.0f} fps · {stats.faces} face{'s' * (stats.faces != 1)} · {logging} · "
            f"no images stored" + (f" · {models_line(self._info)}" if self._info else "")
        )
