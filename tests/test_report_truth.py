"""report.html tells one story: its counts are the logs' counts, its times are on one axis, its statuses say what
happened, and people seen for a moment get a row, not a page of empty charts."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from conftest import GROUP_CLIP, frame_rows_with_people, run_emolens

from export.report import write_report


def _analyzed(tmp_path_factory, name: str, *options: str) -> Path:
    out = tmp_path_factory.mktemp("report-truth") / name
    proc = run_emolens("analyze", str(GROUP_CLIP), "--out", str(out), "--quiet", *options)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def session(model_dir, tmp_path_factory) -> Path:
    """The bundled clip analysed with the real explainer, as a user runs it."""
    return _analyzed(tmp_path_factory, "session", "--explain")


@pytest.fixture(scope="module")
def tracks_session(model_dir, tmp_path_factory) -> Path:
    """The bundled clip with re-identification off: people are tracks, some of them seen for a moment."""
    return _analyzed(tmp_path_factory, "tracks", "--no-reid")


# --- reading the folder and the page ---------------------------------------------------------------------


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def frame_rows(folder: Path) -> list[dict]:
    """frames.csv's rows, each with the `person` it is (filled in from the `person` events where the row was
    written before that was decided)."""
    rows = frame_rows_with_people(folder)
    assert all(r["person"] for r in rows), "every face of the clip ends up a person"
    return rows


def text(html: str) -> str:
    """What a reader sees: tags and charts out, entities decoded, spaces collapsed."""
    html = re.sub(r"<(style|svg)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def counts_on_page(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'<dd data-count="([\w-]+)">(\d+)</dd>', html)}


def explanations_section(html: str) -> str:
    found = re.search(r'<section id="explanations">(.*?)</section>', html, re.S)
    assert found, "the report has no explanations section"
    return text(found.group(1))


def status_on_page(html: str) -> tuple[str, str, str]:
    """(css class, session.json's status, the words shown)."""
    found = re.search(r'<dd data-field="status"><span class="(\w+)" data-status="([^"]*)">([^<]*)</span>', html)
    assert found, "the overview shows no status"
    return found.group(1), unescape(found.group(2)), unescape(found.group(3))


def overview_field(html: str, name: str) -> re.Match:
    found = re.search(rf'<dd data-field="{name}"([^>]*)>(.*?)</dd>', html, re.S)
    assert found, f"the overview has no {name}"
    return found


def in_view_on_page(html: str) -> dict[int, tuple[float, float]]:
    """Each person's first and last sighting as the page prints them (their chart section or their short row)."""
    shown = {}
    for track, body in re.findall(r'<article id="person-(\d+)"(.*?)</article>', html, re.S):
        line = re.search(r"In view (.*?) \(", body).group(1)  # one span per sighting: "0.0-2.3 s, 3.7-4.2 s"
        spans = [(float(a), float(b)) for a, b in re.findall(r"(-?[\d.]+)-(-?[\d.]+) s", line)]
        shown[int(track)] = (spans[0][0], max(b for _, b in spans))
    for track, body in re.findall(r'<tr id="person-(\d+)" class="short"(.*?)</tr>', html, re.S):
        a, b = re.search(r"<td>(-?[\d.]+)-(-?[\d.]+) s</td>", body).groups()
        shown[int(track)] = (float(a), float(b))
    return shown


def explanation_windows_on_page(html: str) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in re.findall(r"<td>E\d+</td><td>(-?[\d.]+)-(-?[\d.]+) s", html)]


def rerender(
    folder: Path, tmp_path: Path, name: str, info_change=None, events=None, explanations=None, frames=None
) -> str:
    """The report of a copy of `folder` whose session.json, events, explanations or frames.csv lines changed."""
    copy = tmp_path / name
    shutil.copytree(folder, copy)
    if frames is not None:
        (copy / "frames.csv").write_text("\n".join(frames) + "\n")
    if info_change is not None:
        info = json.loads((copy / "session.json").read_text())
        info_change(info)
        (copy / "session.json").write_text(json.dumps(info))
    for file, records in (("events.jsonl", events), ("explanations.jsonl", explanations)):
        if records is not None:
            (copy / file).write_text("".join(json.dumps(r) + "\n" for r in records))
    return write_report(copy).read_text()


