"""report.pdf: the report for people who print or file it, laid out by Qt (already installed), offline.

Qt's rich-text engine reads a subset of HTML: the charts are rasterised from
the report's own SVG, key frames become image resources, and Qt paginates.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from engines.errors import EmolensError
from export.report import render_report
from export.session_reader import read_session

_SVG = re.compile(r"<svg\b[^>]*viewBox=\"0 0 (\d+) (\d+)\"[^>]*>.*?</svg>", re.S)
_DATA_IMG = re.compile(r'<img alt="key frame" src="data:image/jpeg;base64,([^"]+)">')
PAGE_TEXT_WIDTH = 640  # px of the document's layout width the charts are scaled to

_PDF_CSS = """
body{font-family:'DejaVu Sans';font-size:9pt;color:#1f232b}
h1{font-size:15pt}h2{font-size:12pt;margin-top:14pt}h3{font-size:10.5pt;margin-top:10pt}
h4{font-size:8.5pt;color:#4a505c;font-weight:normal}
dt{color:#6b7280}dd{font-weight:bold}
.warning{background-color:#fff4d6}.ok{color:#1f8a3b}.bad{color:#c2372f}
th{text-align:left;color:#4a505c}td{vertical-align:top}
footer{color:#6b7280;font-size:7.5pt}
"""


def _application():
    """Qt lays text out with fonts, which needs a QGuiApplication; a command line has none, so make one off-screen."""
    from PyQt6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication(["emolens"])
    return app


def write_report_pdf(folder: Path, out: Path | None = None) -> Path:
    try:
        from PyQt6.QtCore import QByteArray, QMarginsF, QUrl
        from PyQt6.QtGui import QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QTextDocument
        from PyQt6.QtSvg import QSvgRenderer
    except ImportError as exc:
        raise EmolensError(f"the PDF report needs PyQt6 ({exc}); install.sh installs it") from exc
    app = _application()  # noqa: F841 - held until the PDF is written
    out = out or folder / "report.pdf"
    html = render_report(read_session(folder))
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    document = QTextDocument()
    document.setDefaultStyleSheet(_PDF_CSS)
    resources: dict[str, QImage] = {}

    def chart(match: re.Match) -> str:
        width, height = int(match.group(1)), int(match.group(2))
        renderer = QSvgRenderer(QByteArray(match.group(0).encode()))
        image = QImage(width * 2, height * 2, QImage.Format.Format_ARGB32)
        image.fill(0xFFFFFFFF)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        name = f"chart{len(resources)}.png"
        resources[name] = image
        shown = min(width, PAGE_TEXT_WIDTH)
        return f'<img src="{name}" width="{shown}" height="{round(height * shown / width)}">'

    def key_frame(match: re.Match) -> str:
        image = QImage.fromData(base64.b64decode(match.group(1)))
        name = f"frame{len(resources)}.png"
        resources[name] = image
        return f'<img src="{name}" height="72">'

    html = _DATA_IMG.sub(key_frame, _SVG.sub(chart, html))
    for name, image in resources.items():
        document.addResource(QTextDocument.ResourceType.ImageResource.value, QUrl(name), image)
    document.setHtml(html)

    tmp = out.with_name(out.name + ".tmp")
    writer = QPdfWriter(str(tmp))
    writer.setResolution(96)  # the document's pixels are then the report's CSS pixels
    writer.setPageLayout(
        QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait, QMarginsF(15, 15, 15, 15))
    )
    writer.setTitle(f"emolens session {folder.name}")
    writer.setCreator("emolens")
    document.setPageSize(writer.pageLayout().paintRectPixels(writer.resolution()).size().toSizeF())
    document.print(writer)
    del writer  # closes the file
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise EmolensError(f"could not write {out}")
    os.replace(tmp, out)
    return out
