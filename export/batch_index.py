"""index.html of a batch: every input's status, counts and a link to its session's report, from batch.json.

Self-contained like the session reports (no script, no file from elsewhere);
links are relative, so the folder can be moved or shared whole.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from export.counted_words import counted

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
        link = escape(os.path.relpath(report, root)) if status == "complete" and report.exists() else None
        name = escape(Path(s["input"]).name)
        shown = f'<a href="{link}">{name}</a>' if link else name
        note = "; ".join(
            n
            for n in (
                "skipped: done by an earlier run" if s.get("skipped") else "",
                s.get("reason") or "",
                f"done again: {s['redone_because']}" if s.get("redone_because") else "",
            )
            if n
        )
        rows.append(
            f"<tr><td>{shown}<br><small>{escape(s['input'])}</small></td>"
            f'<td class="{escape(status.replace(" ", "-"))}">{escape(status)}</td>'
            f'<td class="n">{_cell(s.get("frames"))}</td><td class="n">{_cell(s.get("rows"))}</td>'
            f'<td class="n">{_cell(s.get("people"))}</td><td class="n">{_cell(s.get("seconds"))}</td>'
            f"<td>{escape(note)}</td></tr>"
        )
    counts = ", ".join(f"{n} {escape(k)}" for k, n in sorted(info["counts"].items()))
    rows_in_all = info["dataset"]["rows"]
    dataset = (
        f"<p>All completed sessions' frames, {counted(rows_in_all, 'row')}, in one Parquet dataset: "
        f"<code>{escape(os.path.relpath(info['dataset']['path'], root))}/</code> "
        "(one partition per session: pandas, polars and DuckDB read it as one table).</p>"
        if rows_in_all
        else "<p>No completed session has rows yet, so there is no dataset.</p>"
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emolens batch: {counted(info["inputs"], "input")}</title>
<style>{STYLE}</style></head><body>
<h1>emolens batch</h1>
<p>{counted(info["inputs"], "input")}: {counts} ({info["skipped"]} skipped as done by an earlier run).
Status: <b>{escape(info["status"])}</b>. {counted(info["workers"], "worker")}{" on Ray" if info.get("ray") else ""},
{info["seconds"]} s, from {escape(info["started"])} to {escape(info["ended"])}. emolens {escape(info["emolens"])}.</p>
{dataset}
<table><tr><th>Input</th><th>Status</th><th>Frames</th><th>Rows</th><th>People</th><th>Seconds</th><th>Note</th></tr>
{"".join(rows)}
</table></body></html>
"""
    path = root / "index.html"
    tmp = root / ".index.html.tmp"
    tmp.write_text(page)
    os.replace(tmp, path)
    return path