# --- counts -----------------------------------------------------------------------------------------------


def test_every_explainer_count_on_the_page_is_the_logs_count(session):
    html = (session / "report.html").read_text()
    info = json.loads((session / "session.json").read_text())
    gate = [e for e in jsonl(session / "events.jsonl") if e["event"] == "gate"]
    explanations = jsonl(session / "explanations.jsonl")
    asked = sum(bool(e["invoke"]) for e in gate)
    sources = Counter(x["source"] for x in explanations)
    assert gate and asked and explanations, "the clip should make the gate ask and the explainer answer"

    shown = counts_on_page(html)
    logs = {
        "windows": len(gate),
        "asked": asked,
        "written": len(explanations),
        "by-model": sources["llm"],
        "by-template": sources["template"],
        "unanswered": asked - len(explanations),
    }
    assert {k: shown.get(k) for k in logs} == logs
    counted = info["counts"]["explainer"]  # what the pipeline counted agrees with what the logs hold
    assert (counted["windows"], counted["invoked"], counted["explanations"]) == (len(gate), asked, len(explanations))
    assert (counted["from_model"], counted["from_template"]) == (sources["llm"], sources["template"])
    assert counted["not_answered"] == shown["unanswered"]

    words = explanations_section(html)
    assert "was off" not in words and "No explanations" not in words  # the explainer ran
    gate_line = re.search(r"The gate looked at (\d+) windows? and asked for (\d+) explanations?", words)
    assert gate_line and tuple(map(int, gate_line.groups())) == (len(gate), asked)
    written = re.search(r"(\d+) by the model, (\d+) by the template", words)
    assert written and tuple(map(int, written.groups())) == (sources["llm"], sources["template"])
    assert len(re.findall(r"<td>E\d+</td>", html)) == len(explanations)  # one table row per written explanation
    overview = text(overview_field(html, "explanations").group(2))
    assert overview == f"{asked} asked for, {len(explanations)} written"
    rows = frame_rows(session)
    people, tracks = len({r["person"] for r in rows}), len({r["track_id"] for r in rows})
    assert (people, tracks) == (info_counts(session)["people"], info_counts(session)["tracks"])
    assert text(overview_field(html, "people").group(2)) == f"{people} (seen as {tracks} separate tracks)"


def test_explanations_not_written_are_counted_with_the_reason_the_logs_give(session, tmp_path):
    """A live recording (no explainer counts in session.json) stopped before the last answers came; one request
    was replaced by a newer one: the page says how many were asked and not answered, and why."""
    events = jsonl(session / "events.jsonl")
    explanations = jsonl(session / "explanations.jsonl")
    asked = sum(bool(e["invoke"]) for e in events if e["event"] == "gate")
    kept, lost = explanations[:-2], explanations[-2:]
    replaced = {"event": "explainer_request_replaced", "track_id": lost[0]["track_id"], "window": lost[0]["window"]}

    def live_and_stopped(info):
        info["status"] = "stopped"
        del info["counts"]["explainer"]

    html = rerender(session, tmp_path, "stopped", live_and_stopped, [*events, replaced], kept)
    shown = counts_on_page(html)
    assert (shown["asked"], shown["written"], shown["unanswered"]) == (asked, len(kept), asked - len(kept))
    words = explanations_section(html)
    assert f"{asked - len(kept)} of the {asked} asked for were not answered" in words
    assert "1 replaced by a newer request" in words
    assert f"{asked - len(kept) - 1} because the session ended (stopped by you" in words
    assert "No explanations" not in words and "was off" not in words

    # the explainer really off: no explainer entry and no explainer counts; the gate's own log may still be there
    def off(info):
        info.pop("explainer")
        del info["counts"]["explainer"]

    html = rerender(session, tmp_path, "off", off, explanations=[])
    assert "The explainer was off in this session" in explanations_section(html)
    assert counts_on_page(html) == {} and text(overview_field(html, "explanations").group(2)) == "off"


