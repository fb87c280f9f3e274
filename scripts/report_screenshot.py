"""Renders a session's report.html to a PNG in headless Chromium (Debian's `chromium`), with the network cut off.

    .venv/bin/python scripts/report_screenshot.py runs/sample docs/report.png

Chromium captures its window, so the window is made taller than any report and
the empty space below the page is cropped off.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # any attempt to reach a host fails: the page must need none
]


def screenshot(html: Path, png: Path, width: int = 1100, height: int = 12000) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("report_screenshot: needs Debian's chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png.resolve()}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    image = cv2.imread(str(png))
    rows = np.flatnonzero((image < 250).any(axis=(1, 2)))
    bottom = min(image.shape[0], int(rows[-1]) + 24) if len(rows) else image.shape[0]
    cv2.imwrite(str(png), image[:bottom], [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: report_screenshot.py SESSION_DIR OUT.png")
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    screenshot(folder / "report.html", out)
    print(f"wrote {out}")
