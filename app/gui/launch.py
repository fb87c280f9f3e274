"""Starting the app or the kiosk: a display check, the QApplication, the theme, a clean quit on Ctrl+C or SIGTERM."""

from __future__ import annotations

import getpass
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from engines.errors import EmolensError


def check_display() -> None:
    """Qt aborts the process with no display; say what to do instead."""
    if os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise EmolensError(
        "no display to open a window on (DISPLAY is not set). Run it in a desktop session, "
        "or headless: emolens analyze INPUT --out DIR"
    )


def make_application():
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from app.gui.palette import apply_dark_theme

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("emolens")
    app.setOrganizationName("emolens")
    apply_dark_theme(app)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: app.closeAllWindows() or app.quit())
    pulse = QTimer(app)  # lets Python see a signal while Qt's loop runs
    pulse.timeout.connect(lambda: None)
    pulse.start(250)
    app._emolens_pulse = pulse
    return app


def run_app(source: str | None, settings: Path | None, start: bool, explain: bool | None) -> int:
    check_display()
    app = make_application()
    from app.gui.main_window import MainWindow
    from app.gui.preferences import PreferencesStore

    store = PreferencesStore(settings)
    prefs = store.load()
    if source is not None:
        prefs = replace(prefs, source=source)
    if explain is not None:
        prefs = replace(prefs, explainer=explain)
    window = MainWindow(store, prefs)
    window.show()
    if start:
        window.control.start()
    return app.exec()


def run_kiosk(source: str | None, settings: Path | None) -> int:
    check_display()
    from app.gui.preferences import PreferencesStore

    store = PreferencesStore(settings)
    prefs = store.load()
    if not prefs.kiosk_pin_hash:
        raise EmolensError(f"no kiosk PIN is set; set one first: emolens kiosk --set-pin (settings: {store.path})")
    app = make_application()
    from app.gui.kiosk_window import KioskWindow

    if source is not None:
        prefs = replace(prefs, source=source)
    window = KioskWindow(store, prefs)
    window.start()
    return app.exec()


def set_kiosk_pin(settings: Path | None, pin: str | None = None) -> str:
    """Asks for the PIN twice (or takes `pin`), stores its hash; returns the settings file's path."""
    from app.gui.preferences import PreferencesStore
    from app.kiosk_pin import check_new_pin, hash_pin

    if pin is None:
        if not sys.stdin.isatty():
            raise EmolensError("--set-pin asks for the PIN on a terminal; run it in one (nothing changed)")
        try:
            pin = getpass.getpass("new kiosk PIN (4-12 digits): ")
            check_new_pin(pin)
            if getpass.getpass("repeat it: ") != pin:
                raise EmolensError("the two PINs differ; nothing changed")
        except EOFError:
            raise EmolensError("no PIN given (input ended); nothing changed") from None
    store = PreferencesStore(settings)
    store.save(replace(store.load(), kiosk_pin_hash=hash_pin(pin)))
    return store.path
