"""ExplanationPanel: the explainer's answer as it streams, then each explanation with its trigger."""

from __future__ import annotations

import json

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.gui.palette import emotion_color
from app.gui.plain_words import trigger_words
from engines.contracts import Explained

_FIELD = '"explanation": "'


def streamed_sentence(raw: str) -> str:
    """The explanation sentence so far, out of the JSON the model is still writing."""
    start = raw.find(_FIELD)
    if start < 0:
        return ""
    text = raw[start + len(_FIELD) :]
    end = text.find('"}')
    if end >= 0:
        text = text[:end]
    try:
        return json.loads(f'"{text.rstrip(chr(92))}"')
    except ValueError:
        return text.replace('\\"', '"')


class ExplanationPanel(QWidget):
    def __init__(self, text_scale: float = 1.0, history: int = 200, parent: QWidget | None = None):
        super().__init__(parent)
        self.history_size = history
        self.title = QLabel("Explanations")
        self.title.setStyleSheet(f"font-weight: bold; font-size: {int(11 * text_scale)}pt;")
        self.state = QLabel("explainer: off")
        self.state.setStyleSheet("color: #9aa0a6;")
        self.live = QLabel("")
        self.live.setWordWrap(True)
        self.live.setTextFormat(Qt.TextFormat.PlainText)
        self.live.setMinimumHeight(int(48 * text_scale))
        self.live.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.live.setStyleSheet(
            f"background: #23262e; border-radius: 6px; padding: 6px; font-size: {int(11 * text_scale)}pt;"
        )
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setStyleSheet(f"font-size: {int(10 * text_scale)}pt;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.title, self.state, self.live):
            layout.addWidget(w)
        layout.addWidget(self.list, 1)
        self._raw: dict[tuple[int, tuple[float, float]], str] = {}
        self.streamed_pieces = 0

    def set_state(self, text: str) -> None:
        self.state.setText(f"explainer: {text}")

    def add_token(self, track_id: int, window: tuple[float, float], piece: str) -> None:
        key = (track_id, tuple(window))
        self._raw[key] = self._raw.get(key, "") + piece
        self.streamed_pieces += 1
        sentence = streamed_sentence(self._raw[key])
        self.live.setText(f"#{track_id}, {window[0]:.0f}-{window[1]:.0f} s: {sentence or '…'}")

    def add_explanation(self, item: Explained, in_view: bool = True) -> None:
        """`in_view`: whether the face is still on screen; an explanation of one that left says so."""
        x, evidence = item.explanation, item.evidence
        self._raw.pop((x.track_id, tuple(x.window)), None)
        label = "uncertain" if x.label == "uncertain" else f"{x.label} {x.confidence:.0%}"
        agree = "" if x.label in (x.fast_label, "uncertain") else f" (fast path: {x.fast_label})"
        face = f"face #{x.track_id}" + ("" if in_view else ", no longer in view")
        head = f"{x.window[0]:.0f}-{x.window[1]:.0f} s · {face} · {trigger_words(x.trigger)} · {label}{agree}"
        self.live.setText(f"#{x.track_id}{'' if in_view else ', no longer in view'}: {x.text}")
        item_widget = QListWidgetItem(f"{head}\n{x.text}")
        item_widget.setForeground(QColor("#e8eaed"))
        item_widget.setData(Qt.ItemDataRole.UserRole, x)
        tip = [f"source: {x.source}" + (f" ({x.model})" if x.model else ""), f"cues: {', '.join(x.cues) or 'none'}"]
        if x.first_token_ms is not None:
            tip.append(f"first token {x.first_token_ms:.0f} ms, whole answer {x.latency_ms:.0f} ms, {x.tokens} tokens")
        if x.rejected:
            tip.append(f"model's answer not used: {x.rejected}")
        tip.append("evidence: " + "; ".join(f.text for f in evidence.facts))
        item_widget.setToolTip("\n".join(tip))
        marker = emotion_color(x.label if x.label != "uncertain" else x.fast_label)
        item_widget.setBackground(QColor(marker.red(), marker.green(), marker.blue(), 28))
        self.list.insertItem(0, item_widget)
        while self.list.count() > self.history_size:
            self.list.takeItem(self.list.count() - 1)

    def new_session(self, line: str) -> None:
        """A line across the list between one session's explanations and the next's; the live answer goes."""
        self._raw.clear()
        self.live.setText("")
        if self.list.count() and self.list.item(0).data(Qt.ItemDataRole.UserRole) == "separator":
            self.list.takeItem(0)  # two boundaries with nothing between: the newer says it
        separator = QListWidgetItem(f"──── {line} ────")
        separator.setData(Qt.ItemDataRole.UserRole, "separator")
        separator.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        separator.setForeground(QColor("#9aa0a6"))
        separator.setFlags(Qt.ItemFlag.NoItemFlags)
        self.list.insertItem(0, separator)

    def count(self) -> int:
        """Explanations in the list (separators are not)."""
        return sum(self.list.item(i).data(Qt.ItemDataRole.UserRole) != "separator" for i in range(self.list.count()))
