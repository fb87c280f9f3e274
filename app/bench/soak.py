"""`emolens bench CLIP --soak SECONDS`: the live session left running, to see whether anything grows.

The app's and the kiosk's session (`LiveSession`) plays the clip in a loop as a
camera would, with the explainer and the recorder on (a kiosk runs for weeks).
Every few seconds it samples the process: resident memory, open file
descriptors, threads, and the size of every table and queue the session holds.
After a warm-up it fits a line to each and reports the slope per hour. A leak
shows as a slope that stays when the run is longer; noise does not.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from engines.errors import EmolensError
from engines.pipeline import ExplainOptions, FastPathOptions
from engines.summary_stats import slope_per_hour


def process_sample() -> dict[str, float]:
    """This process's resident memory (MB), open file descriptors and threads, from /proc. Resident memory is
    split as the kernel counts it: anonymous (the heap: what a leak grows) and file-backed (library code and
    mapped models paged in as code paths are first taken: bounded); `py_blocks` counts Python's live objects."""
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as f:
        rss_mb = int(f.read().split()[1]) * page / 2**20
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)

    def kib_as_mb(key: str) -> float:
        return int(status.get(key, "0 kB").split()[0]) / 1024

    return {
        "rss_mb": rss_mb,
        "rss_anon_mb": kib_as_mb("RssAnon"),
        "rss_file_mb": kib_as_mb("RssFile") + kib_as_mb("RssShmem"),
        "py_blocks": sys.getallocatedblocks(),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": int(status["Threads"]),
    }


class _Quiet:
    """A listener that paints nothing: the session's own costs, not a window's."""

    def __init__(self) -> None:
        self.explanations = 0
        self.failure: str | None = None
        self.lock = threading.Lock()

    def on_explanation(self, item) -> None:
        with self.lock:
            self.explanations += 1

    def on_state(self, state) -> None:
        if state.phase == "failed":
            self.failure = state.detail

    def __getattr__(self, name):
        return lambda *args: None


def bench_soak(
    spec: str,
    options: FastPathOptions,
    explain: ExplainOptions,
    seconds: float,
    every_s: float = 5.0,
    warmup_s: float | None = None,
    progress=lambda line: print(line, file=sys.stderr),
) -> dict:
    from app.live_session import LiveSession, RecordingPlan, SessionConfig

    warmup = warmup_s if warmup_s is not None else min(120.0, seconds / 5)
    folder = Path(tempfile.mkdtemp(prefix="emolens-soak-"))
    listener = _Quiet()
    config = SessionConfig(spec, camera=False, loop=True, pace=True, fast=options, explain=explain)
    session = LiveSession(config, listener, RecordingPlan(folder, daily=True), record=True).start()
    deadline = time.monotonic() + 180
    while session.explainer_state == "loading" and time.monotonic() < deadline and session.running:
        time.sleep(0.2)
    samples: list[dict] = []
    start = time.monotonic()
    try:
        while (now := time.monotonic()) - start < seconds and session.running:
            samples.append({"t": round(now - start, 2), **process_sample(), **session.sizes(), **session.counts})
            if len(samples) % max(1, int(60 / every_s)) == 1:
                s = samples[-1]
                progress(
                    f"{s['t']:.0f} s: RSS {s['rss_mb']:.1f} MB, {s['fds']} fds, {s['threads']} threads, "
                    f"{s['processed']} frames, {listener.explanations} explanations"
                )
            time.sleep(every_s)
    finally:
        session.stop()
    if not samples:
        raise EmolensError(f"the live session stopped before the soak began: {listener.failure or 'no reason given'}")
    after = [s for s in samples if s["t"] >= warmup]
    t = [s["t"] for s in after]
    keys = [k for k in samples[0] if k != "t"] if samples else []
    slopes = {k: round(slope_per_hour(t, [s[k] for s in after]), 3) for k in keys}
    growing = {
        k: v
        for k, v in slopes.items()
        if k
        not in (
            "processed",
            "dropped",
            "explanations",
            "reconnects",
            "rss_mb",
            "rss_anon_mb",
            "rss_file_mb",
            "py_blocks",
        )
        and v > 0
        and _grew(after, k)
    }
    return {
        "input": spec,
        "seconds": round(samples[-1]["t"], 1) if samples else 0.0,
        "warmup_s": warmup,
        "samples": len(samples),
        "rss_mb_first_after_warmup": round(after[0]["rss_mb"], 2) if after else None,
        "rss_mb_last": round(samples[-1]["rss_mb"], 2) if samples else None,
        "slope_per_hour": slopes,
        "growing": growing,
        "frames": samples[-1]["processed"] if samples else 0,
        "explanations": listener.explanations,
        "recording": str(folder),
        "trace": samples,
    }


def _grew(samples: list[dict], key: str) -> bool:
    """A table grows when its last quarter sits above its first: a line through flat noise is not growth."""
    n = max(1, len(samples) // 4)
    first, last = [s[key] for s in samples[:n]], [s[key] for s in samples[-n:]]
    return min(last) > max(first)


def format_soak_report(r: dict) -> str:
    s = r["slope_per_hour"]
    lines = [
        f"soak on {r['input']}: {r['seconds']} s, {r['samples']} samples (slopes after {r['warmup_s']:.0f} s)",
        f"  RSS {r['rss_mb_first_after_warmup']} -> {r['rss_mb_last']} MB, slope {s.get('rss_mb', 0):+.2f} MB/hour "
        f"(anonymous {s.get('rss_anon_mb', 0):+.2f}, file-backed {s.get('rss_file_mb', 0):+.2f}; "
        f"Python objects {s.get('py_blocks', 0):+.0f}/hour)",
        f"  fds {s.get('fds', 0):+.2f}/hour, threads {s.get('threads', 0):+.2f}/hour; "
        f"{r['frames']} frames, {r['explanations']} explanations",
        "  tables and queues: "
        + (", ".join(f"{k} {v:+.1f}/hour" for k, v in r["growing"].items()) if r["growing"] else "none grew"),
    ]
    return "\n".join(lines)