def test_answers_cut_off_by_the_drain_limit_are_counted_as_such(model_dir, tmp_path):
    """A real session whose explainer was given almost no time after the last frame."""
    out = tmp_path / "s"
    script = (
        "import sys\nfrom pathlib import Path\nfrom app.analyze import analyze\n"
        "from engines.pipeline import ExplainOptions, FastPathOptions, PipelineOptions\n"
        "options = PipelineOptions(fast=FastPathOptions(), explain=ExplainOptions())\n"
        "analyze(sys.argv[1], Path(sys.argv[2]), options, show_progress=False, drain_limit_s=0.01)\n"
    )
    cwd = Path(__file__).parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", script, str(GROUP_CLIP), str(out)], capture_output=True, text=True, cwd=cwd, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    events = jsonl(out / "events.jsonl")
    limit = [e for e in events if e["event"] == "explainer_drain_limit"]
    assert limit, "the explainer answered every window within 0.01 s: nothing to test"
    asked = sum(bool(e["invoke"]) for e in events if e["event"] == "gate")
    written = len(jsonl(out / "explanations.jsonl"))
    html = (out / "report.html").read_text()
    shown = counts_on_page(html)
    assert (shown["asked"], shown["written"], shown["unanswered"]) == (asked, written, limit[0]["unexplained"])
    assert json.loads((out / "session.json").read_text())["counts"]["explainer"]["not_answered"] == shown["unanswered"]
    assert f"{limit[0]['unexplained']} still waiting when the 0 s allowed for the explainer" in explanations_section(
        html
    )


# --- times ------------------------------------------------------------------------------------------------


def info_counts(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text())["counts"]


def test_times_and_duration_are_on_one_axis_from_the_session_start(session):
    html = (session / "report.html").read_text()
    info = json.loads((session / "session.json").read_text())
    rows = frame_rows(session)
    times = [float(r["time_s"]) for r in rows]
    last = max([*times, *(e["t"] for e in jsonl(session / "events.jsonl") if e["event"] == "stats")])
    duration = overview_field(html, "duration")
    assert float(re.search(r'data-seconds="([\d.]+)"', duration.group(1)).group(1)) == pytest.approx(last, abs=1e-3)
    assert duration.group(2) == f"{last:.1f} s"
    zero = overview_field(html, "zero")
    assert 'data-origin="0.0000"' in zero.group(1)  # a file: 0 s is its first frame
    assert datetime.fromisoformat(info["started"]).strftime("%Y-%m-%d %H:%M:%S") in zero.group(2)

    by_track: dict[int, list[float]] = {}  # by person: the page's sections are people
    for r in rows:
        by_track.setdefault(int(r["person"]), []).append(float(r["time_s"]))
    shown = in_view_on_page(html)
    assert set(shown) == set(by_track)
    for track, t in by_track.items():
        assert shown[track] == (round(min(t), 1), round(max(t), 1)), track
        assert 0.0 <= shown[track][0] <= shown[track][1] <= float(f"{last:.1f}")
    windows = [tuple(x["window"]) for x in jsonl(session / "explanations.jsonl")]
    assert explanation_windows_on_page(html) == [(round(a, 1), round(b, 1)) for a, b in windows]


