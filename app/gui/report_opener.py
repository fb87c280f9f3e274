"""ReportOpener: opens a report with the desktop's handler, and says so in the window when that fails.

Qt's `QDesktopServices.openUrl` hands the file to `xdg-open` and reports
success before anything has opened: with no handler for HTML (or a browser
that refuses to start, as Chromium does as root) nothing happens and the
window would still say "opening". So the handler is run here as a process and
watched: a missing `xdg-open`, a failed start or a non-zero exit puts a
message in the window naming the file, with a button that copies its path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PyQt6.QtCore import QObject, QProcess, pyqtSignal
from PyQt6.QtWidgets import QApplication, QMessageBox, QWidget


class ReportOpener(QObject):
    failed = pyqtSignal(str)  # why, in words

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self._window = parent
        self._process: QProcess | None = None
        self.path: Path | None = None
        self.message: QMessageBox | None = None
        self.failed.connect(self._tell)

    def open(self, path: Path) -> None:
        self.path = path
        opener = shutil.which("xdg-open")
        if opener is None:
            self.failed.emit("this computer has no program to open it with (xdg-open is not installed)")
            return
        process = QProcess(self)
        process.setProgram(opener)
        process.setArguments([str(path)])
        process.errorOccurred.connect(lambda error: self._start_failed(process, error))
        process.finished.connect(lambda code, _status: self._finished(process, code))
        self._process = process
        process.start()

    def _start_failed(self, process: QProcess, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.failed.emit(f"xdg-open could not start ({process.errorString()})")

    def _finished(self, process: QProcess, code: int) -> None:
        if code != 0:
            said = bytes(process.readAllStandardError()).decode(errors="replace").strip().splitlines()
            why = said[-1] if said else f"it ended with exit code {code}"
            self.failed.emit(f"the desktop found no program for HTML files ({why})")

    def _tell(self, why: str) -> None:
        box = QMessageBox(self._window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("emolens: the report did not open")
        box.setText(f"The report could not be opened: {why}.")
        box.setInformativeText(f"It is here; open it in any browser:\n{self.path}")
        copy = box.addButton("Copy path", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        copy.clicked.disconnect()  # keep the box open when the path is copied
        copy.clicked.connect(lambda: QApplication.clipboard().setText(str(self.path)))
        self.message = box
        box.open()
