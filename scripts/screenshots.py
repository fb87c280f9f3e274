"""Screenshots for the README, taken from the X server during real runs on the bundled clips.

Run under a virtual screen with a window manager, as a user's desktop:
    Xvfb :99 -screen 0 1920x1080x24 & DISPLAY=:99 openbox &
    DISPLAY=:99 .venv/bin/python scripts/screenshots.py docs/
Writes main-window.png (mid-session), main-window-switched.png (after switching the video),
main-window-actions.png (the astronaut of expressions.mp4 raising her brows and opening her eyes),
main-window-stopped.png, main-window-no-camera.png, settings.png, kiosk.png (with its banner),
kiosk-locked.png (five wrong PINs) and kiosk-waiting.png (a camera that is not there).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLIP = ROOT / "tests" / "data" / "group_pan.mp4"
PORTRAIT = ROOT / "tests" / "data" / "portrait_zoom.mp4"
EXPRESSIONS = ROOT / "tests" / "data" / "expressions.mp4"


def pump(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until()):
        app.processEvents()
        time.sleep(0.005)


def _eyes_wide(face) -> bool:
    a = None if face is None else face.actions
    return a is not None and (a.eye_opening_right + a.eye_opening_left) / 2 >= 15.0


def main(out: Path) -> None:
    from app.gui.kiosk_window import KioskWindow
    from app.gui.launch import make_application
    from app.gui.main_window import MainWindow
    from app.gui.preferences import Preferences, PreferencesStore
    from app.kiosk_pin import hash_pin

    out.mkdir(parents=True, exist_ok=True)
    app = make_application()
    if app.platformName() != "xcb":
        sys.exit(f"run this under Xvfb (platform is {app.platformName()}): see the docstring")
    work = Path(tempfile.mkdtemp(prefix="emolens-shots-"))
    store = PreferencesStore(work / "emolens.ini")
    prefs = Preferences(source=str(CLIP), record_root=str(work / "sessions"), kiosk_pin_hash=hash_pin("2468"))
    screen = app.primaryScreen()

    window = MainWindow(store, prefs)
    window.resize(1280, 720)
    window.move(0, 0)
    window.show()
    window.control.start()
    pump(app, 120, until=lambda: window.explanations.count() >= 3)
    pump(app, 1.5)
    grab = lambda name: screen.grabWindow(window.winId()).save(str(out / name))  # noqa: E731
    grab("main-window.png")
    print("main window:", window.explanations.count(), "explanations,", window.status.rates.text())
    window.set_source(str(PORTRAIT))
    before = window.video.painted
    pump(app, 60, until=lambda: window.video.painted > before + 60)
    grab("main-window-switched.png")
    window.set_source(str(EXPRESSIONS))  # the astronaut (person 2) raises her brows and opens her eyes at 7-9.5 s
    pump(app, 30, until=lambda: window.actions.face is not None)
    window.select_face(2)
    pump(app, 60, until=lambda: _eyes_wide(window.actions.face))
    grab("main-window-actions.png")
    print("actions:", window.actions.face.label, window.actions.face.action_label)
    window.control.stop()
    pump(app, 1.0)
    grab("main-window-stopped.png")
    window.set_source("7")  # a camera this machine does not have
    pump(app, 0.5)
    grab("main-window-no-camera.png")
    from app.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(prefs, window)
    dialog.show()
    pump(app, 1.0)
    screen.grabWindow(dialog.winId()).save(str(out / "settings.png"))
    dialog.close()
    window.close()

    kiosk = KioskWindow(store, prefs)
    kiosk.start()
    pump(app, 180, until=lambda: bool(kiosk.banner.text()) and kiosk.video.painted > 100)
    pump(app, 2.0)
    screen.grabWindow(0).save(str(out / "kiosk.png"))
    print("kiosk:", kiosk.banner.text(), "|", kiosk.footer.text())
    kiosk.request_exit()
    for _ in range(5):
        kiosk.pin_dialog.pin.setText("1111")
        kiosk.pin_dialog.try_pin()
    pump(app, 1.0)
    screen.grabWindow(0).save(str(out / "kiosk-locked.png"))
    kiosk.shutdown()

    waiting = KioskWindow(store, replace(prefs, source="7"))
    waiting.start()
    pump(app, 30, until=lambda: "Waiting" in (waiting.video.message or ""))
    pump(app, 0.5)
    screen.grabWindow(0).save(str(out / "kiosk-waiting.png"))
    waiting.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