def test_a_recording_that_began_mid_session_counts_its_time_from_its_own_start(session, tmp_path):
    """A live recording switched on 50 s into the session: frames carry session seconds, the first face comes
    3.7 s after Record was pressed. The page counts from the recording's first frame (the stats line tells
    when that was) and its duration is on the same axis."""
    shift, began = 53.7, 50.0
    header, *lines = (session / "frames.csv").read_text().splitlines()
    moved = [f"{float(t) + shift:.4f},{rest}" for t, rest in (line.split(",", 1) for line in lines)]
    events = jsonl(session / "events.jsonl")
    start = datetime.fromisoformat(events[0]["time"])
    # five seconds into the recording the recorder writes the frame's time and the wall clock
    periodic = {"time": (start + timedelta(seconds=5)).isoformat(), "event": "stats", "t": began + 5.0}

    def moved_event(e: dict) -> dict:
        e = dict(e)
        if "window" in e:
            e["window"] = [w + shift for w in e["window"]]
        if e["event"] == "stats":
            e["t"] += shift
        return e

    last_frame = max(float(line.split(",", 1)[0]) for line in lines) + shift

    def live(info):  # session.json as the recorder now writes it: its first and last frame's session times
        info["input"] = {"spec": "0", "camera": True, "loop": False}
        info["status"] = "recording stopped by user"
        info["counts"].update(first_frame_t=began, last_frame_t=last_frame)

    def live_older(info):  # a folder from before the recorder kept them: the stats lines tell
        live(info)
        del info["counts"]["first_frame_t"], info["counts"]["last_frame_t"]

    copy_events = [events[0], periodic, *(moved_event(e) for e in events[1:])]
    copy_explanations = [
        {**x, "window": [w + shift for w in x["window"]]} for x in jsonl(session / "explanations.jsonl")
    ]
    html = rerender(session, tmp_path, "live", live, copy_events, copy_explanations, [header, *moved])

    offset = shift - began  # the first face, seconds into the recording
    last = max(float(line.split(",", 1)[0]) for line in lines) + offset
    assert float(re.search(r'data-origin="([\d.]+)"', overview_field(html, "zero").group(1)).group(1)) == began
    assert overview_field(html, "duration").group(2) == f"{last:.1f} s"
    shown = in_view_on_page(html)
    assert shown and min(a for a, _ in shown.values()) == round(offset, 1)
    assert max(b for _, b in shown.values()) <= float(f"{last:.1f}")
    windows = [tuple(x["window"]) for x in jsonl(session / "explanations.jsonl")]
    assert explanation_windows_on_page(html) == [(round(a + offset, 1), round(b + offset, 1)) for a, b in windows]
    assert "53.7" not in text(html) and "57.9" not in text(html)  # no session seconds leak onto the page
    html = rerender(session, tmp_path, "older", live_older, copy_events, copy_explanations, [header, *moved])
    assert float(re.search(r'data-origin="([\d.]+)"', overview_field(html, "zero").group(1)).group(1)) == began

    # with no stats line but the closing one (a recording under 5 s), 0 s is the first frame the folder holds
    closing = [e for e in events if e["event"] == "stats"][-1]
    later = [moved_event(e) for e in events if e["event"] != "stats" or e is closing]
    html = rerender(session, tmp_path, "live2", live_older, later, copy_explanations, [header, *moved])
    assert min(a for a, _ in in_view_on_page(html).values()) == 0.0
    assert overview_field(html, "duration").group(2) == f"{last - offset:.1f} s"


# --- statuses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "css", "words", "warning"),
    [
        ("complete", "ok", "complete", None),
        ("stopped", "note", "stopped by you", None),
        ("recording stopped by user", "note", "recording stopped by you", None),
        ("failed: disk full", "bad", "failed: disk full", "ended early: failed: disk full"),
        ("running", "bad", "emolens repair", "did not close"),
    ],
)
def test_a_stop_the_user_asked_for_is_not_shown_as_a_failure(session, tmp_path, status, css, words, warning):
    html = rerender(session, tmp_path, "s", lambda info: info.update(status=status))
    shown_css, recorded, shown = status_on_page(html)
    assert (shown_css, recorded) == (css, status) and words in shown
    warnings = " ".join(text(w) for w in re.findall(r'<p class="warning">(.*?)</p>', html, re.S))
    assert (warning in warnings) if warning else not warnings


# --- people -----------------------------------------------------------------------------------------------


