"""EmotionBars: the selected face's seven probabilities as bars, and every face's mix as one stacked bar."""

from __future__ import annotations

from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from app.gui.palette import emotion_color
from engines.contracts import EMOTIONS, FaceObservation


class EmotionBars(QWidget):
    ROW = 20

    def __init__(self, text_scale: float = 1.0, parent: QWidget | None = None):
        super().__init__(parent)
        self.text_scale = text_scale
        self._faces: tuple[FaceObservation, ...] = ()
        self.selected: int | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        row = int(self.ROW * self.text_scale)
        return QSize(300, row * (len(EMOTIONS) + 1) + 12 + row * 6)

    def set_faces(self, faces: tuple[FaceObservation, ...], selected: int | None) -> None:
        self._faces = faces
        self.selected = selected
        self.update()

    @property
    def faces(self) -> tuple[FaceObservation, ...]:
        """The faces the bars show now."""
        return self._faces

    def selected_face(self) -> FaceObservation | None:
        return next((f for f in self._faces if f.person_id == self.selected), None)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(9.5 * self.text_scale)
        painter.setFont(font)
        text = self.palette().windowText().color()
        row = self.ROW * self.text_scale
        name_w, pct_w = 70 * self.text_scale, 44 * self.text_scale
        width = self.width() - 8
        face = self.selected_face()
        painter.setPen(text)
        title = f"Face #{face.person_id}" + (" (uncertain)" if face.uncertain else "") if face else "No face selected"
        painter.drawText(QRectF(4, 0, width, row), Qt.AlignmentFlag.AlignVCenter, title)
        for i, emotion in enumerate(EMOTIONS):
            y = row * (i + 1)
            p = float(face.probs[i]) if face else 0.0
            painter.setPen(text)
            painter.drawText(QRectF(4, y, name_w, row), Qt.AlignmentFlag.AlignVCenter, emotion)
            bar = QRectF(4 + name_w, y + row * 0.2, max(0.0, width - name_w - pct_w) * p, row * 0.6)
            painter.fillRect(
                QRectF(4 + name_w, y + row * 0.2, width - name_w - pct_w, row * 0.6), QColor(255, 255, 255, 18)
            )
            painter.fillRect(bar, emotion_color(emotion))
            painter.drawText(
                QRectF(width - pct_w, y, pct_w, row),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                f"{p:.0%}" if face else "",
            )
        y = row * (len(EMOTIONS) + 1) + 12
        for other in sorted((f for f in self._faces if f.person_id is not None), key=lambda f: f.person_id)[:6]:
            painter.setPen(text)
            painter.drawText(QRectF(4, y, name_w, row), Qt.AlignmentFlag.AlignVCenter, f"#{other.person_id}")
            x = 4 + name_w
            span = width - name_w
            for i, emotion in enumerate(EMOTIONS):
                w = span * float(other.probs[i])
                painter.fillRect(QRectF(x, y + row * 0.2, w, row * 0.6), emotion_color(emotion))
                x += w
            if other.person_id == self.selected:
                painter.setPen(QColor("#ffffff"))
                painter.drawRect(QRectF(4 + name_w, y + row * 0.2, span, row * 0.6))
            y += row
        painter.end()
