"""SettingsDialog: the fast path, the explainer's gate, recording and privacy, and the kiosk's PIN."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.preferences import Preferences, data_home
from app.kiosk_lockout import KioskLockout, wait_words
from app.kiosk_pin import PinError, check_new_pin, hash_pin, verify_pin

# field: (group, label, (min, max, step) for numbers, what it means)
FIELDS = {
    "detect_every": ("Fast path", "Look for new faces every N frames", (1, 30, 1), "in between, faces are followed"),
    "smoothing_s": ("Fast path", "Smoothing (seconds)", (0.0, 5.0, 0.1), "how slowly a label follows the face"),
    "loop_file": ("Fast path", "Play a video file in a loop", None, "as a camera would go on"),
    "explainer": ("Explainer", "Explain in words (a local model, in its own process)", None, ""),
    "llm": ("Explainer", "Model", None, "a name or a .gguf file"),
    "gate_max_margin": (
        "Explainer",
        "Explain when the top two expressions are within",
        (0.0, 1.0, 0.01),
        "of each other (0 to 1: the gap between the two likeliest)",
    ),
    "gate_min_entropy": (
        "Explainer",
        "Explain when the expressions are at least this mixed",
        (0.0, 1.0, 0.01),
        "0: one clear expression, 1: all seven equally likely",
    ),
    "gate_stale_s": ("Explainer", "Explain a face again after (seconds)", (1.0, 600.0, 1.0), ""),
    "gate_max_per_minute": ("Explainer", "At most this many explanations a minute", (1, 120, 1), ""),
    "record_root": ("Recording and privacy", "Session folders go in", None, ""),
    "record_on_start": ("Recording and privacy", "Record every session from its start", None, ""),
    "key_frames": ("Recording and privacy", "Save key frames (face crops) while recording", None, ""),
    "key_frames_every_s": ("Recording and privacy", "One key frame per face every (seconds)", (1.0, 600.0, 1.0), ""),
    "blur_faces": ("Recording and privacy", "Blur the face in saved key frames", None, ""),
    "recognise_returning": (
        "Recording and privacy",
        "Recognise people who come back",
        None,
        "in memory, for this session only; off: each return is someone new",
    ),
    "kiosk_record": ("Kiosk", "Keep the kiosk's logs (numbers only, a folder a day)", None, ""),
    "kiosk_keep_days": ("Kiosk", "Delete kiosk logs older than (days)", (1, 3650, 1), ""),
    "kiosk_show_explanations": ("Kiosk", "Show explanations on the kiosk screen", None, "one plain sentence"),
    "kiosk_show_face_numbers": ("Kiosk", "Name faces by their number on the kiosk", None, "e.g. Face #3"),
}


def default_text(name: str) -> str:
    """A setting's default as the dialog shows it."""
    value = getattr(Preferences(), name)
    if name == "llm":
        return "emolens-explainer when trained here, else smollm2-135m"
    if name == "record_root":
        return str(data_home() / "sessions")
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