def test_people_seen_for_under_a_second_get_a_row_and_the_others_get_charts(tracks_session):
    html = (tracks_session / "report.html").read_text()
    by_track: dict[int, list[dict]] = {}
    for r in frame_rows(tracks_session):
        assert r["person_id"] == r["track_id"]  # re-identification off: each track is a person
        by_track.setdefault(int(r["person"]), []).append(r)
    seen = {t: max(float(r["time_s"]) for r in rs) - min(float(r["time_s"]) for r in rs) for t, rs in by_track.items()}
    brief = {t for t, s in seen.items() if s < 1.0}
    assert brief and len(brief) < len(seen), "the clip should have people seen briefly and people seen longer"

    short_rows = {int(k): v for v, k in re.findall(r'(<tr id="person-(\d+)" class="short"[^>]*>.*?</tr>)', html, re.S)}
    articles = {int(k): v for k, v in re.findall(r'<article id="person-(\d+)"(.*?)</article>', html, re.S)}
    assert set(short_rows) == brief and set(articles) == set(seen) - brief
    for track in brief:
        row = short_rows[track]
        labels = Counter(r["label"] for r in by_track[track])
        attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', row.split(">", 1)[0]))
        assert float(attrs["seen-s"]) == pytest.approx(seen[track], abs=1e-3)
        assert int(attrs["frames"]) == len(by_track[track]) and labels[attrs["label"]] == max(labels.values())
        cells = [text(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
        assert cells[0] == f"Person {track}" and cells[2] == f"{seen[track]:.2f} s"
        assert cells[3] == str(len(by_track[track])) and cells[4].split()[0] == attrs["label"]
        assert 'class="chart"' not in row  # no full-width chart: a small line per label over their own moment
    for track in set(seen) - brief:
        # probabilities and valence-like over the session, and the facial actions where any were read
        read = any(r["jaw_drop"] != "" for r in by_track[track])
        assert articles[track].count('class="chart"') == 2 + read


def test_each_persons_facial_actions_on_the_page_are_their_rows(session, tmp_path):
    """The counts under a person's facial actions are their frames.csv rows: frames with actions read, frames
    flagged as contradicting the label; and a session whose rows carry disagreements lists each stretch with
    the labels and readings the rows themselves carry."""
    html = (session / "report.html").read_text()
    rows = frame_rows(session)
    checked = 0
    for person, facts in re.findall(
        r'<article id="person-(\d+)".*?(<p class="facts" data-action-rows[^>]*>)', html, re.S
    ):
        own = [r for r in rows if r["person"] == person]
        read = sum(1 for r in own if r["jaw_drop"] != "")
        flagged = sum(1 for r in own if r["disagrees"] == "1")
        assert f'data-action-rows="{read}"' in facts and f'data-disagree-rows="{flagged}"' in facts
        checked += 1
    assert checked >= 2

    # the bundled clips are still photos: nothing moves, so nothing disagrees; mark a stretch in a copy
    copy = tmp_path / "copy"
    shutil.copytree(session, copy)
    person = next(r["track_id"] for r in rows if r["jaw_drop"] != "")
    marked = [r for r in rows if r["track_id"] == person and r["jaw_drop"] != ""][:6]
    for r in marked:
        r["disagrees"], r["action_label"] = "1", "happy"
    with open(copy / "frames.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k in rows[0] if k != "person"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (copy / "frames.parquet").unlink()
    write_report(copy)
    page = (copy / "report.html").read_text()
    stretch = re.search(r'<ul class="disagreements"><li data-start="([\d.]+)" data-end="([\d.]+)">(.*?)</li>', page)
    assert stretch, "the marked stretch is not listed"
    assert float(stretch.group(1)) == pytest.approx(float(marked[0]["time_s"]), abs=1e-3)
    assert float(stretch.group(2)) == pytest.approx(float(marked[-1]["time_s"]), abs=1e-3)
    labels = Counter(r["label"] for r in marked).most_common(1)[0][0]
    assert f"labelled <b>{labels}</b>, the actions show <b>happy</b> (6 frames)" in stretch.group(3)


def test_rows_of_faces_never_identified_are_counted_not_made_into_people(session, tmp_path):
    """A track that ended before anyone could tell who it was keeps no person: the page counts its rows apart and
    gives it no section of its own."""
    lines = (session / "frames.csv").read_text().splitlines()
    header = lines[0].split(",")
    person, track = header.index("person_id"), header.index("track_id")
    rows = [line.split(",") for line in lines[1:]]
    brief = max(int(r[track]) for r in rows)
    for r in rows:
        if int(r[track]) == brief:
            r[person] = ""
    events = [e for e in jsonl(session / "events.jsonl") if not (e["event"] == "person" and e["track_id"] == brief)]
    html = rerender(session, tmp_path, "unidentified", events=events, frames=[lines[0]] + [",".join(r) for r in rows])
    blank = sum(1 for r in rows if int(r[track]) == brief)
    people = {r[person] for r in rows if r[person]}
    words = text(overview_field(html, "people").group(2))
    assert words.startswith(f"{len(people)} (seen as") and f"; {blank} rows of faces seen too briefly" in words
    assert len(re.findall(r'id="person-\d+"', html)) == len(people)
