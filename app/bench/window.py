"""`emolens bench CLIP --app`: the real window on a looped clip, painted frame rate with the explainer off and on.

Each run starts a session in the real MainWindow (Qt offscreen unless a display
is set), waits until the explainer, when on, has loaded, then counts for a
fixed time: frames the fast path processed, distinct frames painted, the
capture-to-paint delay (paced runs), and how much of the time the explainer was busy.
Paced, the clip plays at its own rate as a camera would; unpaced, the fast path
takes frames as fast as it can, a stress run with no spare core on a small machine.
Runs alternate off/on so that drift on the machine hits both alike.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import replace

from capture import clock
from engines.pipeline import ExplainOptions, FastPathOptions
from engines.slow.gate import GateSettings
from engines.summary_stats import percentile

# The explainer kept busy: a face is explained again every second, up to 120 a minute.
BUSY_GATE = replace(GateSettings(), stale_s=1.0, max_per_minute=120)


def _run_once(app, window_cls, store, prefs, pace: bool, gate: GateSettings, seconds: float, warmup_s: float) -> dict:
    window = window_cls(store, replace(prefs, loop_file=True))
    explain = window.control.config().explain
    window.control.config_overrides = {"pace": pace, "explain": replace(explain, gate=gate) if explain else None}
    window.resize(1280, 720)
    window.show()
    delays: list[float] = []
    window.control.start()
    session = window.control.session

    def pump(until: float) -> None:
        while time.monotonic() < until:
            app.processEvents()
            time.sleep(0.001)

    deadline = time.monotonic() + 120
    while prefs.explainer and session.explainer_state == "loading" and time.monotonic() < deadline:
        pump(time.monotonic() + 0.1)
    pump(time.monotonic() + warmup_s)
    if pace:  # a paced frame carries the clock reading of its hand-over; an unpaced one is pulled, not captured
        window.video.on_painted = lambda captured: delays.append((clock.now() - captured) * 1000)
    painted0, processed0, explained0 = window.video.painted, session.counts["processed"], window.explanations.count()
    busy = samples = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        pump(min(end, time.monotonic() + 0.05))
        busy += session.explainer_state == "busy"
        samples += 1
    elapsed = time.monotonic() - start
    window.video.on_painted = None
    result = {
        "painted_fps": (window.video.painted - painted0) / elapsed,
        "processed_fps": (session.counts["processed"] - processed0) / elapsed,
        "explanations": window.explanations.count() - explained0,
        "explainer_busy_share": busy / samples if samples else 0.0,
        "capture_to_paint_ms_p50": statistics.median(delays) if delays else float("nan"),
        "capture_to_paint_ms_p95": percentile(delays, 95),
        "dropped": session.counts["dropped"],
    }
    window.close()
    app.processEvents()
    return result


def bench_app(
    spec: str,
    options: FastPathOptions,
    explain: ExplainOptions,
    seconds: float = 20.0,
    repeats: int = 2,
    warmup_s: float = 2.0,
) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    from app.gui.launch import make_application
    from app.gui.main_window import MainWindow
    from app.gui.preferences import Preferences, PreferencesStore

    app = make_application()
    store = PreferencesStore(Path(tempfile.mkdtemp(prefix="emolens-bench-")) / "emolens.ini")
    base = Preferences(
        source=spec, detect_every=options.detection_interval, smoothing_s=options.smoothing_s, llm=explain.llm or ""
    )
    modes = {
        "off": (replace(base, explainer=False), GateSettings()),
        "gated": (base, GateSettings()),
        "busy": (base, BUSY_GATE),
    }
    report: dict = {"input": spec, "platform": app.platformName(), "seconds": seconds, "repeats": repeats, "runs": {}}
    for pace in (True, False):
        key = "paced" if pace else "unpaced"
        runs: dict[str, list[dict]] = {m: [] for m in modes}
        for r in range(repeats):
            for mode, (prefs, gate) in modes.items():
                print(f"{key} {mode} run {r + 1}/{repeats} ({seconds:.0f} s)...", file=sys.stderr)
                runs[mode].append(_run_once(app, MainWindow, store, prefs, pace, gate, seconds, warmup_s))
        summary = {}
        for mode, results in runs.items():
            summary[mode] = {k: statistics.median(r[k] for r in results) for k in results[0]}
            summary[mode]["runs"] = results
        off = summary["off"]
        for mode in ("gated", "busy"):
            summary[mode]["painted_vs_off"] = summary[mode]["painted_fps"] / off["painted_fps"]
            summary[mode]["painted_vs_fast_path_off"] = summary[mode]["painted_fps"] / off["processed_fps"]
        report["runs"][key] = summary
    return report


def format_app_report(report: dict) -> str:
    lines = [f"app bench on {report['input']} (Qt platform {report['platform']}, medians of {report['repeats']} runs)"]
    for key, summary in report["runs"].items():
        lines.append(f"  {key}:")
        for mode, s in summary.items():
            ratio = f", painted/off {s['painted_vs_off']:.3f}" if "painted_vs_off" in s else ""
            lines.append(
                f"    explainer {mode:5s}: painted {s['painted_fps']:6.1f} fps, "
                f"processed {s['processed_fps']:6.1f} fps, "
                f"capture->paint p50 {s['capture_to_paint_ms_p50']:.1f} ms p95 {s['capture_to_paint_ms_p95']:.1f} ms, "
                f"explainer busy {s['explainer_busy_share']:.0%}, {s['explanations']:.0f} explanations{ratio}"
            )
    return "\n".join(lines)
