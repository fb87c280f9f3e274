"""Colours and the dark theme: one colour per emotion, the same in boxes, bars and the timeline."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

from export.emotion_colors import EMOTION_COLORS, UNCERTAIN_COLOR

__all__ = ["EMOTION_COLORS", "UNCERTAIN_COLOR", "BACKGROUND", "emotion_color", "apply_dark_theme"]

BACKGROUND = "#15171c"


def emotion_color(label: str) -> QColor:
    return QColor(EMOTION_COLORS.get(label, UNCERTAIN_COLOR))


def apply_dark_theme(app: QApplication) -> None:
    """Fusion with a dark palette: readable on a kiosk screen and in a dim room."""
    app.setStyle("Fusion")
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1e2128",
        QPalette.ColorRole.WindowText: "#e8eaed",
        QPalette.ColorRole.Base: BACKGROUND,
        QPalette.ColorRole.AlternateBase: "#23262e",
        QPalette.ColorRole.ToolTipBase: "#2b2f38",
        QPalette.ColorRole.ToolTipText: "#e8eaed",
        QPalette.ColorRole.Text: "#e8eaed",
        QPalette.ColorRole.Button: "#2b2f38",
        QPalette.ColorRole.ButtonText: "#e8eaed",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#3e8ef7",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6aa9ff",
        QPalette.ColorRole.PlaceholderText: "#7d8590",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    app.setPalette(p)
    check = (Path(__file__).parent / "assets" / "check.svg").as_posix()
    # Fusion draws an unticked box in grey on near-black: a clear edge, and a blue tick when on
    app.setStyleSheet(
        "QCheckBox::indicator { width: 16px; height: 16px; border: 1px solid #9aa0a6; border-radius: 3px;"
        " background: #15171c; }"
        "QCheckBox::indicator:hover { border-color: #e8eaed; }"
        f"QCheckBox::indicator:checked {{ background: #3e8ef7; border-color: #3e8ef7; image: url({check}); }}"
        "QCheckBox::indicator:disabled { border-color: #4b5058; }"
    )