class SettingsDialog(QDialog):
    def __init__(self, prefs: Preferences, parent=None, lockout: KioskLockout | None = None):
        """`lockout`: the kiosk's count of wrong PINs, which a wrong current PIN here adds to."""
        super().__init__(parent)
        self._lockout = lockout
        self.setWindowTitle("emolens settings")
        self._prefs = prefs
        self.editors: dict[str, object] = {}
        layout = QVBoxLayout(self)
        groups: dict[str, QFormLayout] = {}
        for name, (group, label, limits, meaning) in FIELDS.items():
            if group not in groups:
                box = QGroupBox(group)
                groups[group] = QFormLayout(box)
                layout.addWidget(box)
            editor = self._editor(getattr(prefs, name), limits)
            self.editors[name] = editor
            hint = f"default: {default_text(name)}" + (f"; {meaning}" if meaning else "")
            editor.setToolTip(hint)
            groups[group].addRow(label, self._with_hint(name, editor, hint))
        privacy = QLabel(  # broken by hand: a word-wrapped label in a form is sized for one line, and clipped
            "Recordings hold numbers only (probabilities, boxes, cues, explanations) unless you turn on key frames "
            "above;\nno video is ever saved, face descriptors stay in memory, and nothing leaves this computer."
        )
        groups["Recording and privacy"].addRow(privacy)
        self.current_pin = QLineEdit(echoMode=QLineEdit.EchoMode.Password, placeholderText="needed to change it")
        self.new_pin = QLineEdit(echoMode=QLineEdit.EchoMode.Password, placeholderText="4-12 digits; empty: unchanged")
        self.repeat_pin = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        if prefs.kiosk_pin_hash:
            groups["Kiosk"].addRow("Current kiosk PIN", self.current_pin)
        groups["Kiosk"].addRow("New kiosk PIN", self.new_pin)
        groups["Kiosk"].addRow("Repeat the PIN", self.repeat_pin)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff6b6b;")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _with_hint(self, name: str, editor, hint: str) -> QWidget:
        """The editor, a picker for a file or a folder, and the default in grey beside it."""
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(editor, 1)
        if name in ("llm", "record_root"):
            editor.setPlaceholderText(f"empty: {default_text(name)}")
            pick = QPushButton("Choose…")
            pick.clicked.connect(lambda: self._pick(name))
            line.addWidget(pick)
        else:
            note = QLabel(hint)
            note.setStyleSheet("color: #9aa0a6;")
            line.addWidget(note)
        return row

    def _pick(self, name: str) -> None:
        editor = self.editors[name]
        start = editor.text() or (str(data_home() / "sessions") if name == "record_root" else str(Path.home()))
        if name == "record_root":
            chosen = QFileDialog.getExistingDirectory(self, "Session folders go in", start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "The explainer's model", start, "GGUF models (*.gguf)")
        if chosen:
            editor.setText(chosen)

    @staticmethod
    def _editor(value, limits):
        if isinstance(value, bool):
            box = QCheckBox()
            box.setChecked(value)
            return box
        if isinstance(value, int):
            spin = QSpinBox()
            spin.setRange(limits[0], limits[1])
            spin.setValue(value)
            return spin
        if isinstance(value, float):
            spin = QDoubleSpinBox()
            spin.setRange(limits[0], limits[1])
            spin.setSingleStep(limits[2])
            spin.setDecimals(2)
            spin.setValue(value)
            return spin
        return QLineEdit(str(value))

    def accept(self) -> None:
        pin, again = self.new_pin.text(), self.repeat_pin.text()
        if pin or again:
            try:
                check_new_pin(pin)
            except PinError as exc:
                self.error.setText(str(exc))
                return
            if pin != again:
                self.error.setText("the two PINs differ")
                return
            if self._prefs.kiosk_pin_hash and not self._current_pin_right():
                return
        super().accept()

    def _current_pin_right(self) -> bool:
        """The current PIN, checked and counted as at every other PIN prompt of the kiosk."""
        lockout = self._lockout
        if lockout is not None and (left := lockout.remaining_s()) > 0:
            self.error.setText(f"Too many wrong PINs: the PIN can be changed again in {wait_words(left)}")
            return False
        right = verify_pin(self.current_pin.text(), self._prefs.kiosk_pin_hash)
        self.current_pin.clear()
        if right:
            if lockout is not None:
                lockout.right()
            return True
        lock = lockout.wrong() if lockout is not None else 0
        forgot = "forgotten? emolens kiosk --forget-pin"
        self.error.setText(
            f"The current PIN is wrong; the PIN was not changed ({forgot})"
            + (f"; PIN prompts locked for {wait_words(lock)}" if lock else "")
        )
        return False

    def preferences(self) -> Preferences:
        values = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QCheckBox):
                values[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                values[name] = editor.value()
            else:
                values[name] = editor.text().strip()
        if self.new_pin.text():
            values["kiosk_pin_hash"] = hash_pin(self.new_pin.text())
        return replace(self._prefs, **values)
