"""ActionBars: the selected face's facial actions, each a bar from its baseline, and the actions' own reading.

A bar grows right when the action moved in its named direction and left when the
other way, and is full at twice the size at which the EMFACS reading counts the
action as clearly moved; the number beside it is the measured value in its unit.
Under the bars, the emotion the actions show, and a warning line when they
contradict the classifier's label (which stays the label).
"""

from __future__ import annotations

from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from engines.contracts import FaceObservation
from engines.fast.action_prototypes import CLEAR, unit_values

# What each bar shows, in plain words; values are percent of the eye spacing (the eyes: of their usual opening).
ROWS: tuple[tuple[str, str], ...] = (
    ("inner_brow_raise", "inner brows up"),
    ("outer_brow_raise", "outer brows up"),
    ("brow_lowering", "brows down, together"),
    ("eye_opening", "eyes wider"),
    ("lid_tightening", "lower lids up"),
    ("cheek_raise", "cheeks up"),
    ("lip_corner_pull", "lip corners up"),
    ("lip_stretch", "mouth wider"),
    ("jaw_drop", "jaw dropped"),
    ("lip_press", "lips pressed"),
)
DISAGREE_COLOR = "#ffb74d"


def action_summary(face: FaceObservation | None) -> str:
    """The line under the bars: what the actions show, or why there are none yet."""
    if face is None:
        return ""
    if face.face_score is None:
        return "Facial actions: off (--no-mesh)"
    if face.actions is None:
        return "Facial actions: learning this face's neutral (1.5 s), or head turned too far"
    a = face.actions
    extra = [f"{a.blink_rate:.0f} blinks/min"] if a.blink_rate is not None else []
    if face.disagrees:
        return f"Actions show {face.action_label}, not {face.label}: the label is the classifier's"
    shown = f"Actions show {face.action_label}" if face.action_label else "Actions show no clear expression"
    return "; ".join([shown, *extra])


class ActionBars(QWidget):
    ROW = 17

    def __init__(self, text_scale: float = 1.0, parent: QWidget | None = None):
        super().__init__(parent)
        self.text_scale = text_scale
        self.face: FaceObservation | None = None
        # it gives way first on a short screen: the rows that fit are drawn, the summary line always
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(int(self.ROW * text_scale * 4))
        self.setToolTip(
            "Facial actions of the selected face, against its own neutral: % is percent of the eye spacing "
            "(eyes: of their usual opening). Geometric proxies of FACS units, measured on the face mesh; "
            "bright bars have clearly moved. docs/facial-actions.md says how each is measured."
        )

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(300, int(self.ROW * self.text_scale * (len(ROWS) + 2)) + 8)

    def set_face(self, face: FaceObservation | None) -> None:
        self.face = face
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        font = QFont(self.font())
        font.setPointSizeF(8.5 * self.text_scale)
        painter.setFont(font)
        text = self.palette().windowText().color()
        row = self.ROW * self.text_scale
        name_w, value_w = 130 * self.text_scale, 70 * self.text_scale
        width = self.width() - 8
        span = max(10.0, width - name_w - value_w)
        centre = 4 + name_w + span / 2
        face = self.face
        values = unit_values(face.actions) if face is not None and face.actions is not None else None
        fit = max(0, min(len(ROWS), int(self.height() / row) - 2))
        for i, (key, words) in enumerate(ROWS[:fit]):
            y = row * i
            painter.setPen(text)
            painter.drawText(QRectF(4, y, name_w, row), Qt.AlignmentFlag.AlignVCenter, words)
            painter.fillRect(QRectF(4 + name_w, y + row * 0.25, span, row * 0.5), QColor(255, 255, 255, 18))
            painter.fillRect(QRectF(centre, y + row * 0.1, 1, row * 0.8), QColor(255, 255, 255, 90))
            if values is None:
                continue
            v = values[key]
            share = max(-1.0, min(1.0, v / (2 * CLEAR[key])))
            clear = abs(v) >= CLEAR[key]
            color = QColor("#4fc3f7") if clear else QColor(120, 160, 190)
            left = centre if share >= 0 else centre + share * span / 2
            painter.fillRect(QRectF(left, y + row * 0.25, abs(share) * span / 2, row * 0.5), color)
            painter.drawText(
                QRectF(width - value_w, y, value_w, row),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                f"{v:+.1f}%",
            )
        y = row * fit
        summary = action_summary(face)
        painter.setPen(QColor(DISAGREE_COLOR) if face is not None and face.disagrees else text)
        painter.drawText(
            QRectF(4, y, width, row * 2),
            Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap,
            summary,
        )
        painter.end()
