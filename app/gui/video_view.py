"""VideoView: the newest frame with each face's box, track ID and label, and the session's state over it."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from app.gui.palette import BACKGROUND, UNCERTAIN_COLOR, emotion_color
from engines.contracts import FaceObservation, Frame, FrameResult


def face_caption(face: FaceObservation) -> str:
    """`#3 happy 82%`, `#3 uncertain: neutral / sad` when the fast path is unsure, `#3 sad 62% (actions: happy)` when
    the facial actions contradict the label."""
    if face.uncertain:
        order = np.argsort(face.probs)[::-1]
        from engines.contracts import EMOTIONS

        return f"{_who(face)} uncertain: {EMOTIONS[order[0]]} / {EMOTIONS[order[1]]}"
    caption = f"{_who(face)} {face.label} {face.probs.max():.0%}"
    return f"{caption} (actions: {face.action_label})" if face.disagrees else caption


def _who(face: FaceObservation) -> str:
    """The person's number; `#?` for the moment it takes to tell whether a face that came back is someone seen
    before."""
    return f"#{face.person_id}" if face.person_id is not None else "#?"


class VideoView(QWidget):
    face_clicked = pyqtSignal(int)

    def __init__(self, text_scale: float = 1.0, parent: QWidget | None = None):
        super().__init__(parent)
        self.text_scale = text_scale
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # keeps the QImage's memory alive
        self._result: FrameResult | None = None
        self._message = "Press Start (Space) to begin"
        self.selected: int | None = None
        self.painted = 0  # distinct frames that reached the screen (a repaint of the same frame is not counted)
        self._fresh = False
        self.on_painted = None  # called with the frame's capture clock reading when a new frame reaches the screen
        self._paint_times: deque[float] = deque(maxlen=120)

    def show_frame(self, frame: Frame, result: FrameResult) -> None:
        image = frame.image
        if not image.flags["C_CONTIGUOUS"]:
            image = np.ascontiguousarray(image)
        h, w = image.shape[:2]
        self._pixels = image
        self._image = QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888)
        self._result = result
        self._fresh = True
        self.update()

    def clear(self, message: str | None) -> None:
        """No picture and no boxes (a session stopped or switched): only `message`."""
        self._image = self._pixels = self._result = None
        self.set_message(message)

    def set_message(self, text: str | None) -> None:
        """A line over the picture (starting, camera lost, stopped); None clears it."""
        self._message = text
        self.update()

    @property
    def message(self) -> str | None:
        return self._message

    @property
    def faces(self) -> tuple[FaceObservation, ...]:
        return self._result.faces if self._result else ()

    def painted_fps(self) -> float:
        """Frames painted per second over the last two seconds."""
        now = time.perf_counter()
        recent = [t for t in self._paint_times if now - t <= 2.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def _geometry(self) -> tuple[float, float, float]:
        assert self._image is not None
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        return scale, (self.width() - iw * scale) / 2, (self.height() - ih * scale) / 2

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(BACKGROUND))
        if self._image is not None:
            scale, ox, oy = self._geometry()
            target = QRectF(ox, oy, self._image.width() * scale, self._image.height() * scale)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0)
            painter.drawImage(target, self._image)
            self._paint_faces(painter, scale, ox, oy)
            if self._fresh:
                self._fresh = False
                self.painted += 1
                self._paint_times.append(time.perf_counter())
                if self.on_painted is not None:
                    self.on_painted(self._result.captured)
        if self._message:
            self._paint_message(painter)
        painter.end()

    def _paint_faces(self, painter: QPainter, scale: float, ox: float, oy: float) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(max(9.0, 11.0 * self.text_scale))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for face in self.faces:
            x1, y1, x2, y2 = face.box
            rect = QRectF(ox + x1 * scale, oy + y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale)
            color = QColor(UNCERTAIN_COLOR) if face.uncertain else emotion_color(face.label)
            pen = QPen(color, (4 if face.person_id == self.selected else 2) * max(1.0, self.text_scale * 0.8))
            if face.uncertain:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
            caption = face_caption(face)
            tw, th = metrics.horizontalAdvance(caption) + 10, metrics.height() + 4
            top = rect.top() - th if rect.top() - th >= 0 else rect.bottom()
            left = min(max(rect.left(), 0.0), max(0.0, self.width() - tw))  # keep the caption on screen
            label_rect = QRectF(left, top, tw, th)
            painter.fillRect(label_rect, QColor(0, 0, 0, 170))
            painter.setPen(color)
            painter.drawText(label_rect, Qt.AlignmentFlag.AlignCenter, caption)

    def _paint_message(self, painter: QPainter) -> None:
        """The first line as a headline, the rest (the technical reason) smaller beneath it."""
        headline, _, detail = self._message.partition("\n")
        big, small = QFont(self.font()), QFont(self.font())
        big.setPointSizeF(14.0 * self.text_scale)
        big.setBold(True)
        small.setPointSizeF(max(9.0, 7.0 * self.text_scale))
        area = self.rect().adjusted(60, 0, -60, 0)
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap
        painter.setFont(big)
        head = QRectF(painter.fontMetrics().boundingRect(area, flags, headline))
        painter.setFont(small)
        body = QRectF(painter.fontMetrics().boundingRect(area, flags, detail)) if detail else QRectF()
        width = max(head.width(), body.width()) + 40
        box = QRectF(0, 0, width, head.height() + (body.height() + 8 if detail else 0) + 24)
        box.moveCenter(QPointF(self.rect().center()))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 190))
        painter.drawRoundedRect(box, 10, 10)
        painter.setPen(QColor("#f5f5f5"))
        painter.setFont(big)
        painter.drawText(QRectF(box.left(), box.top() + 12, box.width(), head.height()), flags, headline)
        if detail:
            painter.setPen(QColor("#b8bec8"))
            painter.setFont(small)
            painter.drawText(
                QRectF(box.left() + 20, box.top() + 20 + head.height(), box.width() - 40, body.height()), flags, detail
            )

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._image is None:
            return
        scale, ox, oy = self._geometry()
        x = (event.position().x() - ox) / scale
        y = (event.position().y() - oy) / scale
        for face in self.faces:
            x1, y1, x2, y2 = face.box
            if x1 <= x <= x2 and y1 <= y <= y2 and face.person_id is not None:
                self.face_clicked.emit(face.person_id)
                return
