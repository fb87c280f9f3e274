"""index.html of a batch: every input's status, counts and a link to its session's report, from batch.json.

Self-contained like the session reports (no script, no file from elsewhere);
links are relative, so the folder can be moved or shared whole.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #b00020; } .complete { color: #1b5e20; } .stopped, .not-done { color: #8a6d00; }
"""


def _cell(value) -> str:
    return "" if value is None else escape(str(value))


def write_index(root: Path, info: dict) -> Path:
    rows = []
    for s in info["sessions"]:
        status = s["status"]
        report = Path(s["folder"]) / "report.html"
        link = escape(os.path.relpath(report, root)) if report.exists() else None
        name = escape(Path(s["input"]).name)
        shown = f'<a href="{link}">{name}</a>' if link else name
        note = "skipped: done earlier" if s.get("skipped") else s.get("reason") or ""
        rows.append(
            f"<tr><td>{shown}<br><small>{escape(s['input'])}</small></td>"
            f'<td class="{escape(status.replace(" ", "-"))}">{escape(status)}</td>'
            f'<td class="n">{_cell(s.get("frames"))}</td><td class="n">{_cell(s.get("rows"))}</td>'
            f'<td class="n">{_cell(s.get("people"))}</td><td class="n">{_cell(s.get("seconds"))}</td>'
            f"<td>{escape(note)}</td></tr>"
        )
    counts = ", ".join(f"{n} {escape(k)}" for k, n in sorted(info["counts"].items()))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emolens batch: {info["inputs"]} inputs</title>
<style>{STYLE}</style></head><body>
<h1>emolens batch</h1>
<p>{info["inputs"]} inputs: {counts} ({info["skipped"]} skipped as done by an earlier run).
Status: <b>{escape(info["status"])}</b>. {info["workers"]} worker(s){" on Ray" if info.get("ray") else ""},
{info["seconds"]} s, from {escape(info["started"])} to {escape(info["ended"])}. emolens {escape(info["emolens"])}.</p>
<p>All completed sessions' frames, {info["dataset"]["rows"]} rows, in one Parquet dataset:
<code>{escape(os.path.relpath(info["dataset"]["path"], root))}/</code>
(one partition per session: pandas, polars and DuckDB read it as one table).</p>
<table><tr><th>Input</th><th>Status</th><th>Frames</th><th>Rows</th><th>People</th><th>Seconds</th><th>Note</th></tr>
{"".join(rows)}
</table></body></html>
"""
    path = root / "index.html"
    tmp = root / ".index.html.tmp"
    tmp.write_text(page)
    os.replace(tmp, path)
    return path
