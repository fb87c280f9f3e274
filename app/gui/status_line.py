"""SessionStatusBar: capture, processed and painted frame rates, stage latency, backend and models."""

from __future__ import annotations

from PyQt6.QtWidgets import QLabel, QStatusBar

from engines.contracts import SessionDescription, SessionStats


def models_line(info: SessionDescription, short: bool = False) -> str:
    """Backend and models; `short`: the backend and the explainer only (the status bar's width)."""
    fast = info.fast_path
    parts = [info.backend.get("name", "?")]
    if not short:
        parts.append(fast.get("detector", {}).get("name", "?"))
        parts.append(fast.get("expression", {}).get("name", "?"))
    explainer = info.explainer
    if explainer is not None:
        model = explainer.get("model")
        parts.append(f"explainer {model['name']}" if model else "explainer unavailable")
    return " · ".join(parts)


class SessionStatusBar(QStatusBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rates = QLabel("not running")
        self.latency = QLabel("")
        self.models = QLabel("")
        self.audio = QLabel("audio: off")
        self.record = QLabel("")
        self.record.setStyleSheet("color: #ff5c5c; font-weight: bold;")
        for w in (self.rates, self.latency):
            self.addWidget(w)
        for w in (self.models, self.audio, self.record):
            self.addPermanentWidget(w)
        self.last: SessionStats | None = None

    def show_stats(self, stats: SessionStats, painted_fps: float) -> None:
        self.last = stats
        self.rates.setText(
            f"capture {stats.capture_fps:.0f} · processed {stats.processed_fps:.0f} · "
            f"painted {painted_fps:.0f} fps · dropped {stats.dropped}"
        )
        lat = stats.latency_ms
        self.latency.setText(
            "ms: " + " / ".join(f"{k} {lat[k]:.1f}" for k in ("detect", "track", "expression", "total") if k in lat)
        )
        self.record.setText("● REC" if stats.recording else "")
        self.record.setToolTip(stats.recording or "")

    def clear_stats(self, text: str = "not running") -> None:
        self.last = None
        self.rates.setText(text)
        self.latency.setText("")
        self.record.setText("")

    def show_info(self, info: SessionDescription) -> None:
        self.models.setText(models_line(info, short=True))
        self.models.setToolTip(models_line(info) + "\n" + info.backend.get("reason", ""))

    def set_audio(self, text: str, why: str = "") -> None:
        self.audio.setText(text)
        self.audio.setToolTip(why)
