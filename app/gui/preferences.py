"""Preferences: the user's settings, saved per user with QSettings (an INI file under ~/.config/emolens/)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from PyQt6.QtCore import QSettings

from engines.pipeline import AudioOptions, ExplainOptions, FastPathOptions
from engines.pipeline.options import DETECT_EVERY_WITH_MESH
from engines.slow.gate import GateSettings
from export.key_frames import KeyFrameOptions


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "emolens"


@dataclass(frozen=True)
class Preferences:
    source: str = "0"  # a camera index, or a video file
    loop_file: bool = True  # a video file starts again at its end, like a camera that goes on
    audio: bool = True  # voice cues from the microphone, with a camera
    microphone: str = ""  # "" : the system's default input
    detect_every: int = DETECT_EVERY_WITH_MESH  # the window always runs the mesh, which follows faces between
    smoothing_s: float = 0.5
    explainer: bool = True
    llm: str = ""  # "": the trained explainer when there is one, else the packaged default
    gate_max_margin: float = 0.15
    gate_min_entropy: float = 0.8
    gate_stale_s: float = 10.0
    gate_max_per_minute: int = 12
    record_root: str = ""  # "" : data_home()/sessions
    record_on_start: bool = False
    key_frames: bool = False  # save each face's most expressive moment as a JPEG crop (off: numbers only)
    key_frames_every_s: float = 10.0
    blur_faces: bool = False  # pixelate the face in every saved image
    recognise_returning: bool = True  # a face that comes back is the person it was (descriptors in memory only)
    kiosk_record: bool = True  # the kiosk keeps numbers-only logs, a folder a day
    kiosk_keep_days: int = 30
    kiosk_show_explanations: bool = True
    kiosk_show_face_numbers: bool = False  # the banner names a face by its person number (for an operator)
    kiosk_pin_hash: str = ""  # pbkdf2 hash, never the PIN

    def fast_options(self) -> FastPathOptions:
        return FastPathOptions(
            detect_every=self.detect_every, smoothing_s=self.smoothing_s, reid=self.recognise_returning
        )

    def explain_options(self) -> ExplainOptions | None:
        return ExplainOptions(llm=self.llm or None, gate=self.gate_settings()) if self.explainer else None

    def gate_settings(self) -> GateSettings:
        return replace(
            GateSettings(),
            max_margin=self.gate_max_margin,
            min_entropy=self.gate_min_entropy,
            stale_s=self.gate_stale_s,
            max_per_minute=self.gate_max_per_minute,
        )

    def audio_options(self) -> AudioOptions:
        return AudioOptions(enabled=self.audio, device=self.microphone or None)

    def key_frame_options(self) -> KeyFrameOptions | None:
        return KeyFrameOptions(every_s=self.key_frames_every_s, blur=self.blur_faces) if self.key_frames else None

    def recording_root(self, kiosk: bool = False) -> Path:
        root = Path(self.record_root) if self.record_root else data_home() / "sessions"
        return root / "kiosk" if kiosk else root


class PreferencesStore:
    """Reads and writes Preferences and the window geometry; `path` None: the user's own settings file."""

    def __init__(self, path: Path | None = None):
        if path is None:
            self.qsettings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "emolens", "emolens")
        else:
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)

    @property
    def path(self) -> str:
        return self.qsettings.fileName()

    def load(self) -> Preferences:
        defaults = Preferences()
        values = {}
        for f in fields(Preferences):
            default = getattr(defaults, f.name)
            raw = self.qsettings.value(f"preferences/{f.name}", default)
            try:
                if isinstance(default, bool):
                    values[f.name] = raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
                else:
                    values[f.name] = type(default)(raw)
            except (TypeError, ValueError):
                values[f.name] = default  # a hand-edited file with a bad value: the default, not a crash
        return Preferences(**values)

    def save(self, prefs: Preferences) -> None:
        if prefs.kiosk_pin_hash != str(self.qsettings.value("preferences/kiosk_pin_hash", "")):
            self.qsettings.remove("kiosk/lockout")  # a new PIN starts with a clean count (signed by the old hash)
        for f in fields(Preferences):
            self.qsettings.setValue(f"preferences/{f.name}", getattr(prefs, f.name))
        self.qsettings.sync()

    def lockout_record(self) -> str:
        """The kiosk's signed count of wrong PINs (app/kiosk_lockout.py), beside the PIN's hash."""
        self.qsettings.sync()  # another process (--set-pin) may have written it
        return str(self.qsettings.value("kiosk/lockout", "") or "")

    def save_lockout_record(self, record: str) -> None:
        self.qsettings.setValue("kiosk/lockout", record)
        self.qsettings.sync()

    def forget_pin(self) -> None:
        """The recovery for a forgotten PIN: the hash and the lockout go; the kiosk then needs a new PIN."""
        self.qsettings.remove("kiosk/lockout")
        self.qsettings.setValue("preferences/kiosk_pin_hash", "")
        self.qsettings.sync()

    def geometry(self, key: str):
        return self.qsettings.value(f"geometry/{key}")

    def save_geometry(self, key: str, data) -> None:
        self.qsettings.setValue(f"geometry/{key}", data)
        self.qsettings.sync()
