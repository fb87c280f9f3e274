"""Starting the app or the kiosk: a display check, the QApplication, the theme, a clean quit on Ctrl+C or SIGTERM."""

from __future__ import annotations

import getpass
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from app.gui.display_check import check_display
from engines.errors import EmolensError


def stop_on_signals(shutdown: Callable[[], object]) -> None:
    """SIGINT and SIGTERM (Ctrl-C, a service manager's stop) call `shutdown` on Qt's thread, between events."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: shutdown())


def use_pyqt_plugins() -> None:
    """Point Qt at PyQt6's own plugins. Importing OpenCV (opencv-python, which insightface pulls in) sets
    QT_QPA_PLATFORM_PLUGIN_PATH and QT_QPA_FONTDIR to its bundled Qt 5 files: Qt 6 would look for its platform
    plugin there first (and name that folder when it aborts) and take its fonts only from there. A path the user
    set to anything else stays."""
    from PyQt6.QtCore import QLibraryInfo

    cv2_dir = _cv2_dir()
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = os.environ.get(name)
        if value is not None and (not value or (cv2_dir and _is_under(value, cv2_dir))):
            del os.environ[name]
    if "QT_QPA_PLATFORM_PLUGIN_PATH" not in os.environ:
        platforms = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
        if platforms.is_dir():
            os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"] = str(platforms)


def _cv2_dir() -> str | None:
    import importlib.util

    spec = importlib.util.find_spec("cv2")
    return os.path.dirname(spec.origin) if spec is not None and spec.origin else None


def _is_under(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)
    except ValueError:
        return False


def make_application():
    from PyQt6.QtWidgets import QApplication

    if QApplication.instance() is None:
        check_display()
        use_pyqt_plugins()
    from PyQt6.QtCore import QTimer

    from app.gui.palette import apply_dark_theme

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("emolens")
    app.setOrganizationName("emolens")
    apply_dark_theme(app)
    stop_on_signals(app.closeAllWindows)  # until a window says how it stops
    pulse = QTimer(app)  # lets Python see a signal while Qt's loop runs
    pulse.timeout.connect(lambda: None)
    pulse.start(250)
    app._emolens_pulse = pulse
    return app


def run_app(
    source: str | None,
    settings: Path | None,
    start: bool,
    explain: bool | None,
    backend: str | None = None,
    llm: str | None = None,
    fullscreen: bool = False,
) -> int:
    """The window. `source`, `explain` and `llm` replace the settings' values (as a choice in the window would);
    `backend` is for this run only: the settings have no backend."""
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
    if llm is not None:
        prefs = replace(prefs, llm=llm)
    window = MainWindow(store, prefs)
    if backend is not None:
        use_backend(window.control, backend)
    stop_on_signals(window.shutdown)
    if fullscreen:
        window.fullscreen_action.setChecked(True)  # shows it full screen; F leaves, as after pressing F
    else:
        window.show()
    if start:
        window.control.start()
    return app.exec()


def use_backend(control, backend: str) -> None:
    """Every session `control` starts runs on `backend`, whatever else the settings say (they may change
    between sessions, in the settings dialog)."""
    config = control.config

    def config_with_backend():
        made = config()
        return replace(made, fast=replace(made.fast, backend=backend))

    control.config = config_with_backend


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
    stop_on_signals(window.shutdown)
    window.start()
    return app.exec()


def _ask(prompt: str) -> str:
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise EmolensError("no PIN given (input ended); nothing changed") from None


def set_kiosk_pin(settings: Path | None, pin: str | None = None, current: str | None = None) -> str:
    """Sets the kiosk PIN: the current one first when one is set (a wrong one counts in the kiosk's lockout),
    then the new one twice; or takes `current` and `pin`. Returns the settings file's path."""
    from app.gui.preferences import PreferencesStore
    from app.kiosk_lockout import KioskLockout, wait_words
    from app.kiosk_pin import check_new_pin, hash_pin, verify_pin

    if pin is None and not sys.stdin.isatty():
        raise EmolensError("--set-pin asks for the PIN on a terminal; run it in one (nothing changed)")
    store = PreferencesStore(settings)
    prefs = store.load()
    if prefs.kiosk_pin_hash:
        lockout = KioskLockout(store, prefs.kiosk_pin_hash)
        if (left := lockout.remaining_s()) > 0:
            raise EmolensError(f"too many wrong PINs: try again in {wait_words(left)} (nothing changed)")
        if not verify_pin(_ask("current kiosk PIN: ") if current is None else current, prefs.kiosk_pin_hash):
            lock = lockout.wrong()
            locked = f"; locked for {wait_words(lock)}" if lock else f"; {lockout.tries_left()} more before a lock"
            raise EmolensError(f"wrong PIN, nothing changed{locked} (forgotten? emolens kiosk --forget-pin)")
        lockout.right()
    if pin is None:
        pin = check_new_pin(_ask("new kiosk PIN (4-12 digits): "))
        if _ask("repeat it: ") != pin:
            raise EmolensError("the two PINs differ; nothing changed")
    store.save(replace(prefs, kiosk_pin_hash=hash_pin(pin)))
    return store.path


def forget_kiosk_pin(settings: Path | None) -> str:
    """The way back from a forgotten PIN: the PIN's hash and the lockout leave the settings file, for the account
    that owns it only. Returns the file's path."""
    from app.gui.preferences import PreferencesStore

    store = PreferencesStore(settings)
    path = Path(store.path)
    if not path.exists() or not store.load().kiosk_pin_hash:
        raise EmolensError(f"no kiosk PIN is set in {path}; nothing to forget (set one: emolens kiosk --set-pin)")
    if path.stat().st_uid != os.getuid():
        raise EmolensError(f"only the account that owns {path} can reset the kiosk PIN; nothing changed")
    store.forget_pin()
    return store.path
