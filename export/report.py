"""report.html: one self-contained page a person reads after a session. No script, no external file, no network.

Per person: the seven probabilities over time with the uncertain stretches
shaded and the explanations marked, the share of time under each label, a
valence-like line, and key frames when they were saved. Then the explanations,
the speed and the dropped frames, and what ran: models with sha256, backend,
versions.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime
from html import escape
from pathlib import Path

import numpy as np

from engines.contracts import EMOTIONS
from export.emotion_colors import EMOTION_COLORS
from export.report_charts import Series, line_chart, share_bar
from export.session_reader import SessionLog, read_session

NEGATIVE = ("angry", "disgust", "fear", "sad")
VALENCE_COLOR = "#2d6cdf"


def valence_like(frames: dict[str, np.ndarray]) -> np.ndarray:
    """p(happy) minus the four negative labels' sum, in [-1, 1]: a summary of the label mix, not a measured valence."""
    return frames["p_happy"] - sum(frames[f"p_{e}"] for e in NEGATIVE)


def uncertain_spans(t: np.ndarray, uncertain: np.ndarray, join_s: float = 0.25) -> list[tuple[float, float]]:
    spans: list[list[float]] = []
    for time, flag in zip(t, uncertain, strict=True):
        if not flag:
            continue
        if spans and time - spans[-1][1] <= join_s:
            spans[-1][1] = float(time)
        else:
            spans.append([float(time), float(time)])
    return [(a, max(b, a + 0.05)) for a, b in spans]


def label_shares(labels: np.ndarray) -> list[tuple[str, float]]:
    """Share of a person's rows under each label (rows come at the frame rate, so rows are time)."""
    n = max(len(labels), 1)
    return [(e, float(np.count_nonzero(labels == e)) / n) for e in EMOTIONS]


def write_report(folder: Path, out: Path | None = None) -> Path:
    log = read_session(folder)
    out = out or folder / "report.html"
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(render_report(log), encoding="utf-8")
        os.replace(tmp, out)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return out


def render_report(log: SessionLog) -> str:
    info = log.info
    title = f"emolens session: {_input_name(info)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # nothing may load from anywhere: a report opened on a kiosk or mailed on stays on the page
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>{_overview(log)}</header>",
        _warnings(log),
        _people(log),
        _explanations(log),
        _performance(log),
        _provenance(log),
        f"<footer>Written by emolens {escape(info.get('versions', {}).get('emolens', ''))} on "
        f"{datetime.now().strftime('%Y-%m-%d %H:%M')}. Everything in this report was computed on this device; "
        "nothing was sent anywhere.</footer>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _input_name(info: dict) -> str:
    source = info.get("input") or {}
    spec = str(source.get("spec", "unknown input"))
    return Path(spec).name if not spec.isdigit() else f"camera {spec}"


