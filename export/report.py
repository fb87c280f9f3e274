"""report.html: one self-contained page a person reads after a session. No script, no external file, no network.

Per person: the seven probabilities over time with the uncertain stretches
shaded and the explanations marked, the share of time under each label, a
valence-like line, the facial actions with the blink rate and the stretches
where they contradicted the label, and key frames when they were saved; a person seen for
under a second gets one compact row instead. Then the explanations (what the
gate decided, what was asked, what was written and by whom, what was left
unanswered and why), the speed and the dropped frames, and what ran: models
with sha256, backend, versions.

The page tells one story: every count comes from the folder's own logs
(events.jsonl, explanations.jsonl) and is checked against session.json's
counts; every time is seconds from the session's start (shown as 0 s, with the
wall-clock start beside it), and the duration is on the same axis. The counts
and times are also written as data- attributes, so that a program can read
what the page says.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path

import numpy as np

from engines.contracts import EMOTIONS
from export.counted_words import counted
from export.emotion_colors import EMOTION_COLORS
from export.report_actions import person_actions
from export.report_charts import Series, line_chart, share_bar, sparkline
from export.session_reader import SessionLog, read_session

NEGATIVE = ("angry", "disgust", "fear", "sad")
VALENCE_COLOR = "#2d6cdf"
SHORT_S = 1.0  # a person seen for less than this (first to last sighting) gets a compact row, not charts


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
    clock = session_clock(log)
    log = on_session_clock(log, clock.origin)  # from here on, every time is seconds from the session's start
    title = f"emolens session: {_input_name(info)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # nothing may load from anywhere: a report opened on a kiosk or mailed on stays on the page
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>{_overview(log, clock)}</header>",
        _warnings(log),
        _people(log, clock),
        _explanations(log),
        _performance(log, clock),
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


def _wall(stamp) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except (TypeError, ValueError):
        return None


# --- the time axis -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionClock:
    """The page's one time axis. `origin`: the session time (frames.csv's time_s) shown as 0 s; `end`: the
    last frame, on the same axis as every other time on the page; `zero`: what 0 s is, in words (with a
    `{started}` for session.json's wall-clock start)."""

    origin: float
    end: float
    zero: str

    @property
    def duration(self) -> float:
        return max(self.end, 0.0)


def session_clock(log: SessionLog) -> SessionClock:
    """A file analysed by `analyze` runs on media time: 0 s is its first frame. A live session stamps frames
    with seconds since the session began, and a recording switched on later starts later still: 0 s is then the
    recording's first frame. session.json's counts say when its first and last frames were; a folder from before
    they did is read off the logs: the first periodic stats line (a frame's time and the wall clock when it
    was written) against the folder's first event, and never later than the first face in frames.csv (rows
    are written for frames with a face only)."""
    source = log.info.get("input") or {}
    counts = log.info.get("counts") or {}
    first = float(log.frames["time_s"].min()) if log.rows else None
    last_face = float(log.frames["time_s"].max()) if log.rows else None
    if _number(counts.get("first_frame_t")) and _number(counts.get("last_frame_t")):  # recorded as it ran
        live = source.get("live") is not False
        begin = min(x for x in (float(counts["first_frame_t"]), first) if x is not None)  # no row before 0 s
        end = max(x for x in (float(counts["last_frame_t"]), last_face) if x is not None)  # nor after the end
        origin = begin if live else min(0.0, begin)
        zero = (
            "the recording's first frame, at {started}" if live else "the video's first frame (analysed from {started})"
        )
        return SessionClock(origin, end - origin, zero)
    # a folder written before the recorder kept its first and last frame's times: read them off the logs
    if source.get("live") is False:  # `analyze` of a file or an image: media time from the file's start
        origin, zero = (
            min(0.0, first if first is not None else 0.0),
            "the video's first frame (analysed from {started})",
        )
    else:
        start = _recording_start(log.events)
        candidates = [x for x in (first, start) if x is not None]
        origin, zero = (min(candidates) if candidates else 0.0), "the recording's first frame, at {started}"
    frame_times = [float(e["t"]) for e in log.events if e.get("event") == "stats" and _number(e.get("t"))]
    ends = [x for x in (last_face, *frame_times) if x is not None]
    return SessionClock(origin, (max(ends) - origin) if ends else 0.0, zero)


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _recording_start(events: list[dict]) -> float | None:
    """The session time of the recording's first frame, from the first periodic stats line (written right after
    a frame: that frame's time and the wall clock) less the wall-clock seconds since the folder's first event
    (written as the recording began). The last stats line is written at the close, after any wait for the
    explainer, so it cannot tell."""
    stats = [i for i, e in enumerate(events) if e.get("event") == "stats" and _number(e.get("t"))]
    walls = [_wall(e.get("time")) for e in events]
    first_wall = next((w for w in walls if w is not None), None)
    if len(stats) < 2 or first_wall is None or walls[stats[0]] is None:
        return None
    return max(0.0, float(events[stats[0]]["t"]) - (walls[stats[0]] - first_wall))


def on_session_clock(log: SessionLog, origin: float) -> SessionLog:
    """The log with every time (frames, explanation windows, events' times and windows) as seconds from
    `origin`: the page then cannot show two clocks."""
    if origin == 0.0:
        return log

    def shift(record: dict) -> dict:
        out = dict(record)
        if _number(out.get("t")):
            out["t"] = float(out["t"]) - origin
        window = out.get("window")
        if isinstance(window, list | tuple) and len(window) == 2 and all(_number(w) for w in window):
            out["window"] = [float(window[0]) - origin, float(window[1]) - origin]
        return out

    frames = dict(log.frames)
    if log.rows:
        frames["time_s"] = frames["time_s"] - origin
    return dataclasses.replace(
        log, frames=frames, events=[shift(e) for e in log.events], explanations=[shift(x) for x in log.explanations]
    )


# --- the overview --------------------------------------------------------------------------------------

PROBLEM, NOTE, OK = "bad", "note", "ok"


def status_view(status: str, events: list[dict] = ()) -> tuple[str, str]:
    """(css class, plain words) for session.json's status. A stop the user asked for is not an error; a failed
    recording and a folder left `running` (the program died) are."""
    signal = next((e.get("signal") for e in reversed(events) if e.get("event") == "session_stopped"), None)
    if status == "complete":
        return OK, "complete"
    if status == "stopped":
        how = {"SIGINT": " (Ctrl-C)", "SIGTERM": " (a stop signal, SIGTERM)"}.get(str(signal), "")
        return NOTE, f"stopped by you before the end{how}"
    if status == "recording stopped by user":
        return NOTE, "recording stopped by you (Record switched off)"
    if status == "running":
        return PROBLEM, "not closed: the program crashed or was killed (run emolens repair)"
    if status == "interrupted":
        return NOTE, "interrupted: the program ended without closing the folder; emolens repair finished it"
    if status.startswith("failed"):
        return PROBLEM, status
    return NOTE, status


def _overview(log: SessionLog, clock: SessionClock) -> str:
    info, counts = log.info, log.info.get("counts") or {}
    status = str(info.get("status", "unknown"))
    css, words = status_view(status, log.events)
    account = explainer_account(log)
    explained = f"{account.asked} asked for, {account.written} written" if account.on else "off"
    if account.on and account.earlier:
        explained += f" ({account.earlier} of them for windows asked before this recording began)"
    items = [
        ("status", "Status", f'<span class="{css}" data-status="{escape(status)}">{escape(words)}</span>'),
        ("started", "Started", escape(_when(info.get("started")))),
        ("ended", "Ended", escape(_when(info.get("ended")) if info.get("ended") else "not recorded")),
        ("duration", "Duration", f"{clock.duration:.1f} s"),
        ("zero", "0 s on this page", escape(clock.zero.format(started=_when(info.get("started"))))),
        ("people", "People", _people_count(log)),
        ("frames", "Frames", _frames_line(counts, log)),
        ("explanations", "Explanations", explained),
    ]
    data = {"duration": f' data-seconds="{clock.duration:.3f}"', "zero": f' data-origin="{clock.origin:.4f}"'}
    return (
        '<dl class="overview">'
        + "".join(f'<dt>{k}</dt><dd data-field="{f}"{data.get(f, "")}>{v}</dd>' for f, k, v in items)
        + "</dl>"
    )


def _people_count(log: SessionLog) -> str:
    people, tracks = len(log.person_ids), len(log.track_ids)
    line = f"{people}" + (f" (seen as {tracks} separate tracks)" if tracks != people else "")
    if log.unidentified_rows:
        line += f"; {log.unidentified_rows} rows of faces seen too briefly to tell who they were"
    return escape(line)


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


# --- people -----------------------------------------------------------------------------------------------


def _explanation_marks(log: SessionLog) -> dict[int, list[tuple[int, dict]]]:
    by_track: dict[int, list[tuple[int, dict]]] = {}
    for number, x in enumerate(log.explanations, start=1):
        by_track.setdefault(int(x.get("track_id", -1)), []).append((number, x))
    return by_track


def seen_s(track: dict[str, np.ndarray]) -> float:
    """Seconds from a person's first sighting to their last."""
    t = track["time_s"]
    return float(t.max() - t.min()) if len(t) else 0.0


def _people(log: SessionLog, clock: SessionClock) -> str:
    if not log.rows:
        return ""
    x_range = (0.0, max(clock.duration, 1.0))
    marks = _explanation_marks(log)
    key_frames = [e for e in log.events if e.get("event") == "key_frame"]
    tracks = {person_id: log.person(person_id) for person_id in log.person_ids}
    short = [tid for tid, f in tracks.items() if seen_s(f) < SHORT_S]
    legend = " ".join(
        f'<span class="key"><b style="color:{EMOTION_COLORS[e]}">&#9644;</b> {e}</span>&nbsp; ' for e in EMOTIONS
    )
    sections = [
        "<section><h2>People</h2>",
        _glance(tracks, marks),
        f'<p class="legend">{legend} <span class="key"><b style="color:#d5d8de">&#9608;</b> uncertain (shaded)'
        "</span></p>",
    ]
    for track_id, f in tracks.items():
        if track_id in short:
            continue
        t = f["time_s"]
        shares = label_shares(f["label"])
        dominant = max(shares, key=lambda s: s[1])
        valence = valence_like(f)
        uncertain_share = float(np.mean(f["uncertain"]))
        series = [Series(e, EMOTION_COLORS[e], t, f[f"p_{e}"]) for e in EMOTIONS]
        own = marks.get(track_id, [])
        sections.append(
            f'<article id="person-{track_id}" data-track="{track_id}" data-seen-s="{seen_s(f):.3f}" '
            f'data-frames="{len(t)}"><h3>Person {track_id}</h3>'
            f'<p class="facts">In view {_sightings(f)} ({len(t)} frames); mostly '
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
                marks=[(max(min(float(x["window"][1]), float(t.max())), 0.0), f"E{n}") for n, x in own],
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
            + person_actions(f, x_range)
            + _key_frames(log, [k for k in key_frames if k.get("person_id", k.get("track_id")) == track_id])
            + "</article>"
        )
    sections.append(_short_lived({tid: tracks[tid] for tid in short}, marks))
    sections.append("</section>")
    return "".join(sections)


def _sightings(person: dict[str, np.ndarray]) -> str:
    """When a person was in view: '0.0-4.2 s', or for one who left and came back each sighting (track) in turn,
    '0.0-2.3 s, 3.7-4.2 s (tracks 3, 9)'."""
    spans = {}
    for track in sorted({int(x) for x in person["track_id"]}):
        t = person["time_s"][person["track_id"] == track]
        spans[track] = (float(t.min()), float(t.max()))
    order = sorted(spans, key=lambda k: spans[k])
    words = ", ".join(f"{spans[k][0]:.1f}-{spans[k][1]:.1f} s" for k in order)
    return words if len(order) == 1 else f"{words} (tracks {', '.join(map(str, order))})"


def _short_lived(tracks: dict[int, dict[str, np.ndarray]], marks: dict) -> str:
    """People seen for under a second: one row each, with their label mix over their own moment."""
    if not tracks:
        return ""
    rows = []
    for track_id, f in tracks.items():
        t = f["time_s"]
        top = max(label_shares(f["label"]), key=lambda s: s[1])
        span = (float(t.min()), float(t.max()))
        series = [Series(e, EMOTION_COLORS[e], t, f[f"p_{e}"]) for e in EMOTIONS]
        explained = len(marks.get(track_id, []))
        rows.append(
            f'<tr id="person-{track_id}" class="short" data-track="{track_id}" data-seen-s="{seen_s(f):.3f}" '
            f'data-frames="{len(t)}" data-label="{top[0]}"><td>Person {track_id}</td>'
            f"<td>{span[0]:.1f}-{span[1]:.1f} s</td><td>{seen_s(f):.2f} s</td><td>{len(t)}</td>"
            f"<td>{top[0]} {top[1]:.0%}</td><td>{sparkline(series, span, (0.0, 1.0))}</td><td>{explained}</td></tr>"
        )
    return (
        f"<h3>Seen for under {SHORT_S:g} second</h3>"
        '<p class="facts">Too brief for charts: one row each, the seven probabilities drawn over their own moment.'
        '</p><table class="short"><thead><tr><th>Who</th><th>In view</th><th>Seen</th><th>Frames</th><th>Mostly</th>'
        "<th>Probabilities</th><th>Explanations</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _glance(tracks: dict[int, dict[str, np.ndarray]], marks: dict) -> str:
    """One row per person: a reader sees the whole session before the details."""
    rows = []
    for track_id, f in tracks.items():
        shares = label_shares(f["label"])
        top = max(shares, key=lambda s: s[1])
        rows.append(
            f'<tr><td><a href="#person-{track_id}">Person {track_id}</a></td>'
            f"<td>{_sightings(f)}</td><td>{top[0]} {top[1]:.0%}</td>"
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


# --- explanations ----------------------------------------------------------------------------------------


@dataclass
class ExplainerAccount:
    """What the explainer was asked and what it answered, from the folder's logs: `windows` gate decisions and
    `asked` of them invoked (events.jsonl), `written` explanations (explanations.jsonl) by the model or the
    template; `unanswered` asked windows with no explanation, with the reasons the logs give (count, words);
    `earlier`: explanations of windows asked before this recording began; `mismatch`: where session.json's
    counts say otherwise."""

    on: bool
    model: str | None = None
    unavailable: str | None = None
    windows: int = 0
    asked: int = 0
    written: int = 0
    by_model: int = 0
    by_template: int = 0
    rejected: int = 0
    unanswered: int = 0
    reasons: list[tuple[int, str]] = field(default_factory=list)
    earlier: int = 0
    mismatch: list[str] = field(default_factory=list)


def _key(record: dict) -> tuple:
    window = record.get("window") or (None, None)
    return (int(record.get("track_id", -1)), *(round(float(w), 3) if _number(w) else None for w in window))


def explainer_account(log: SessionLog) -> ExplainerAccount:
    info = log.info.get("explainer")
    stated = (log.info.get("counts") or {}).get("explainer")
    gate = [e for e in log.events if e.get("event") == "gate"]
    asked = [e for e in gate if e.get("invoke")]
    account = ExplainerAccount(on=bool(info) or stated is not None, windows=len(gate), asked=len(asked))
    model = (info or {}).get("model") if isinstance(info, dict) else None
    account.model = str(model.get("name")) if isinstance(model, dict) and model.get("name") else None
    unavailable = [e for e in log.events if e.get("event") == "explainer_unavailable"]
    if isinstance(info, dict) and info.get("unavailable"):
        account.unavailable = str(info["unavailable"])
    elif unavailable:
        account.unavailable = str(unavailable[0].get("error", "the model could not be loaded"))

    account.written = len(log.explanations)
    account.by_model = sum(x.get("source") == "llm" for x in log.explanations)
    account.by_template = account.written - account.by_model
    account.rejected = sum(bool(x.get("rejected")) for x in log.explanations if x.get("source") != "llm")

    waiting = Counter(_key(e) for e in asked)  # asked and not (yet) answered, by person and window
    for x in log.explanations:
        key = _key(x)
        if waiting[key] > 0:
            waiting[key] -= 1
        else:
            account.earlier += 1
    left = +waiting
    account.unanswered = sum(left.values())
    account.reasons = _unanswered_reasons(log, left)
    account.mismatch = _mismatch(account, stated)
    return account


def _unanswered_reasons(log: SessionLog, left: Counter) -> list[tuple[int, str]]:
    """Why the asked windows in `left` have no explanation, as far as the logs say."""
    reasons: list[tuple[int, str]] = []
    remaining = sum(left.values())

    def take(n: int, why: str) -> None:
        nonlocal remaining
        n = min(n, remaining)
        if n > 0:
            reasons.append((n, why))
            remaining -= n

    replaced = Counter(_key(e) for e in log.events if e.get("event") == "explainer_request_replaced")
    take(
        sum(min(n, left[k]) for k, n in replaced.items()),
        "replaced by a newer request before the explainer started (a live session explains the newest window)",
    )
    if any(e.get("event") == "explainer_unavailable" for e in log.events) or (
        isinstance(log.info.get("explainer"), dict) and log.info["explainer"].get("unavailable")
    ):
        take(remaining, "because the explainer's model could not run")
    for e in log.events:
        if e.get("event") == "explainer_drain_limit":
            limit = f"{float(e['limit_s']):.0f} s " if _number(e.get("limit_s")) else ""
            take(
                int(e.get("unexplained") or 0),
                f"still waiting when the {limit}allowed for the explainer after the last frame ran out",
            )
    status = str(log.info.get("status", ""))
    if status != "complete":
        ended = {"running": "the program crashed or was killed", "interrupted": "the program ended early"}
        words = ended.get(status) or status_view(status, log.events)[1]
        take(remaining, f"because the session ended ({words}) before the explainer answered")
    take(remaining, "for a reason the logs do not give")
    return reasons


def _mismatch(account: ExplainerAccount, stated: dict | None) -> list[str]:
    """session.json's counts that differ from what the logs in the folder hold (a cut-short or repaired log)."""
    if not isinstance(stated, dict):
        return []
    pairs = (
        ("windows", "windows decided", account.windows),
        ("invoked", "explanations asked for", account.asked),
        ("explanations", "explanations written", account.written),
        ("from_model", "written by the model", account.by_model),
        ("from_template", "written by the template", account.by_template),
    )
    return [
        f"{words}: session.json counts {stated[key]}, the logs hold {held}"
        for key, words, held in pairs
        if _number(stated.get(key)) and int(stated[key]) != held
    ]


def _explainer_summary(account: ExplainerAccount) -> str:
    if not account.on:
        text = "The explainer was off in this session (it was not asked for), so nothing was explained."
        if account.windows:
            text += (
                f" The gate still looked at {counted(account.windows, 'window')} and marked {account.asked} "
                "it would have sent."
            )
        return f'<p class="facts" data-explainer="off">{text}</p>'
    items = [
        ("windows", "Windows the gate decided", account.windows),
        ("asked", "Explanations asked for", account.asked),
        ("written", "Explanations written", account.written),
        ("by-model", "written by the model", account.by_model),
        ("by-template", "written by the template", account.by_template),
        ("unanswered", "Asked for and not answered", account.unanswered),
    ]
    if account.earlier:
        items.append(("earlier", "written for windows asked before this recording", account.earlier))
    dl = (
        '<dl class="counts" data-explainer="on">'
        + "".join(f'<dt>{label}</dt><dd data-count="{key}">{n}</dd>' for key, label, n in items)
        + "</dl>"
    )
    name = f" ({escape(account.model)})" if account.model else ""
    lines = []
    if account.unavailable:
        lines.append(f"The explainer{name} was asked for but could not run: {escape(account.unavailable)}.")
    else:
        lines.append(f"The explainer{name} was on.")
    if account.windows:
        lines.append(
            f"The gate looked at {counted(account.windows, 'window')} and asked for "
            f"{counted(account.asked, 'explanation')} ({account.asked / account.windows:.0%}); the rest were steady "
            "or already explained."
        )
    else:
        lines.append("The gate decided no window in this recording.")
    template = f"{account.by_template} by the template"
    if account.rejected:
        template += f" ({account.rejected} standing in for a model answer that was rejected or lost)"
    if account.written:
        written = f"{account.by_model} by the model, {template}"
        if account.unanswered == 0 and account.earlier == 0:
            lines.append(f"All {account.written} were written: {written}.")
        else:
            lines.append(f"{counted(account.written, 'explanation was', 'explanations were')} written: {written}.")
    elif account.asked:
        lines.append("None was written.")
    if account.earlier:
        lines.append(
            f"{counted(account.earlier, 'of them answers a window', 'of them answer windows')} asked for before "
            "this recording began (the request is not in this folder's events)."
        )
    if account.unanswered:
        why = "; ".join(f"{n} {escape(words)}" for n, words in account.reasons)
        lines.append(
            f"{account.unanswered} of the {account.asked} asked for {'was' if account.unanswered == 1 else 'were'} "
            f"not answered: {why}."
        )
    if account.mismatch:
        lines.append("Note: " + "; ".join(escape(m) for m in account.mismatch) + ".")
    return dl + '<p class="facts">' + " ".join(lines) + "</p>"


def _explanations(log: SessionLog) -> str:
    account = explainer_account(log)
    head = '<section id="explanations"><h2>Explanations</h2>' + _explainer_summary(account)
    if not log.explanations:
        return head + "</section>"
    rows = []
    for n, x in enumerate(log.explanations, start=1):
        a, b = x.get("window", [0, 0])
        source = "model" if x.get("source") == "llm" else "template"
        if x.get("rejected"):
            why = str(x["rejected"]).split(" | ")[0]  # the reason, without the model's raw answer
            lost = why.startswith("explainer ")  # the model never answered (unavailable, its process died)
            source += f" ({escape(why)})" if lost else f" (the model's answer was rejected: {escape(why)})"
        when = f"{a:.1f}-{b:.1f} s" if a >= 0 else f"{a:.1f} to {b:.1f} s (before this recording began)"
        rows.append(
            f"<tr><td>E{n}</td><td>{when}</td><td>{x.get('track_id', '')}</td>"
            f"<td>{escape(str(x.get('trigger', '')).replace('_', ' '))}</td>"
            f'<td><span class="dot" style="--c:{EMOTION_COLORS.get(x.get("label", ""), "#999")}"></span>'
            f"{escape(str(x.get('label', '')))} {float(x.get('confidence', 0)):.0%}</td>"
            f"<td>{escape(str(x.get('text', '')))}</td><td>{source}</td></tr>"
        )
    return (
        head + "<table><thead><tr><th></th><th>Window</th><th>Person</th><th>Why asked</th><th>Label</th>"
        "<th>Explanation</th><th>Written by</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _performance(log: SessionLog, clock: SessionClock) -> str:
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
            (0.0, max(clock.duration, float(t.max()), 1.0)),
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
.counts{display:grid;grid-template-columns:repeat(6,auto);gap:2px 10px;margin:6px 0}
.counts dt{color:#6b7280}.counts dd{margin:0 10px 0 0;font-weight:bold}
.ok{color:#1f8a3b}.note{color:#1f232b}.bad{color:#c2372f}
.warning{background:#fff4d6;border-left:4px solid #f0b400;padding:8px 12px}
.facts{color:#3a3f4a;margin:2px 0 6px}
svg.chart,svg.bar{width:100%;height:auto;display:block}svg.bar{border-radius:3px}
.legend{font-size:13px}.key{white-space:nowrap;margin-right:6px}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;background:var(--c);margin-right:5px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;vertical-align:top;padding:4px 6px;
border-bottom:1px solid #eef0f3}table.kv th{width:110px;color:#6b7280;font-weight:normal}
.frames{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}figure img{height:96px;border-radius:4px;display:block}
figcaption{font-size:11px;color:#4a505c}td.mini{width:240px}td.mini svg{width:240px}
svg.spark{width:160px;height:28px;display:block}
a{color:#2d6cdf;text-decoration:none}code{font-size:12px}
footer{margin:32px 0 8px;color:#6b7280;font-size:12px}
"""
