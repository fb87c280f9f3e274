"""A person's facial actions in report.html: their timelines, blink rate, and where the actions disagreed.

Every figure is read from the person's frames.csv rows: the lines are the
recorded values, the blink rate is the last one recorded, and each stretch of
disagreement is a run of rows flagged `disagrees` (gaps under `join_s` joined),
with the labels the rows themselves carry.
"""

from __future__ import annotations

from collections import Counter
from html import escape

import numpy as np

from export.report_charts import Series, line_chart

# The actions drawn, and their colours: the EMFACS units the prototypes use most.
CHARTED = (
    ("lip_corner_pull", "lip corners up", "#e6a817"),
    ("cheek_raise", "cheeks up", "#d9534f"),
    ("inner_brow_raise", "inner brows up", "#2d6cdf"),
    ("brow_lowering", "brows down", "#6f42c1"),
    ("jaw_drop", "jaw dropped", "#20a386"),
    ("lip_press", "lips pressed", "#7a7a7a"),
)
LIMIT = 12.0  # the chart's y range, in percent of the eye spacing; larger values are drawn at its edge


def disagreement_spans(
    t: np.ndarray, flags: np.ndarray, labels: np.ndarray, readings: np.ndarray, join_s: float = 0.25
) -> list[dict]:
    """Runs of rows whose actions contradicted their label: start, end, rows, and the most common label and
    reading among them."""
    spans: list[dict] = []
    for time, flag, label, reading in zip(t, flags, labels, readings, strict=True):
        if not flag:
            continue
        if spans and time - spans[-1]["end"] <= join_s:
            span = spans[-1]
            span["end"] = float(time)
        else:
            span = {"start": float(time), "end": float(time), "labels": Counter(), "readings": Counter()}
            spans.append(span)
        span["labels"][str(label)] += 1
        span["readings"][str(reading)] += 1
    return [
        {
            "start": s["start"],
            "end": s["end"],
            "rows": sum(s["labels"].values()),
            "label": s["labels"].most_common(1)[0][0],
            "actions": s["readings"].most_common(1)[0][0],
        }
        for s in spans
    ]


def person_actions(f: dict[str, np.ndarray], x_range: tuple[float, float]) -> str:
    """The section for one person; empty when their rows carry no facial actions (no mesh, an older file)."""
    if "jaw_drop" not in f:
        return ""
    jaw = np.asarray(f["jaw_drop"], dtype=np.float64)
    measured = ~np.isnan(jaw)
    if not measured.any():
        return ""
    t = np.asarray(f["time_s"], dtype=np.float64)
    flags = np.array([bool(x) for x in f["disagrees"]])
    spans = disagreement_spans(t, flags, f["label"], f["action_label"])
    rates = np.asarray(f["blink_rate"], dtype=np.float64)
    rates = rates[~np.isnan(rates)]
    blinks = f"{rates[-1]:.0f} blinks per minute over their last minute in view" if len(rates) else "not a minute seen"
    share = float(flags[measured].mean())
    facts = (
        f'<p class="facts" data-action-rows="{int(measured.sum())}" data-disagree-rows="{int(flags.sum())}">'
        f"Facial actions read on {int(measured.sum())} of {len(t)} frames; blink rate: {blinks}; the actions "
        f"contradicted the label on {int(flags.sum())} frames ({share:.0%} of those read)"
        + ("." if not spans else ":")
        + "</p>"
    )
    if spans:
        facts += (
            '<ul class="disagreements">'
            + "".join(
                f'<li data-start="{s["start"]:.3f}" data-end="{s["end"]:.3f}">{_span(s["start"], s["end"])}: '
                f"labelled <b>{escape(s['label'])}</b>, the actions show <b>{escape(s['actions'])}</b> "
                f"({s['rows']} frame{'s' * (s['rows'] != 1)})</li>"
                for s in spans
            )
            + "</ul>"
        )
    series = [
        Series(name, color, t[measured], np.clip(np.asarray(f[key], np.float64)[measured], -LIMIT, LIMIT))
        for key, name, color in CHARTED
    ]
    legend = " ".join(f'<span class="key"><b style="color:{c}">&#9644;</b> {n}</span>&nbsp; ' for _, n, c in CHARTED)
    return (
        "<h4>Facial actions: percent of the eye spacing, against this person's own neutral</h4>"
        + facts
        + f'<p class="legend">{legend}</p>'
        + line_chart(series, x_range, (-LIMIT, LIMIT), height=150, y_ticks=(-LIMIT, 0.0, LIMIT))
    )


def _span(start: float, end: float) -> str:
    """ "7.7 s" for a moment, "7.7-8.3 s" for a stretch (not "7.7-7.7 s")."""
    a, b = f"{start:.1f}", f"{end:.1f}"
    return f"{a} s" if a == b else f"{a}-{b} s"
