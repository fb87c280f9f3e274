"""Screenshots for the README, taken from the X server during a real run on the bundled clip.

Run under a virtual screen:  xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots.py docs/
Writes main-window.png (1280x720), kiosk.png (1920x1080) and kiosk-camera-lost.png.
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


def pump(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until()):
        app.processEvents()
        time.sleep(0.005)


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
    screen.grabWindow(window.winId()).save(str(out / "main-window.png"))
    print("main window:", window.explanations.count(), "explanations,", window.status.rates.text())
    window.close()

    kiosk = KioskWindow(store, prefs)
    kiosk.start()
    pump(app, 120, until=lambda: bool(kiosk.banner.text()) and kiosk.video.painted > 100)
    pump(app, 2.0)
    screen.grabWindow(0).save(str(out / "kiosk.png"))
    print("kiosk:", kiosk.footer.text())
    kiosk.unlocked = True
    kiosk.close()

    lost = KioskWindow(store, replace(prefs, source=str(work / "unplugged-camera.mp4")))
    lost.control.config_overrides = {"camera": True}
    lost.start()
    pump(app, 30, until=lambda: "retrying" in (lost.video.message or ""))
    pump(app, 0.5)
    screen.grabWindow(0).save(str(out / "kiosk-camera-lost.png"))
    lost.unlocked = True
    lost.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