def _when(stamp) -> str:
    """An ISO time as a person reads it, in the time zone it was written in."""
    try:
        return datetime.fromisoformat(str(stamp)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(stamp)


def _duration(log: SessionLog) -> float:
    if not log.rows:
        return 0.0
    return float(log.frames["time_s"].max() - log.frames["time_s"].min())


def _overview(log: SessionLog) -> str:
    info, counts = log.info, log.info.get("counts") or {}
    status = str(info.get("status", "unknown"))
    ok = status == "complete"
    items = [
        ("Status", f'<span class="{"ok" if ok else "bad"}">{escape(status)}</span>'),
        ("Started", escape(_when(info.get("started")))),
        ("Ended", escape(_when(info.get("ended")) if info.get("ended") else "not recorded")),
        ("Duration", f"{_duration(log):.1f} s"),
        ("People", str(len(log.track_ids))),
        ("Frames", _frames_line(counts, log)),
        ("Explanations", str(len(log.explanations))),
    ]
    return '<dl class="overview">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def _frames_line(counts: dict, log: SessionLog) -> str:
    processed = counts.get("frames_processed")
    if processed is None:
        return f"{len(set(log.frames['frame'].tolist())) if log.rows else 0} with a face"
    dropped = counts.get("frames_dropped", 0)
    return f"{processed} processed, {dropped} dropped"


def _warnings(log: SessionLog) -> str:
    notes = []
    status = str(log.info.get("status", ""))
    if status == "running":
        notes.append(
            "This session did not close (the program was killed or the power went). The data below goes up to "
            f"the last flushed second; <code>emolens repair {escape(str(log.folder))}</code> finishes the folder."
        )
    elif status.startswith(("failed", "interrupted")):
        notes.append(f"The recording ended early: {escape(status)}. Everything written until then is below.")
    if log.cut_short:
        notes.append(f"The last line of {escape(', '.join(log.cut_short))} was cut short and is left out.")
    if not log.rows:
        notes.append("No face was recorded in this session.")
    return "".join(f'<p class="warning">{n}</p>' for n in notes)


def _explanation_marks(log: SessionLog) -> dict[int, list[tuple[int, dict]]]:
    by_track: dict[int, list[tuple[int, dict]]] = {}
    for number, x in enumerate(log.explanations, start=1):
        by_track.setdefault(int(x.get("track_id", -1)), []).append((number, x))
    return by_track


def _people(log: SessionLog) -> str:
    if not log.rows:
        return ""
    t_all = log.frames["time_s"]
    x_range = (float(t_all.min()), float(max(t_all.max(), t_all.min() + 1.0)))
    marks = _explanation_marks(log)
    key_frames = [e for e in log.events if e.get("event") == "key_frame"]
    legend = " ".join(
        f'<span class="key"><b style="color:{EMOTION_COLORS[e]}">&#9644;</b> {e}</span>&nbsp; ' for e in EMOTIONS
    )
    sections = [
        "<section><h2>People</h2>",
        _glance(log, marks),
        f'<p class="legend">{legend} <span class="key"><b style="color:#d5d8de">&#9608;</b> uncertain (shaded)'
        "</span></p>",
    ]
    for track_id in log.track_ids:
        f = log.track(track_id)
        t = f["time_s"]
        shares = label_shares(f["label"])
        dominant = max(shares, key=lambda s: s[1])
        valence = valence_like(f)
        uncertain_share = float(np.mean(f["uncertain"]))
        series = [Series(e, EMOTION_COLORS[e], t, f[f"p_{e}"]) for e in EMOTIONS]
        own = marks.get(track_id, [])
        sections.append(
            f'<article id="person-{track_id}"><h3>Person {track_id}</h3>'
            f'<p class="facts">In view {t.min():.1f}-{t.max():.1f} s ({len(t)} frames); mostly '
            f"<b>{dominant[0]}</b> ({dominant[1]:.0%}); uncertain {uncertain_share:.0%} of the time; "
            f"valence-like mean {np.mean(valence):+.2f} (min {np.min(valence):+.2f}, max {np.max(valence):+.2f}); "
            f"{len(own)} explanation{'s' * (len(own) != 1)}.</p>"
            + line_chart(
                series,
                x_range,
                (0.0, 1.0),
                y_label="p",
                height=170,
                shaded=uncertain_spans(t, f["uncertain"], join_s=max(0.25, (x_range[1] - x_range[0]) / 900)),
                # at the window's end, or where the face left view when that came first
                marks=[(min(float(x["window"][1]), float(t.max())), f"E{n}") for n, x in own],
            )
            + "<h4>Time under each label</h4>"
            + share_bar([(e, s, EMOTION_COLORS[e]) for e, s in shares])
            + "<h4>Valence-like: p(happy) minus p(angry, disgust, fear, sad)</h4>"
            + line_chart(
                [Series("valence-like", VALENCE_COLOR, t, valence)],
                x_range,
                (-1.0, 1.0),
                height=84,
                y_ticks=(-1.0, 0.0, 1.0),
            )
            + _key_frames(log, [k for k in key_frames if k.get("track_id") == track_id])
            + "</article>"
        )
    sections.append("</section>")
    return "".join(sections)


def _glance(log: SessionLog, marks: dict) -> str:
    """One row per person: a reader sees the whole session before the details."""
    rows = []
    for track_id in log.track_ids:
        f = log.track(track_id)
        shares = label_shares(f["label"])
        top = max(shares, key=lambda s: s[1])
        rows.append(
            f'<tr><td><a href="#person-{track_id}">Person {track_id}</a></td>'
            f"<td>{f['time_s'].min():.1f}-{f['time_s'].max():.1f} s</td><td>{top[0]} {top[1]:.0%}</td>"
            f'<td class="mini">{share_bar([(e, v, EMOTION_COLORS[e]) for e, v in shares], width=240, height=14)}</td>'
            f"<td>{np.mean(valence_like(f)):+.2f}</td><td>{np.mean(f['uncertain']):.0%}</td>"
            f"<td>{len(marks.get(track_id, []))}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Who</th><th>In view</th><th>Mostly</th><th>Time under each label</th>"
        "<th>Valence-like</th><th>Uncertain</th><th>Explanations</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


KEY_FRAMES_SHOWN = 24  # per person; all of them stay in keyframes/


def _key_frames(log: SessionLog, records: list[dict]) -> str:
    images = []
    shown = sorted(records, key=lambda k: -float(k.get("expressiveness", 0)))[:KEY_FRAMES_SHOWN]
    for k in sorted(shown, key=lambda k: float(k.get("t", 0))):
        path = log.folder / str(k.get("file", ""))
        if not path.is_file() or log.folder.resolve() not in path.resolve().parents:
            continue
        data = base64.b64encode(path.read_bytes()).decode()
        images.append(
            f'<figure><img alt="key frame" src="data:image/jpeg;base64,{data}">'
            f"<figcaption>{float(k.get('t', 0)):.1f} s · {escape(str(k.get('label', '')))}"
            f"{' · blurred' if k.get('blurred') else ''}</figcaption></figure>"
        )
    if not images:
        return ""
    head = "<h4>Key frames (the most expressive moment of each stretch)</h4>"
    if len(records) > len(shown):
        head = f"<h4>Key frames: the {len(shown)} most expressive of {len(records)} (all are in keyframes/)</h4>"
    return head + '<div class="frames">' + "".join(images) + "</div>"


def _explanations(log: SessionLog) -> str:
    gate = [e for e in log.events if e.get("event") == "gate"]
    invoked = sum(bool(e.get("invoke")) for e in gate)
    head = "<section><h2>Explanations</h2>"
    if gate:
        head += (
            f'<p class="facts">The gate looked at {len(gate)} window(s) and asked for {invoked} explanation(s) '
            f"({invoked / len(gate):.0%}); the rest were steady or already explained.</p>"
        )
    if not log.explanations:
        return head + "<p>No explanations in this session (the explainer was off or nothing needed one).</p></section>"
    rows = []
    for n, x in enumerate(log.explanations, start=1):
        a, b = x.get("window", [0, 0])
        source = "model" if x.get("source") == "llm" else "template"
        if x.get("rejected"):
            why = str(x["rejected"]).split(" | ")[0]  # the reason, without the model's raw answer
            source += f" (the model's answer was rejected: {escape(why)})"
        rows.append(
            f"<tr><td>E{n}</td><td>{a:.1f}-{b:.1f} s</td><td>{x.get('track_id', '')}</td>"
            f"<td>{escape(str(x.get('trigger', '')).replace('_', ' '))}</td>"
            f'<td><span class="dot" style="--c:{EMOTION_COLORS.get(x.get("label", ""), "#999")}"></span>'
            f"{escape(str(x.get('label', '')))} {float(x.get('confidence', 0)):.0%}</td>"
            f"<td>{escape(str(x.get('text', '')))}</td><td>{source}</td></tr>"
        )
    return (
        head + "<table><thead><tr><th></th><th>Window</th><th>Person</th><th>Why asked</th><th>Label</th>"
        "<th>Explanation</th><th>Written by</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _performance(log: SessionLog) -> str:
    counts = log.info.get("counts") or {}
    stats = [e for e in log.events if e.get("event") == "stats" and e.get("fast_ms_p50") is not None]
    p50, p95 = counts.get("fast_ms_p50"), counts.get("fast_ms_p95")
    if p50 is None and log.rows:
        _, first = np.unique(log.frames["frame"], return_index=True)
        lat = log.frames["latency_ms"][first]
        lat = lat[~np.isnan(lat)]
        if len(lat):
            p50, p95 = float(np.median(lat)), float(np.percentile(lat, 95))
    seen = counts.get("frames_seen")
    dropped = counts.get("frames_dropped", 0)
    lines = []
    if p50 is not None:
        lines.append(f"Fast path per frame: median {p50:.1f} ms, p95 {p95:.1f} ms.")
    if seen:
        lines.append(f"Frames dropped to stay real-time: {dropped} of {seen} ({dropped / seen:.1%}).")
    llm = [x["latency_ms"] for x in log.explanations if x.get("latency_ms") is not None]
    first = [x["first_token_ms"] for x in log.explanations if x.get("first_token_ms") is not None]
    if llm:
        lines.append(
            f"Explanations: median {np.median(llm) / 1000:.2f} s each"
            + (f", first word after {np.median(first) / 1000:.2f} s." if first else ".")
        )
    if not lines:
        return ""
    chart = ""
    if len(stats) >= 2:
        t = np.array([float(s.get("t") or 0) for s in stats])
        top = max(float(max(s["fast_ms_p95"] for s in stats)) * 1.15, 1.0)
        chart = "<h4>Fast path ms per frame, every 5 s (median and p95)</h4>" + line_chart(
            [
                Series("median", "#2d6cdf", t, np.array([s["fast_ms_p50"] for s in stats])),
                Series("p95", "#e5484d", t, np.array([s["fast_ms_p95"] for s in stats])),
            ],
            (float(t.min()), float(max(t.max(), t.min() + 1))),
            (0.0, top),
            height=120,
            y_ticks=(0.0, round(top / 2, 1), round(top, 1)),
            gap_s=60.0,
        )
    return "<section><h2>Speed</h2>" + "".join(f"<p>{line}</p>" for line in lines) + chart + "</section>"


def _provenance(log: SessionLog) -> str:
    info = log.info
    rows = []
    fast = info.get("fast_path") or {}
    for role in ("detector", "expression"):
        m = fast.get(role) or {}
        if m:
            source = m.get("source") or {}
            rows.append(
                (
                    role,
                    f"{escape(str(m.get('name')))} <code>sha256 {escape(str(m.get('sha256', ''))[:16])}…</code> "
                    f"from {escape(str(source.get('package', '?')))} {escape(str(source.get('version', '')))}",
                )
            )
    explainer = (info.get("explainer") or {}).get("model")
    if explainer:
        rows.append(
            (
                "explainer",
                f"{escape(str(explainer.get('name')))} "
                f"<code>sha256 {escape(str(explainer.get('sha256', ''))[:16])}…</code>",
            )
        )
    backend = info.get("backend") or {}
    if backend:
        rows.append(("backend", f"{escape(str(backend.get('name')))}: {escape(str(backend.get('reason', '')))}"))
    devices = info.get("devices") or {}
    for kind, what in devices.items():
        rows.append((kind, escape(str(what))))
    versions = info.get("versions") or {}
    if versions:
        rows.append(("versions", escape(", ".join(f"{k} {v}" for k, v in versions.items()))))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<section><h2>What ran</h2><table class="kv">{body}</table></section>'


_CSS = """
body{font:15px/1.45 "DejaVu Sans",system-ui,sans-serif;color:#1f232b;background:#fff;max-width:980px;margin:24px auto;
padding:0 20px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;border-bottom:1px solid #e6e8ec;padding-bottom:4px;margin-top:28px}
h3{font-size:16px;margin:18px 0 2px}h4{font-size:13px;color:#4a505c;font-weight:normal;margin:10px 0 2px}
.overview{display:grid;grid-template-columns:repeat(4,auto);gap:2px 14px;margin:0}
.overview dt{color:#6b7280}.overview dd{margin:0 12px 0 0;font-weight:bold}
.ok{color:#1f8a3b}.bad{color:#c2372f}
.warning{background:#fff4d6;border-left:4px solid #f0b400;padding:8px 12px}
.facts{color:#3a3f4a;margin:2px 0 6px}
svg.chart,svg.bar{width:100%;height:auto;display:block}svg.bar{border-radius:3px}
.legend{font-size:13px}.key{white-space:nowrap;margin-right:6px}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;background:var(--c);margin-right:5px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;vertical-align:top;padding:4px 6px;
border-bottom:1px solid #eef0f3}table.kv th{width:110px;color:#6b7280;font-weight:normal}
.frames{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}figure img{height:96px;border-radius:4px;display:block}
figcaption{font-size:11px;color:#4a505c}td.mini{width:240px}td.mini svg{width:240px}
a{color:#2d6cdf;text-decoration:none}code{font-size:12px}
footer{margin:32px 0 8px;color:#6b7280;font-size:12px}
"""
